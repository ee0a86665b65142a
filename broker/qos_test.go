package broker_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/packets"
)

// A QoS 2 PUBLISH re-sent with DUP before PUBREL is acknowledged again but
// delivered once [MQTT-4.3.3-2].
func TestQoS2ExactlyOnce(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{})
	sub := brokertest.Connect(t, b.Addr, packets.V311, "sub", true)
	subscribe(t, sub, "q2", 2)
	pub := brokertest.Connect(t, b.Addr, packets.V311, "pub", true)

	pub.Send(&packets.Publish{QoS: 2, Topic: "q2", PacketID: 7, Payload: []byte("once")})
	expectAck(t, pub, packets.TypePubrec, 7)
	pub.Send(&packets.Publish{QoS: 2, Dup: true, Topic: "q2", PacketID: 7, Payload: []byte("once")})
	expectAck(t, pub, packets.TypePubrec, 7)
	pub.Send(&packets.Ack{Kind: packets.TypePubrel, PacketID: 7})
	expectAck(t, pub, packets.TypePubcomp, 7)
	// After PUBREL the identifier is free: the same id is a new message.
	pub.Send(&packets.Publish{QoS: 2, Topic: "q2", PacketID: 7, Payload: []byte("twice")})
	expectAck(t, pub, packets.TypePubrec, 7)

	first := expectPublish(t, sub)
	if string(first.Payload) != "once" || first.QoS != 2 {
		t.Fatalf("first = %+v", first)
	}
	second := expectPublish(t, sub)
	if string(second.Payload) != "twice" {
		t.Fatalf("second = %q, want twice (the DUP must not be delivered)", second.Payload)
	}
	for _, p := range []*packets.Publish{first, second} {
		sub.Send(&packets.Ack{Kind: packets.TypePubrec, PacketID: p.PacketID})
		expectAck(t, sub, packets.TypePubrel, p.PacketID)
		sub.Send(&packets.Ack{Kind: packets.TypePubcomp, PacketID: p.PacketID})
	}
	sub.Send(&packets.Pingreq{})
	if p, ok := sub.Expect().(*packets.Pingresp); !ok {
		t.Fatalf("got %T, want PINGRESP and nothing else", p)
	}
}

// Delivery happens at min(publish QoS, subscription QoS).
func TestDeliveryQoSIsTheMinimum(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{})
	for _, subQoS := range []byte{0, 1, 2} {
		for _, pubQoS := range []byte{0, 1, 2} {
			name := fmt.Sprintf("sub%d-pub%d", subQoS, pubQoS)
			sub := brokertest.Connect(t, b.Addr, packets.V311, "s-"+name, true)
			subscribe(t, sub, name, subQoS)
			pub := brokertest.Connect(t, b.Addr, packets.V311, "p-"+name, true)
			pub.Send(&packets.Publish{QoS: pubQoS, Topic: name, PacketID: 1, Payload: []byte("x")})
			got := expectPublish(t, sub)
			if want := min(subQoS, pubQoS); got.QoS != want {
				t.Errorf("%s: delivered at QoS %d, want %d", name, got.QoS, want)
			}
		}
	}
}

// At most MaxInflight QoS 1 messages are unacknowledged toward a client;
// the rest wait in its queue and follow as acknowledgements arrive, in order.
func TestInflightWindow(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{MaxInflight: 3})
	sub := brokertest.Connect(t, b.Addr, packets.V311, "sub", true)
	subscribe(t, sub, "w", 1)
	pub := brokertest.Connect(t, b.Addr, packets.V311, "pub", true)
	for i := 0; i < 6; i++ {
		pub.Send(&packets.Publish{QoS: 1, Topic: "w", PacketID: uint16(i + 1), Payload: []byte{byte('0' + i)}})
		expectAck(t, pub, packets.TypePuback, uint16(i+1))
	}
	var ids []uint16
	for i := 0; i < 3; i++ {
		p := expectPublish(t, sub)
		if p.Payload[0] != byte('0'+i) {
			t.Fatalf("message %d = %q", i, p.Payload)
		}
		ids = append(ids, p.PacketID)
	}
	// The window is full: a PINGREQ's answer arrives before any fourth message.
	sub.Send(&packets.Pingreq{})
	if _, ok := sub.Expect().(*packets.Pingresp); !ok {
		t.Fatal("a fourth message arrived beyond the in-flight window")
	}
	for i, id := range ids {
		sub.Send(&packets.Ack{Kind: packets.TypePuback, PacketID: id})
		p := expectPublish(t, sub)
		if p.Payload[0] != byte('3'+i) {
			t.Fatalf("message %d = %q", 3+i, p.Payload)
		}
	}
}

