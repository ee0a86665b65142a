package broker_test

import (
	"bytes"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/packets"
)

// max_qos on a listener: MQTT 5 clients are told; subscriptions are granted
// at most that QoS; a PUBLISH or will above it disconnects.
func TestListenerMaxQoS(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := brokertest.Serve(t, broker.Options{}, l, broker.ListenerOptions{LimitQoS: true, MaxQoS: 1})
	c, ack := connect5(t, b.Addr, "q", true, nil)
	if !ack.Properties.Has(packets.PropMaximumQoS) || ack.Properties.MaximumQoS != 1 {
		t.Fatalf("CONNACK %+v, want Maximum QoS 1", ack.Properties)
	}
	if codes := subscribe5(t, c, 0, packets.Subscription{Filter: "q", QoS: 2}); codes[0] != packets.GrantedQoS1 {
		t.Fatalf("SUBACK %v, want QoS 1 granted", codes)
	}
	c.Send(publish5("q", 2, 1, "x", 0))
	if d, ok := c.ExpectClosed().(*packets.Disconnect); !ok || d.ReasonCode != packets.QoSNotSupported {
		t.Fatalf("got %+v, want DISCONNECT 0x9B", d)
	}

	old := brokertest.Connect(t, b.Addr, packets.V311, "old", true)
	old.Send(&packets.Publish{Topic: "q", QoS: 2, PacketID: 1, Payload: []byte("x")})
	if p := old.ExpectClosed(); p != nil {
		t.Fatalf("3.1.1 client got %+v, want the connection closed", p)
	}

	w := brokertest.Dial(t, b.Addr, packets.V5)
	w.Send(&packets.Connect{ProtocolName: "MQTT", Version: packets.V5, CleanStart: true, KeepAlive: 60, ClientID: "w",
		Will: &packets.Will{Topic: "w", QoS: 2, Payload: []byte("bye")}})
	if ack, ok := w.ExpectClosed().(*packets.Connack); !ok || ack.ReasonCode != packets.QoSNotSupported {
		t.Fatalf("got %+v, want CONNACK 0x9B", ack)
	}
}

// retain_available false: MQTT 5 clients are told, and a retained PUBLISH or
// will is refused; nothing is stored.
func TestRetainUnavailable(t *testing.T) {
	b := brokertest.Start(t, broker.Options{RetainUnavailable: true})
	c, ack := connect5(t, b.Addr, "r", true, nil)
	if !ack.Properties.Has(packets.PropRetainAvailable) || ack.Properties.RetainAvailable != 0 {
		t.Fatalf("CONNACK %+v, want Retain Available 0", ack.Properties)
	}
	p := publish5("r", 0, 0, "x", 0)
	p.Retain = true
	c.Send(p)
	if d, ok := c.ExpectClosed().(*packets.Disconnect); !ok || d.ReasonCode != packets.RetainNotSupported {
		t.Fatalf("got %+v, want DISCONNECT 0x9A", d)
	}
	if n := b.Server.Stats().Retained; n != 0 {
		t.Fatalf("%d retained messages stored", n)
	}
	w := brokertest.Dial(t, b.Addr, packets.V5)
	w.Send(&packets.Connect{ProtocolName: "MQTT", Version: packets.V5, CleanStart: true, KeepAlive: 60, ClientID: "w",
		Will: &packets.Will{Topic: "w", Retain: true, Payload: []byte("bye")}})
	if ack, ok := w.ExpectClosed().(*packets.Connack); !ok || ack.ReasonCode != packets.RetainNotSupported {
		t.Fatalf("got %+v, want CONNACK 0x9A", ack)
	}
}

// message_size_limit: a larger payload is dropped and counted, its flow
// completes (MQTT 5: 0x83); smaller ones pass.
func TestMessageSizeLimit(t *testing.T) {
	b := brokertest.Start(t, broker.Options{MessageSizeLimit: 10})
	sub := brokertest.Connect(t, b.Addr, packets.V311, "sub", true)
	subscribe(t, sub, "s", 2)

	c, _ := connect5(t, b.Addr, "pub5", true, nil)
	c.Send(publish5("s", 1, 1, "more than ten bytes", 0))
	if a, ok := c.Expect().(*packets.Ack); !ok || a.Kind != packets.TypePuback || a.ReasonCode != packets.ImplementationError {
		t.Fatalf("got %+v, want PUBACK 0x83", a)
	}
	old := brokertest.Connect(t, b.Addr, packets.V311, "pub3", true)
	old.Send(&packets.Publish{Topic: "s", QoS: 2, PacketID: 7, Payload: []byte("more than ten bytes")})
	expectAck(t, old, packets.TypePubrec, 7)
	old.Send(&packets.Ack{Kind: packets.TypePubrel, PacketID: 7})
	expectAck(t, old, packets.TypePubcomp, 7)

	old.Send(&packets.Publish{Topic: "s", Payload: []byte("small")})
	if p := expectPublish(t, sub); string(p.Payload) != "small" {
		t.Fatalf("subscriber got %q, want only the small message", p.Payload)
	}
	if n := b.Server.Stats().PublishDropped; n != 2 {
		t.Fatalf("PublishDropped = %d, want 2", n)
	}
}

