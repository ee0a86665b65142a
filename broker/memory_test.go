package broker_test

import (
	"fmt"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/packets"
)

// fakeHeap stands in for the live heap under memory_limit: other bytes set
// by the test plus the retained messages the broker holds, as a
// collection would find them. It counts how often the broker reads it.
type fakeHeap struct {
	other atomic.Int64
	reads atomic.Int64
	clock *brokertest.Clock
}

// installFakeHeap makes the broker's memory count come from the test. The
// broker must run on clock, which waitSamples moves.
func installFakeHeap(b *brokertest.Broker, clock *brokertest.Clock) *fakeHeap {
	f := &fakeHeap{clock: clock}
	broker.SetMemorySource(b.Server, func() uint64 {
		f.reads.Add(1)
		return uint64(f.other.Load() + broker.RetainedBytes(b.Server))
	})
	return f
}

// waitSamples returns once the broker has counted its memory twice more:
// one whole sample after what the caller just did.
func (f *fakeHeap) waitSamples(t *testing.T) {
	t.Helper()
	n := f.reads.Load()
	waitFor(t, func() bool {
		f.clock.Advance(100 * time.Millisecond) // the sampler's interval
		return f.reads.Load() >= n+2
	})
}

// publishOK publishes p at QoS 1 and reports whether it was accepted (a
// PUBACK) or refused for memory (DISCONNECT 0x97, the connection closed).
func publishOK(t *testing.T, c *brokertest.Conn, p *packets.Publish) bool {
	t.Helper()
	c.Send(p)
	switch got := c.Expect().(type) {
	case *packets.Ack:
		if got.ReasonCode >= 0x80 {
			t.Fatalf("PUBACK %v", got.ReasonCode)
		}
		return true
	case *packets.Disconnect:
		if got.ReasonCode != packets.QuotaExceeded {
			t.Fatalf("DISCONNECT %v, want 0x97 Quota exceeded", got.ReasonCode)
		}
		c.ExpectClosed()
		return false
	default:
		t.Fatalf("got %T %+v, want PUBACK or DISCONNECT", got, got)
		return false
	}
}

func retainedMsg(topicName string, size int) *packets.Publish {
	return &packets.Publish{Topic: topicName, QoS: 1, PacketID: 1, Retain: true, Payload: []byte(strings.Repeat("m", size))}
}

func plainMsg() *packets.Publish {
	return &packets.Publish{Topic: "plain", QoS: 1, PacketID: 2, Payload: []byte("small")}
}

// A client filling the broker with retained messages is the one refused
// when the next would go over memory_limit; then everyone's publishing is
// refused, but a PUBLISH that frees memory passes (an empty retained
// message, or one smaller than the retained message it replaces), and once
// that brings use under 90% of the limit everyone publishes again. Before,
// the refusal came first for every PUBLISH, freeing ones included, and
// lasted until a restart.
func TestMemoryLimitRecovers(t *testing.T) {
	const size = 2048
	cost := broker.RetainedCost(len("hog/00"), size)
	clock := brokertest.NewClock()
	b := brokertest.Start(t, broker.Options{MemoryLimit: 20 * cost, SysInterval: -1, Clock: clock}) // 20 retained messages; resumes below 18
	heap := installFakeHeap(b, clock)

	bystander, _ := connect5(t, b.Addr, "bystander", true, nil)
	hog, _ := connect5(t, b.Addr, "hog", true, nil)
	n := 0
	for publishOK(t, hog, retainedMsg(fmt.Sprintf("hog/%02d", n), size)) {
		if n++; n > 20 {
			t.Fatal("the hog stored more than the limit holds")
		}
		if n == 20 && !publishOK(t, bystander, plainMsg()) {
			t.Fatal("a bystander was refused before the client driving memory over the limit")
		}
	}
	if n != 20 {
		t.Fatalf("the hog was refused after %d retained messages, want 20", n)
	}
	if publishOK(t, bystander, plainMsg()) {
		t.Fatal("a bystander's PUBLISH was accepted over the limit")
	}
	heap.waitSamples(t) // the watcher agrees: still over
	bystander, _ = connect5(t, b.Addr, "bystander", true, nil)
	if publishOK(t, bystander, retainedMsg("bystander/new", 10)) {
		t.Fatal("a new retained message was accepted over the limit")
	}

	hog, _ = connect5(t, b.Addr, "hog", true, nil)
	if !publishOK(t, hog, retainedMsg("hog/05", 100)) {
		t.Fatal("a retained message smaller than the one it replaces was refused over the limit")
	}
	if publishOK(t, hog, retainedMsg("hog/05", 101)) {
		t.Fatal("a retained message larger than the one it replaces was accepted over the limit")
	}
	hog, _ = connect5(t, b.Addr, "hog", true, nil)
	for _, name := range []string{"hog/00", "hog/99"} { // hog/99 never existed
		if !publishOK(t, hog, retainedMsg(name, 0)) {
			t.Fatalf("empty retained message on %s refused over the limit", name)
		}
	}
	heap.waitSamples(t) // 18 messages and a small one: under the limit, over its 90%
	used := broker.RetainedBytes(b.Server)
	if used < 20*cost/100*90 {
		t.Fatalf("test arithmetic: %d bytes used is already under the lower mark", used)
	}
	bystander, _ = connect5(t, b.Addr, "bystander", true, nil)
	if publishOK(t, bystander, plainMsg()) {
		t.Fatalf("publishing resumed at %d bytes of %d, above the 90%% mark", used, 20*cost)
	}

	// The bystander can clear the hog's messages too.
	bystander, _ = connect5(t, b.Addr, "bystander", true, nil)
	if !publishOK(t, bystander, retainedMsg("hog/02", 0)) {
		t.Fatal("another client's empty retained message refused over the limit")
	}
	heap.waitSamples(t)
	if !publishOK(t, bystander, plainMsg()) {
		t.Fatalf("publishing did not resume at %d bytes of %d", broker.RetainedBytes(b.Server), 20*cost)
	}
	if !publishOK(t, bystander, retainedMsg("bystander/new", 10)) {
		t.Fatal("retained publishing did not resume")
	}
	if got := b.Server.Stats().Retained; got != 19 {
		t.Fatalf("%d retained messages, want 19", got)
	}
}