// A persistent session keeps its subscriptions, queues QoS 1 messages while
// offline up to MaxQueued (counting the rest as dropped), re-sends in-flight
// messages with DUP on reconnect, and reports session present.
func TestPersistentSession(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{MaxInflight: 2, MaxQueued: 3})
	sub := brokertest.Connect(t, b.Addr, packets.V311, "durable", false)
	subscribe(t, sub, "d/#", 1)
	pub := brokertest.Connect(t, b.Addr, packets.V311, "pub", true)
	pub.Send(&packets.Publish{QoS: 1, Topic: "d/0", PacketID: 1, Payload: []byte("0")})
	expectAck(t, pub, packets.TypePuback, 1)
	inflight := expectPublish(t, sub) // received, never acknowledged
	sub.Net.Close()

	// Wait until the broker has noticed the disconnect.
	waitFor(t, func() bool { return b.Server.Stats().ClientsConnected == 1 })
	for i := 1; i <= 6; i++ {
		pub.Send(&packets.Publish{QoS: 1, Topic: fmt.Sprintf("d/%d", i), PacketID: uint16(i + 1), Payload: []byte{byte('0' + i)}})
		expectAck(t, pub, packets.TypePuback, uint16(i+1))
	}
	if got := b.Server.Stats().PublishDropped; got != 3 {
		t.Errorf("dropped = %d, want 3 (queue of 3 for 6 messages)", got)
	}

	again := brokertest.Dial(t, b.Addr, packets.V311)
	again.Send(&packets.Connect{ProtocolName: "MQTT", Version: 4, KeepAlive: 60, ClientID: "durable"})
	ack := again.Expect().(*packets.Connack)
	if !ack.SessionPresent {
		t.Fatal("session present = false, want true")
	}
	resent := expectPublish(t, again)
	if !resent.Dup || resent.PacketID != inflight.PacketID || string(resent.Payload) != "0" {
		t.Fatalf("resent = %+v, want DUP of %+v", resent, inflight)
	}
	next := expectPublish(t, again)
	if string(next.Payload) != "1" {
		t.Fatalf("next = %q, want 1", next.Payload)
	}
	again.Send(&packets.Ack{Kind: packets.TypePuback, PacketID: resent.PacketID})
	again.Send(&packets.Ack{Kind: packets.TypePuback, PacketID: next.PacketID})
	for _, want := range []string{"2", "3"} {
		p := expectPublish(t, again)
		if string(p.Payload) != want {
			t.Fatalf("got %q, want %q", p.Payload, want)
		}
		again.Send(&packets.Ack{Kind: packets.TypePuback, PacketID: p.PacketID})
	}

	// A clean session replaces it: session present is false.
	clean := brokertest.Dial(t, b.Addr, packets.V311)
	clean.Send(&packets.Connect{ProtocolName: "MQTT", Version: 4, CleanStart: true, KeepAlive: 60, ClientID: "durable"})
	if ack := clean.Expect().(*packets.Connack); ack.SessionPresent {
		t.Fatal("session present = true after clean session")
	}
}

func TestEmptyClientID(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{})
	c := brokertest.Dial(t, b.Addr, packets.V311)
	c.Send(&packets.Connect{ProtocolName: "MQTT", Version: 4, KeepAlive: 60})
	ack := c.ExpectClosed().(*packets.Connack)
	if ack.ReasonCode != packets.ConnRefusedIdentifier {
		t.Fatalf("CONNACK %d, want 2 [MQTT-3.1.3-8]", ack.ReasonCode)
	}
	brokertest.Connect(t, b.Addr, packets.V311, "", true) // accepted with a generated id
}

