package cli

import (
	"context"
	"log/slog"
	"sync/atomic"
)

// swapHandler is an slog.Handler whose destination can be replaced while
// the broker runs: a reload applies new logging options to the logger the
// broker already holds.
type swapHandler struct {
	cur *atomic.Pointer[slog.Handler]
	// derive is what WithAttrs and WithGroup asked for, in order; it is
	// applied to the current handler at each line.
	derive []func(slog.Handler) slog.Handler
}

func newSwapHandler(h slog.Handler) *swapHandler {
	cur := new(atomic.Pointer[slog.Handler])
	cur.Store(&h)
	return &swapHandler{cur: cur}
}

// swap makes h the destination of every logger derived from this one.
func (s *swapHandler) swap(h slog.Handler) { s.cur.Store(&h) }

func (s *swapHandler) handler() slog.Handler {
	h := *s.cur.Load()
	for _, d := range s.derive {
		h = d(h)
	}
	return h
}

func (s *swapHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return (*s.cur.Load()).Enabled(ctx, level)
}

func (s *swapHandler) Handle(ctx context.Context, r slog.Record) error {
	return s.handler().Handle(ctx, r)
}

func (s *swapHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return s.with(func(h slog.Handler) slog.Handler { return h.WithAttrs(attrs) })
}

func (s *swapHandler) WithGroup(name string) slog.Handler {
	return s.with(func(h slog.Handler) slog.Handler { return h.WithGroup(name) })
}

func (s *swapHandler) with(d func(slog.Handler) slog.Handler) *swapHandler {
	derive := append(s.derive[:len(s.derive):len(s.derive)], d)
	return &swapHandler{cur: s.cur, derive: derive}
}
