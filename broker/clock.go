package broker

import "time"

// Clock is the time the broker goes by for keep alive, session and message
// expiry, will delay, the memory sampler and $SYS. Options.Clock nil is
// the system's clock; tests inject one they move by hand
// (internal/brokertest.Clock), so that what takes minutes for a client
// takes no time for a test. Network deadlines (the CONNECT timeout, write
// deadlines) stay on the system's clock: the kernel keeps them.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f on its own goroutine once d has passed.
	AfterFunc(d time.Duration, f func()) Timer
	// NewTicker sends the time on its channel every d, dropping ticks a
	// slow reader misses, as time.Ticker does.
	NewTicker(d time.Duration) Ticker
}

// Timer is a pending AfterFunc; Stop reports whether it stopped the call.
type Timer interface {
	Stop() bool
}

// Ticker is a running NewTicker.
type Ticker interface {
	C() <-chan time.Time
	Reset(d time.Duration)
	Stop()
}

// systemClock is the time package's clock.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

func (systemClock) NewTicker(d time.Duration) Ticker { return systemTicker{time.NewTicker(d)} }

type systemTicker struct{ *time.Ticker }

func (t systemTicker) C() <-chan time.Time { return t.Ticker.C }