// An acknowledgement of the wrong kind for a delivery (PUBREC or PUBCOMP
// for QoS 1, PUBACK for QoS 2) is a protocol violation [MQTT-4.8.0-1], as
// is a PUBCOMP for a QoS 2 delivery not yet at PUBREL: Mosquitto 2.0
// disconnects on each. One for an identifier not in flight is ignored, as
// in Mosquitto (it may repeat one from before a reconnection).
func TestWrongAcknowledgementCloses(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{})
	pub := brokertest.Connect(t, b.Addr, packets.V311, "pub", true)
	for _, tc := range []struct {
		name string
		qos  byte
		ack  packets.Type
	}{
		{"PUBREC for QoS 1", 1, packets.TypePubrec},
		{"PUBCOMP for QoS 1", 1, packets.TypePubcomp},
		{"PUBACK for QoS 2", 2, packets.TypePuback},
		{"PUBCOMP before PUBREC", 2, packets.TypePubcomp},
	} {
		t.Run(tc.name, func(t *testing.T) {
			filter := fmt.Sprintf("wrong/%d/%d", tc.qos, tc.ack)
			sub := brokertest.Connect(t, b.Addr, packets.V311, "s-"+filter, true)
			subscribe(t, sub, filter, tc.qos)
			// An unknown identifier is not a violation: the connection
			// stays (and a PUBREC still gets its PUBREL).
			sub.Send(&packets.Ack{Kind: tc.ack, PacketID: 999})
			if tc.ack == packets.TypePubrec {
				expectAck(t, sub, packets.TypePubrel, 999)
			}
			pub.Send(&packets.Publish{QoS: tc.qos, Topic: filter, PacketID: 1, Payload: []byte("x")})
			pub.Expect() // PUBACK or PUBREC
			if tc.qos == 2 {
				pub.Send(&packets.Ack{Kind: packets.TypePubrel, PacketID: 1})
				pub.Expect()
			}
			p := expectPublish(t, sub)
			sub.Send(&packets.Ack{Kind: tc.ack, PacketID: p.PacketID})
			sub.ExpectClosed()
		})
	}
}

// gateAccess allows everything, but its CanRead, which routing calls for
// each delivery to the client, waits until gate is closed: it holds up the
// routing of a message to one subscriber.
type gateAccess struct {
	gate    chan struct{}
	reached chan struct{} // signalled when a delivery waits at the gate
}

func (g gateAccess) CanRead(string) bool {
	select {
	case g.reached <- struct{}{}:
	default:
	}
	<-g.gate
	return true
}

func (g gateAccess) CanWrite(string) bool { return true }

// A QoS 1 message is routed before its PUBACK is queued, as Mosquitto
// does: a publisher holding its PUBACK knows every subscriber has the
// message, so nothing published after, from any client, overtakes it. A
// publisher subscribed to its own topic still gets its PUBACK before its
// own copy.
func TestPubackAfterRouting(t *testing.T) {
	t.Parallel()
	gate, reached := make(chan struct{}), make(chan struct{}, 1)
	var once sync.Once
	release := func() { once.Do(func() { close(gate) }) }
	b := brokertest.Start(t, broker.Options{Authorizer: broker.AuthorizerFunc(func(info broker.ConnectInfo) broker.TopicAccess {
		if info.ClientID == "slow" {
			return gateAccess{gate: gate, reached: reached}
		}
		return nil
	})})
	slow := brokertest.Connect(t, b.Addr, packets.V311, "slow", true)
	subscribe(t, slow, "gate/x", 1)
	t.Cleanup(release) // before the broker's shutdown, should the test fail first
	pub := brokertest.Connect(t, b.Addr, packets.V311, "pub", true)
	subscribe(t, pub, "gate/x", 1)

	pub.Send(&packets.Publish{QoS: 1, PacketID: 1, Topic: "gate/x", Payload: []byte("m")})
	<-reached
	pub.Timeout = 200 * time.Millisecond
	if p, err := pub.Read(); err == nil {
		t.Fatalf("got %T %+v while the routing to another subscriber was unfinished, want nothing yet", p, p)
	}
	release()
	pub.Timeout = 5 * time.Second
	expectAck(t, pub, packets.TypePuback, 1)
	if p := expectPublish(t, pub); string(p.Payload) != "m" {
		t.Fatalf("own copy = %+v", p)
	}
	if p := expectPublish(t, slow); string(p.Payload) != "m" {
		t.Fatalf("slow subscriber got %+v", p)
	}
}
