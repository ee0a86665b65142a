package logging

import (
	"context"
	"log/slog"
	"sync/atomic"
)

// SwapHandler is an slog.Handler whose destination can be replaced while
// the broker runs: a reload applies new logging options to the logger the
// broker already holds.
type SwapHandler struct {
	cur *atomic.Pointer[slog.Handler]
	// derive is what WithAttrs and WithGroup asked for, in order; it is
	// applied to the current handler at each line.
	derive []func(slog.Handler) slog.Handler
}

// NewSwapHandler returns a SwapHandler that writes to h until Swap
// replaces it.
func NewSwapHandler(h slog.Handler) *SwapHandler {
	cur := new(atomic.Pointer[slog.Handler])
	cur.Store(&h)
	return &SwapHandler{cur: cur}
}

// Swap makes h the destination of every logger derived from this one.
func (s *SwapHandler) Swap(h slog.Handler) { s.cur.Store(&h) }

func (s *SwapHandler) handler() slog.Handler {
	h := *s.cur.Load()
	for _, d := range s.derive {
		h = d(h)
	}
	return h
}

// Enabled asks the current handler.
func (s *SwapHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return (*s.cur.Load()).Enabled(ctx, level)
}

// Handle writes r through the current handler, with this handler's
// attributes and groups.
func (s *SwapHandler) Handle(ctx context.Context, r slog.Record) error {
	return s.handler().Handle(ctx, r)
}

// WithAttrs returns a handler whose lines carry attrs, whatever handler
// is current when they are written.
func (s *SwapHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return s.with(func(h slog.Handler) slog.Handler { return h.WithAttrs(attrs) })
}

// WithGroup returns a handler that qualifies later attributes with name,
// whatever handler is current when they are written.
func (s *SwapHandler) WithGroup(name string) slog.Handler {
	return s.with(func(h slog.Handler) slog.Handler { return h.WithGroup(name) })
}

func (s *SwapHandler) with(d func(slog.Handler) slog.Handler) *SwapHandler {
	derive := append(s.derive[:len(s.derive):len(s.derive)], d)
	return &SwapHandler{cur: s.cur, derive: derive}
}