// upgrade_outgoing_qos delivers at the subscription's QoS.
func TestUpgradeOutgoingQoS(t *testing.T) {
	b := brokertest.Start(t, broker.Options{UpgradeOutgoingQoS: true})
	sub := brokertest.Connect(t, b.Addr, packets.V311, "sub", true)
	subscribe(t, sub, "u", 1)
	pub := brokertest.Connect(t, b.Addr, packets.V311, "pub", true)
	pub.Send(&packets.Publish{Topic: "u", Payload: []byte("x")})
	if p := expectPublish(t, sub); p.QoS != 1 {
		t.Fatalf("delivered at QoS %d, want 1", p.QoS)
	}
}

// persistent_client_expiration ends a 3.1.1 persistent session offline for
// longer than it.
func TestPersistentClientExpiration(t *testing.T) {
	b := brokertest.Start(t, broker.Options{PersistentClientExpiration: 300 * time.Millisecond})
	c := brokertest.Connect(t, b.Addr, packets.V311, "keep", false)
	subscribe(t, c, "k", 1)
	c.Net.Close()
	waitFor(t, func() bool { return b.Server.Stats().SessionsExpired == 1 })
	c = brokertest.Dial(t, b.Addr, packets.V311)
	c.Send(&packets.Connect{ProtocolName: "MQTT", Version: packets.V311, KeepAlive: 60, ClientID: "keep"})
	if ack, ok := c.Expect().(*packets.Connack); !ok || ack.SessionPresent {
		t.Fatalf("got %+v, want CONNACK without a session", ack)
	}
}

// queue_qos0_messages queues QoS 0 messages for an offline persistent
// session; by default they are dropped.
func TestQueueQoS0(t *testing.T) {
	for _, queue := range []bool{false, true} {
		b := brokertest.Start(t, broker.Options{QueueQoS0: queue})
		c := brokertest.Connect(t, b.Addr, packets.V311, "away", false)
		subscribe(t, c, "z", 0)
		c.Net.Close()
		waitFor(t, func() bool { return b.Server.Stats().ClientsConnected == 0 })
		pub := brokertest.Connect(t, b.Addr, packets.V311, "pub", true)
		pub.Send(&packets.Publish{Topic: "z", Payload: []byte("while away")})
		pub.Send(&packets.Pingreq{})
		pub.Expect()
		back := brokertest.Connect(t, b.Addr, packets.V311, "away", false)
		if !queue {
			expectNothing(t, back)
			continue
		}
		if p := expectPublish(t, back); p.QoS != 0 || string(p.Payload) != "while away" {
			t.Fatalf("got %+v", p)
		}
	}
}

// max_queued_bytes bounds an offline session's queue by payload bytes;
// SessionQueue counts what it holds and what it dropped.
func TestMaxQueuedBytes(t *testing.T) {
	b := brokertest.Start(t, broker.Options{MaxQueuedBytes: 250})
	c := brokertest.Connect(t, b.Addr, packets.V311, "away", false)
	subscribe(t, c, "b", 1)
	c.Net.Close()
	waitFor(t, func() bool { return b.Server.Stats().ClientsConnected == 0 })
	pub := brokertest.Connect(t, b.Addr, packets.V311, "pub", true)
	for i := range 4 {
		publishQoS1(t, pub, "b", strings.Repeat(string(rune('a'+i)), 100), uint16(i+1))
	}
	if q, ok := b.Server.SessionQueue("away"); !ok || q != (broker.SessionQueue{Queued: 2, Dropped: 2}) {
		t.Fatalf("SessionQueue(away) = %+v, %v; want 2 queued, 2 dropped", q, ok)
	}
	if _, ok := b.Server.SessionQueue("nobody"); ok {
		t.Fatal("SessionQueue reports a session nobody has")
	}
	back := brokertest.Connect(t, b.Addr, packets.V311, "away", false)
	for _, want := range []byte("ab") {
		if p := expectPublish(t, back); p.Payload[0] != want {
			t.Fatalf("got %q, want %c...", p.Payload[:1], want)
		}
	}
	expectNothing(t, back)
	if n := b.Server.Stats().PublishDropped; n != 2 {
		t.Fatalf("PublishDropped = %d, want 2", n)
	}
}

