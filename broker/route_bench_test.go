package broker

import (
	"bufio"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/packets"
)

// benchSubscribers builds a server with n connected sessions subscribed to
// filter, with outbound queues that the benchmark drains itself.
func benchSubscribers(b *testing.B, n int, filter string) (*Server, []*conn) {
	s := New(Options{MaxQueued: Unlimited})
	conns := make([]*conn, n)
	for i := range conns {
		ss := newSession(fmt.Sprintf("c%d", i), 0, "", false)
		c := &conn{s: s, out: newOutbound(), version: packets.V311, session: ss}
		ss.attach(c, 20, &packets.Connack{})
		ss.subscribe(s, packets.Subscription{Filter: filter}, nil)
		conns[i] = c
	}
	return s, conns
}

// BenchmarkRoute measures routing one QoS 0 message to 1, 10 and 1000
// subscribers: index lookup, per-client QoS, and a push onto each
// connection's outbound queue.
func BenchmarkRoute(b *testing.B) {
	for _, n := range []int{1, 10, 1000} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			s, conns := benchSubscribers(b, n, "bench/+/temperature")
			m := &Message{Topic: "bench/room1/temperature", Payload: make([]byte, 64)}
			spare := make([][]outItem, n)
			var r router
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s.match(m, &r)
				s.deliverMatches(m, &r, nil, false)
				if i%32 == 31 {
					for j, c := range conns {
						spare[j] = c.out.take(spare[j])
					}
				}
			}
		})
	}
}

// BenchmarkRetainParallel measures storing retained messages and matching
// them from every CPU at once, each goroutine on topics of its own with
// nobody subscribed: the retained store's locks and the order lock that
// puts retained messages and new subscriptions in one order.
func BenchmarkRetainParallel(b *testing.B) {
	s := New(Options{})
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		g := next.Add(1)
		msgs := make([]*Message, 64)
		for i := range msgs {
			msgs[i] = &Message{Topic: fmt.Sprintf("bench/%d/sensor/%d", g, i), Payload: make([]byte, 64), Retain: true}
		}
		var r router
		for i := 0; pb.Next(); i++ {
			s.retainAndMatch(msgs[i%len(msgs)], &r, nil)
		}
	})
}

// TestRouteAllocatesNothing holds the routing path to zero allocations once
// its buffers have grown.
func TestRouteAllocatesNothing(t *testing.T) {
	s := New(Options{MaxQueued: Unlimited})
	ss := newSession("c", 0, "", false)
	c := &conn{s: s, out: newOutbound(), version: packets.V311, session: ss}
	ss.attach(c, 20, &packets.Connack{})
	ss.subscribe(s, packets.Subscription{Filter: "a/#"}, nil)
	m := &Message{Topic: "a/b", Payload: []byte("x")}
	var r router
	var spare []outItem
	allocs := testing.AllocsPerRun(1000, func() {
		s.match(m, &r)
		s.deliverMatches(m, &r, nil, false)
		spare = c.out.take(spare)
	})
	if allocs != 0 {
		t.Fatalf("route allocates %.1f times per message, want 0", allocs)
	}
}

// BenchmarkWriteBatch measures the writer encoding a batch of 64 queued
// QoS 1 messages into one buffered flush.
func BenchmarkWriteBatch(b *testing.B) {
	m := &Message{Topic: "bench/room1/temperature", Payload: make([]byte, 64), QoS: 1}
	items := make([]outItem, 64)
	for i := range items {
		items[i] = outItem{msg: m, qos: 1, id: uint16(i + 1)}
	}
	w := bufio.NewWriterSize(io.Discard, 4096)
	scratch := make([]byte, 0, 64)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range items {
			writeItem(w, &items[j], packets.V311, "", nil, &scratch, 0)
		}
		w.Flush()
	}
}

// BenchmarkWriteOwnEncoding measures MQTT 5 deliveries that are encoded
// per recipient (a subscription identifier and a message expiry): after
// the writer's buffer has grown once, they allocate nothing.
func BenchmarkWriteOwnEncoding(b *testing.B) {
	m := &Message{Topic: "bench/room1/temperature", Payload: make([]byte, 64), QoS: 1,
		expiresAt: time.Now().Add(time.Hour).UnixNano()}
	ids := &subIDList{ids: []uint32{7}}
	items := make([]outItem, 64)
	for i := range items {
		items[i] = outItem{msg: m, qos: 1, id: uint16(i + 1), subIDs: ids}
	}
	w := bufio.NewWriterSize(io.Discard, 4096)
	scratch := make([]byte, 0, 64)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range items {
			writeItem(w, &items[j], packets.V5, "", nil, &scratch, 0)
		}
		w.Flush()
	}
}

// BenchmarkWriteAliases measures the writer's side of broker-assigned
// topic aliases: a batch of 64 QoS 1 messages to an MQTT 5 client without
// aliases (the shared encoding copied out), with aliases on one topic (a
// head of the connection's own, then the shared tail), and with aliases on
// 16 topics cycling through 10 aliases, so that every message replaces the
// least recently used one.
func BenchmarkWriteAliases(b *testing.B) {
	cases := []struct {
		name    string
		aliases bool
		topics  int
	}{{"aliases=off", false, 1}, {"aliases=on", true, 1}, {"aliases=on/replacing", true, 16}}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			msgs := make([]*Message, tc.topics)
			for i := range msgs {
				msgs[i] = &Message{Topic: fmt.Sprintf("bench/room%d/temperature", i), Payload: make([]byte, 64), QoS: 1}
			}
			items := make([]outItem, 64)
			for i := range items {
				items[i] = outItem{msg: msgs[i%len(msgs)], qos: 1, id: uint16(i + 1)}
			}
			var aliases *outAliases
			if tc.aliases {
				aliases = newOutAliases(10, 10, 0)
			}
			w := bufio.NewWriterSize(io.Discard, 4096)
			scratch := make([]byte, 0, 64)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j := range items {
					writeItem(w, &items[j], packets.V5, "", aliases, &scratch, 0)
				}
				w.Flush()
			}
		})
	}
}

// TestWriteAliasesAllocatesNothing holds the aliased writer to zero
// allocations once its table and head buffer have grown, replacing
// aliases included.
func TestWriteAliasesAllocatesNothing(t *testing.T) {
	msgs := make([]*Message, 4)
	for i := range msgs {
		msgs[i] = &Message{Topic: fmt.Sprintf("a/%d", i), Payload: []byte("x"), QoS: 1}
	}
	aliases := newOutAliases(3, 10, 0)
	w := bufio.NewWriterSize(io.Discard, 4096)
	var scratch []byte
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		it := outItem{msg: msgs[i%len(msgs)], qos: 1, id: 1}
		i++
		writeItem(w, &it, packets.V5, "", aliases, &scratch, 0)
	})
	if allocs != 0 {
		t.Fatalf("aliased write allocates %.1f times per message, want 0", allocs)
	}
}
