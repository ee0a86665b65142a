package bridge_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/internal/bridge"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/packets"
)

// counter is a client on addr subscribed to filter at qos that counts what
// it receives and says when it has n.
type counter struct {
	got  atomic.Int64
	want atomic.Int64
	done chan struct{}
	once sync.Once
}

func countOn(b *testing.B, addr, filter string, qos byte) *counter {
	b.Helper()
	c := &counter{done: make(chan struct{})}
	cl, err := client.Dial(context.Background(), client.Options{Addr: addr, ClientID: "counter", CleanStart: true,
		Version: packets.V311, OnMessage: func(*packets.Publish) {
			if n := c.got.Add(1); n == c.want.Load() {
				c.once.Do(func() { close(c.done) })
			}
		}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cl.Close() })
	if _, err := cl.Subscribe(context.Background(), packets.Subscription{Filter: filter, QoS: qos}); err != nil {
		b.Fatal(err)
	}
	return c
}

func (c *counter) wait(b *testing.B) {
	b.Helper()
	select {
	case <-c.done:
	case <-time.After(60 * time.Second):
		b.Fatalf("%d of %d messages crossed the bridge", c.got.Load(), c.want.Load())
	}
}

func benchBridge(b *testing.B) (local, remote *brokertest.Broker, br *bridge.Bridge) {
	b.Helper()
	remote = brokertest.Start(b, broker.Options{MaxQueued: broker.Unlimited})
	local = brokertest.Start(b, broker.Options{MaxQueued: broker.Unlimited})
	tp, err := bridge.ParseTopic([]string{"bench/#", "out", "1"})
	if err != nil {
		b.Fatal(err)
	}
	br = bridge.Start(local.Server, options(remote.Addr, []bridge.Topic{tp}))
	b.Cleanup(func() { br.Stop(false) })
	for !br.Stats().Connected {
		time.Sleep(5 * time.Millisecond)
	}
	return local, remote, br
}

// publishAll publishes n QoS 1 messages on local from 16 clients at once.
func publishAll(b *testing.B, addr string, n int) {
	b.Helper()
	const publishers = 16
	var wg sync.WaitGroup
	payload := make([]byte, 64)
	for p := range publishers {
		c, err := client.Dial(context.Background(), client.Options{Addr: addr, ClientID: "pub" + string(rune('a'+p)),
			CleanStart: true, Version: packets.V311})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		count := n / publishers
		if p < n%publishers {
			count++
		}
		wg.Go(func() {
			for range count {
				if err := c.Publish(context.Background(), &packets.Publish{Topic: "bench/t", QoS: 1, Payload: payload}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// Forwarding over one bridge at QoS 1: 16 publishers on the local broker,
// one subscriber on the remote; a message is done when the subscriber has
// it.
func BenchmarkForwardQoS1(b *testing.B) {
	local, remote, _ := benchBridge(b)
	c := countOn(b, remote.Addr, "bench/#", 1)
	b.ReportAllocs()
	c.want.Store(int64(b.N))
	b.ResetTimer()
	publishAll(b, local.Addr, b.N)
	c.wait(b)
}

// Draining a backlog: b.N QoS 1 messages queued in the bridge's local
// session while the bridge is away, timed from its return until the
// remote's subscriber has them all.
func BenchmarkDrainQueued(b *testing.B) {
	local, remote, br := benchBridge(b)
	c := countOn(b, remote.Addr, "bench/#", 1)
	c.want.Store(int64(b.N))
	o := br.Options()
	br.Stop(false)
	publishAll(b, local.Addr, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	br = bridge.Start(local.Server, o)
	b.Cleanup(func() { br.Stop(false) })
	c.wait(b)
}
