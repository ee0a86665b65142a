package logging

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestSwapHandler: a logger derived before a swap, with attributes and a
// group, writes through the handler swapped in, carrying both.
func TestSwapHandler(t *testing.T) {
	var before, after bytes.Buffer
	sw := NewSwapHandler(slog.NewTextHandler(&before, nil))
	log := slog.New(sw).With("client", "c1").WithGroup("g")
	log.Info("one", "k", 1)
	sw.Swap(slog.NewTextHandler(&after, &slog.HandlerOptions{Level: slog.LevelWarn}))
	log.Info("dropped")
	log.Warn("two", "k", 2)
	if got := before.String(); !strings.Contains(got, "msg=one client=c1 g.k=1") {
		t.Errorf("before the swap: %q", got)
	}
	if got := after.String(); strings.Contains(got, "dropped") || !strings.Contains(got, "msg=two client=c1 g.k=2") {
		t.Errorf("after the swap: %q", got)
	}
}
