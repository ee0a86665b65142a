package brokertest

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Log keeps the messages of the log lines a broker writes, for tests of
// what it says. It is an slog.Handler that records the message of each
// line at or above its level and drops the attributes.
type Log struct {
	level slog.Level
	mu    sync.Mutex
	lines []string
}

// NewLog returns a logger for broker.Options.Logger and the Log it writes
// to.
func NewLog(level slog.Level) (*slog.Logger, *Log) {
	l := &Log{level: level}
	return slog.New(l), l
}

func (l *Log) Enabled(_ context.Context, level slog.Level) bool { return level >= l.level }

func (l *Log) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.lines = append(l.lines, r.Message)
	l.mu.Unlock()
	return nil
}

func (l *Log) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *Log) WithGroup(string) slog.Handler      { return l }

// Lines returns the messages so far.
func (l *Log) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}

// WaitFor waits up to five seconds for want to be among the messages, in
// that order: each one after the previous, other lines between them.
func (l *Log) WaitFor(t testing.TB, want ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		missing := l.missing(want)
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("log line %q not found in order; the log:\n%s", missing, strings.Join(l.Lines(), "\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// missing returns the first of want not found in order, or "".
func (l *Log) missing(want []string) string {
	lines := l.Lines()
	i := 0
	for _, w := range want {
		for i < len(lines) && lines[i] != w {
			i++
		}
		if i == len(lines) {
			return w
		}
		i++
	}
	return ""
}