// Once over memory_limit, publishing stays refused until use is below 90%
// of it, so that it does not flap at the limit.
func TestMemoryLimitHysteresis(t *testing.T) {
	clock := brokertest.NewClock()
	b := brokertest.Start(t, broker.Options{MemoryLimit: 100_000, SysInterval: -1, Clock: clock})
	heap := installFakeHeap(b, clock)
	connect5(t, b.Addr, "first", true, nil) // the first connection starts the watcher
	for _, step := range []struct {
		used   int64
		accept bool
	}{{50_000, true}, {100_001, false}, {95_000, false}, {90_001, false}, {89_999, true}, {95_000, true}, {100_001, false}} {
		heap.other.Store(step.used)
		heap.waitSamples(t)
		c, _ := connect5(t, b.Addr, "h", true, nil)
		if got := publishOK(t, c, plainMsg()); got != step.accept {
			t.Fatalf("at %d bytes of 100000: accepted %v, want %v", step.used, got, step.accept)
		}
	}
	// Over the limit for memory other than retained messages, clearing a
	// retained message still works.
	c, _ := connect5(t, b.Addr, "h", true, nil)
	if !publishOK(t, c, retainedMsg("gone", 0)) {
		t.Fatal("empty retained message refused over the limit")
	}
}

// The real heap: a client filling the broker with retained messages is cut
// off at the limit and clears them with empty retained messages; the
// broker sees the memory freed at once (its count of retained bytes), and
// another client publishes again without waiting for a collection.
func TestMemoryLimitRealHeap(t *testing.T) {
	runtime.GC()
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(live)
	limit := int64(live[0].Value.Uint64()) + 8<<20
	b := brokertest.Start(t, broker.Options{MemoryLimit: limit})

	hog, _ := connect5(t, b.Addr, "hog", true, nil)
	n := 0
	for publishOK(t, hog, retainedMsg(fmt.Sprintf("r/%d", n), 2048)) {
		if n++; n > 20_000 {
			t.Fatalf("40 MB of retained messages and still under a limit of %d bytes", limit)
		}
	}
	t.Logf("refused after %d retained messages of 2 kB (limit %d bytes)", n, limit)
	other, _ := connect5(t, b.Addr, "other", true, nil)
	if publishOK(t, other, plainMsg()) {
		t.Fatal("another client's PUBLISH was accepted over the limit")
	}
	cleaner, _ := connect5(t, b.Addr, "cleaner", true, nil)
	for i := range n {
		if !publishOK(t, cleaner, retainedMsg(fmt.Sprintf("r/%d", i), 0)) {
			t.Fatalf("empty retained message %d refused", i)
		}
	}
	waitFor(t, func() bool {
		other, _ := connect5(t, b.Addr, "other", true, nil)
		return publishOK(t, other, plainMsg())
	})
}
