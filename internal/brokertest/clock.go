package brokertest

import (
	"sync"
	"time"

	"github.com/midge-mqtt/midge/broker"
)

// Clock is a broker.Clock that moves only when the test says so: Advance
// moves it on and fires what fell due, so a test of a keep alive, an
// expiry or a will delay takes no time. The zero value is not usable; call
// NewClock.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*clockTimer
	tickers []*clockTicker
}

// NewClock returns a Clock at the present time.
func NewClock() *Clock { return &Clock{now: time.Now()} }

func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on by d. Each timer that falls due calls its
// function on a goroutine of its own, as time.AfterFunc does, in the order
// they are due; each ticker due one or more ticks gets one, as a slow
// reader of a time.Ticker does.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	now := c.now
	var due []*clockTimer
	kept := c.timers[:0]
	for _, t := range c.timers {
		if !t.at.After(now) {
			due = append(due, t)
		} else {
			kept = append(kept, t)
		}
	}
	clear(c.timers[len(kept):])
	c.timers = kept
	for _, t := range c.tickers {
		if !t.next.After(now) {
			for !t.next.After(now) {
				t.next = t.next.Add(t.every)
			}
			select {
			case t.c <- now:
			default:
			}
		}
	}
	c.mu.Unlock()
	for i := 1; i < len(due); i++ { // by due time; the list is short
		for j := i; j > 0 && due[j].at.Before(due[j-1].at); j-- {
			due[j], due[j-1] = due[j-1], due[j]
		}
	}
	for _, t := range due {
		go t.f()
	}
}

// Pending is the number of timers waiting for the clock to reach them: a
// test waits for the broker to have started one before advancing past it.
func (c *Clock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

func (c *Clock) AfterFunc(d time.Duration, f func()) broker.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &clockTimer{clock: c, at: c.now.Add(d), f: f}
	if d <= 0 {
		go f()
		return t
	}
	c.timers = append(c.timers, t)
	return t
}

func (c *Clock) NewTicker(d time.Duration) broker.Ticker {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &clockTicker{clock: c, every: d, next: c.now.Add(d), c: make(chan time.Time, 1)}
	c.tickers = append(c.tickers, t)
	return t
}

type clockTimer struct {
	clock *Clock
	at    time.Time
	f     func()
}

// Stop removes the timer; it reports whether it was still pending.
func (t *clockTimer) Stop() bool {
	c := t.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, p := range c.timers {
		if p == t {
			c.timers = append(c.timers[:i], c.timers[i+1:]...)
			return true
		}
	}
	return false
}

type clockTicker struct {
	clock *Clock
	every time.Duration
	next  time.Time
	c     chan time.Time
}

func (t *clockTicker) C() <-chan time.Time { return t.c }

// Reset makes the ticker tick every d from now on.
func (t *clockTicker) Reset(d time.Duration) {
	c := t.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	t.every, t.next = d, c.now.Add(d)
}

func (t *clockTicker) Stop() {
	c := t.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, p := range c.tickers {
		if p == t {
			c.tickers = append(c.tickers[:i], c.tickers[i+1:]...)
			return
		}
	}
}
