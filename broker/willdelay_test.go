package broker_test

import (
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/packets"
)

// A will with a delay waits that long after the connection is lost, and
// carries its properties; one whose session is resumed in time is never
// sent; one whose session ends first goes when the session ends.
func TestWillDelay(t *testing.T) {
	t.Parallel()
	clock := brokertest.NewClock()
	b := brokertest.Start(t, broker.Options{Clock: clock})
	watcher, _ := connect5(t, b.Addr, "watcher", true, nil)
	subscribe5(t, watcher, 0, packets.Subscription{Filter: "wills/#"})

	// Delayed, then sent.
	c, _ := connect5(t, b.Addr, "delayed", true, withWill("wills/delayed", 1, 60))
	c.Net.Close()
	waitFor(t, func() bool { return clock.Pending() == 2 }) // the will's delay and the session's expiry
	clock.Advance(999 * time.Millisecond)
	expectNothing(t, watcher)
	clock.Advance(time.Millisecond)
	p := expectPublish(t, watcher)
	if p.Topic != "wills/delayed" {
		t.Fatalf("got %q, want wills/delayed after its 1 s delay", p.Topic)
	}
	if p.Properties.ContentType != "text/plain" || p.Properties.Has(packets.PropWillDelay) {
		t.Fatalf("will properties not carried as they should be: %+v", p.Properties)
	}

	// Resumed within the delay: never sent.
	c, _ = connect5(t, b.Addr, "resumed", true, withWill("wills/resumed", 2, 60))
	c.Net.Close()
	waitFor(t, func() bool { return clock.Pending() == 3 })
	connect5(t, b.Addr, "resumed", false, withExpiry(60))
	clock.Advance(3 * time.Second)
	expectNothing(t, watcher)

	// The session (1 s) ends before the delay (60 s): sent at its end.
	c, _ = connect5(t, b.Addr, "short", true, withWill("wills/short", 60, 1))
	c.Net.Close()
	waitFor(t, func() bool { return clock.Pending() == 3 }) // and the first session's
	expectNothing(t, watcher)
	clock.Advance(time.Second)
	if p := expectPublish(t, watcher); p.Topic != "wills/short" {
		t.Fatalf("got %q, want wills/short at the session's end", p.Topic)
	}
}