// max_inflight_bytes: messages go into flight until the bytes in flight
// reach the bound; the rest wait for acknowledgements.
func TestMaxInflightBytes(t *testing.T) {
	b := brokertest.Start(t, broker.Options{MaxInflightBytes: 150})
	sub := brokertest.Connect(t, b.Addr, packets.V311, "sub", true)
	subscribe(t, sub, "f", 1)
	pub := brokertest.Connect(t, b.Addr, packets.V311, "pub", true)
	for i := range 3 {
		publishQoS1(t, pub, "f", strings.Repeat("x", 100), uint16(i+1))
	}
	first, second := expectPublish(t, sub), expectPublish(t, sub)
	expectNothing(t, sub) // 200 bytes in flight: the third waits
	sub.Send(&packets.Ack{Kind: packets.TypePuback, PacketID: first.PacketID})
	expectPublish(t, sub)
	sub.Send(&packets.Ack{Kind: packets.TypePuback, PacketID: second.PacketID})
}

// check_retain_source: a retained message is handed to new subscribers only
// while its publisher may still write its topic; NoRetainSourceCheck turns
// that off.
func TestCheckRetainSource(t *testing.T) {
	for _, check := range []bool{true, false} {
		r := newRules(map[string][]string{"": {"#"}}, map[string][]string{"": {"#"}})
		b := brokertest.Start(t, broker.Options{Authorizer: r, NoRetainSourceCheck: !check})
		pub := brokertest.Connect(t, b.Addr, packets.V311, "pub", true)
		pub.Send(&packets.Publish{Topic: "kept", Retain: true, Payload: []byte("old news")})
		waitFor(t, func() bool { return b.Server.Stats().Retained == 1 })
		r.write.Store(&map[string][]string{}) // the publisher loses write access, as after a reload

		sub := brokertest.Connect(t, b.Addr, packets.V311, "sub", true)
		subscribe(t, sub, "kept", 0)
		if check {
			expectNothing(t, sub)
			continue
		}
		if p := expectPublish(t, sub); !bytes.Equal(p.Payload, []byte("old news")) {
			t.Fatalf("got %q", p.Payload)
		}
	}
}

// A subscriber that stops reading costs a bounded amount of memory: its
// messages beyond the in-flight window and max_queued_messages are dropped
// and counted, while the publisher and another subscriber go on and the
// other subscriber receives every message.
func TestSlowSubscriberBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("publishes 64 MiB")
	}
	b := brokertest.Start(t, broker.Options{})
	stuck := brokertest.Connect(t, b.Addr, packets.V311, "stuck", true)
	subscribe(t, stuck, "load", 1)
	// From here on stuck reads nothing: its socket buffers fill, then its
	// in-flight window and queue, then its messages are dropped.
	fast := brokertest.Connect(t, b.Addr, packets.V311, "fast", true)
	subscribe(t, fast, "load", 1)

	const n, size = 16384, 4096
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var received atomic.Int64
	go func() {
		for received.Load() < n {
			p, err := fast.Read()
			if err != nil {
				return
			}
			if m, ok := p.(*packets.Publish); ok {
				fast.Send(&packets.Ack{Kind: packets.TypePuback, PacketID: m.PacketID})
				received.Add(1)
			}
		}
	}()
	pub := brokertest.Connect(t, b.Addr, packets.V311, "pub", true)
	acked := make(chan int)
	go func() {
		got := 0
		for got < n {
			if _, err := pub.Read(); err != nil {
				break
			}
			got++
		}
		acked <- got
	}()
	payload := bytes.Repeat([]byte("m"), size)
	var peak [2]uint64 // the peaks of the first and second halves
	for i := range n {
		pub.Send(&packets.Publish{Topic: "load", QoS: 1, PacketID: uint16(i%60000 + 1), Payload: payload})
		if i%512 == 511 {
			var m runtime.MemStats
			runtime.GC() // what is still held, not garbage
			runtime.ReadMemStats(&m)
			half := i * 2 / n
			peak[half] = max(peak[half], m.HeapAlloc)
			// The fast subscriber keeps up (its own queue is bounded
			// too): the publisher waits for it, never for stuck.
			waitFor(t, func() bool { return received.Load() == int64(i+1) })
		}
	}
	if got := <-acked; got != n {
		t.Fatalf("publisher got %d of %d acknowledgements", got, n)
	}
	if got := received.Load(); got != n {
		t.Fatalf("fast subscriber got %d of %d messages", got, n)
	}
	// stuck holds at most 20 in flight and 1000 queued messages of 4 KiB,
	// about 4 MiB, besides what every connection costs: the heap reaches
	// its level in the first half and does not grow in the second, and
	// stays far below the 64 MiB published.
	grown := int64(max(peak[0], peak[1])) - int64(before.HeapAlloc)
	later := int64(peak[1]) - int64(peak[0])
	t.Logf("live heap grew by at most %.1f MiB while 64 MiB were published, %.1f MiB of it in the second half",
		float64(grown)/(1<<20), float64(later)/(1<<20))
	if grown > 32<<20 || later > 4<<20 {
		t.Fatalf("heap grew by %d MiB, %d MiB of it in the second half", grown>>20, later>>20)
	}
	if dropped := b.Server.Stats().PublishDropped; dropped < n-1100 {
		t.Fatalf("PublishDropped = %d, want the %d messages beyond stuck's window and queue", dropped, n-1020)
	}
}

