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
	b := brokertest.Start(t, broker.Options{})
	watcher, _ := connect5(t, b.Addr, "watcher", true, nil)
	subscribe5(t, watcher, 0, packets.Subscription{Filter: "wills/#"})

	// Delayed, then sent.
	c, _ := connect5(t, b.Addr, "delayed", true, withWill("wills/delayed", 1, 60))
	c.Net.Close()
	start := time.Now()
	watcher.Timeout = 5 * time.Second
	p := expectPublish(t, watcher)
	if waited := time.Since(start); p.Topic != "wills/delayed" || waited < 800*time.Millisecond {
		t.Fatalf("got %q after %v, want wills/delayed after about 1s", p.Topic, waited)
	}
	if p.Properties.ContentType != "text/plain" || p.Properties.Has(packets.PropWillDelay) {
		t.Fatalf("will properties not carried as they should be: %+v", p.Properties)
	}

	// Resumed within the delay: never sent.
	c, _ = connect5(t, b.Addr, "resumed", true, withWill("wills/resumed", 2, 60))
	c.Net.Close()
	waitFor(t, func() bool { return b.Server.Stats().ClientsConnected == 1 })
	connect5(t, b.Addr, "resumed", false, withExpiry(60))
	expectNothingFor(t, watcher, 2500*time.Millisecond)

	// The session (1 s) ends before the delay (60 s): sent at its end.
	c, _ = connect5(t, b.Addr, "short", true, withWill("wills/short", 60, 1))
	c.Net.Close()
	start = time.Now()
	if p := expectPublish(t, watcher); p.Topic != "wills/short" || time.Since(start) > 3*time.Second {
		t.Fatalf("got %q after %v, want wills/short at the session's end", p.Topic, time.Since(start))
	}
}
