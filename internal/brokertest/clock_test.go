package brokertest

import (
	"testing"
	"time"
)

// A Clock fires a timer only once Advance reaches it, never a stopped one,
// and ticks a ticker once per Advance that passes one or more ticks.
func TestClock(t *testing.T) {
	c := NewClock()
	start := c.Now()
	fired := make(chan string, 3)
	c.AfterFunc(2*time.Second, func() { fired <- "two" })
	stopped := c.AfterFunc(time.Second, func() { fired <- "stopped" })
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop should report true once, then false")
	}
	tick := c.NewTicker(time.Second)

	c.Advance(1500 * time.Millisecond)
	select {
	case f := <-fired:
		t.Fatalf("%s fired at 1.5s", f)
	case <-time.After(20 * time.Millisecond):
	}
	if got := <-tick.C(); !got.Equal(start.Add(1500 * time.Millisecond)) {
		t.Fatalf("tick at %v, want the clock's time", got.Sub(start))
	}
	c.Advance(3 * time.Second) // two ticks due: one is sent
	if f := <-fired; f != "two" {
		t.Fatalf("fired %s", f)
	}
	<-tick.C()
	select {
	case <-tick.C():
		t.Fatal("a missed tick was queued")
	default:
	}
	tick.Stop()
	c.Advance(time.Hour)
	select {
	case <-tick.C():
		t.Fatal("a stopped ticker ticked")
	case <-time.After(20 * time.Millisecond):
	}
	if got := c.Now().Sub(start); got != time.Hour+4500*time.Millisecond {
		t.Fatalf("clock moved %v", got)
	}
}