// allow_zero_length_clientid false and clientid_prefixes refuse clients at
// CONNECT.
func TestClientIDRules(t *testing.T) {
	b := brokertest.Start(t, broker.Options{NoEmptyClientID: true, ClientIDPrefix: "dev-"})
	for _, tc := range []struct {
		id   string
		want packets.ReasonCode
	}{
		{"", packets.ConnRefusedIdentifier},
		{"other", packets.ConnRefusedNotAuthorized},
		{"dev-1", packets.ConnAccepted},
	} {
		c := brokertest.Dial(t, b.Addr, packets.V311)
		c.Send(&packets.Connect{ProtocolName: "MQTT", Version: packets.V311, CleanStart: true, KeepAlive: 60, ClientID: tc.id})
		if ack, ok := c.Expect().(*packets.Connack); !ok || ack.ReasonCode != tc.want {
			t.Errorf("client id %q: got %+v, want CONNACK %d", tc.id, ack, tc.want)
		}
	}
}

// use_username_as_clientid: the user name becomes the client identifier,
// so a second connection by the same user takes the first one over; a
// client without a user name is refused.
func TestUseUsernameAsClientID(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := brokertest.Serve(t, broker.Options{}, l, broker.ListenerOptions{UseUsernameAsClientID: true})
	first := brokertest.ConnectUser(t, b.Addr, packets.V311, "a", "alice", true)
	brokertest.ConnectUser(t, b.Addr, packets.V311, "b", "alice", true)
	if p := first.ExpectClosed(); p != nil {
		t.Fatalf("first connection got %+v, want it closed by the takeover", p)
	}
	c := brokertest.Dial(t, b.Addr, packets.V311)
	c.Send(&packets.Connect{ProtocolName: "MQTT", Version: packets.V311, CleanStart: true, KeepAlive: 60, ClientID: "anon"})
	if ack, ok := c.ExpectClosed().(*packets.Connack); !ok || ack.ReasonCode != packets.ConnRefusedNotAuthorized {
		t.Fatalf("got %+v, want CONNACK 5", ack)
	}
}

// Retained messages sent on SUBSCRIBE are all delivered, however many:
// max_queued_messages bounds what piles up for a slow client, not the
// state a new subscription asks for.
func TestRetainedBeyondQueueLimit(t *testing.T) {
	b := brokertest.Start(t, broker.Options{MaxQueued: 10})
	pub := brokertest.Connect(t, b.Addr, packets.V311, "pub", true)
	const n = 500
	for i := range n {
		pub.Send(&packets.Publish{Topic: fmt.Sprintf("many/%d", i), Retain: true, QoS: 1, PacketID: uint16(i + 1), Payload: []byte("x")})
	}
	waitFor(t, func() bool { return b.Server.Stats().Retained == n })
	for _, qos := range []byte{0, 1} {
		sub := brokertest.Connect(t, b.Addr, packets.V311, fmt.Sprint("sub", qos), true)
		subscribe(t, sub, "many/#", qos)
		for range n {
			p := expectPublish(t, sub)
			if p.QoS != qos {
				t.Fatalf("retained message at QoS %d on a QoS %d subscription", p.QoS, qos)
			}
			if qos == 1 {
				sub.Send(&packets.Ack{Kind: packets.TypePuback, PacketID: p.PacketID})
			}
		}
	}
}
