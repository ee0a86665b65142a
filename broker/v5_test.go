package broker_test

import (
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/packets"
)

// MQTT 5 semantics are a later issue; the wire form already works, and a
// 3.1.1 client and a 5.0 client exchange messages through the broker.
func TestMQTT5ClientTalksToMQTT311Client(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{})
	v5 := brokertest.Connect(t, b.Addr, packets.V5, "five", true)
	subscribe(t, v5, "mix/#", 1)
	v3 := brokertest.Connect(t, b.Addr, packets.V311, "three", true)
	subscribe(t, v3, "mix/#", 1)

	v3.Send(&packets.Publish{QoS: 1, Topic: "mix/a", PacketID: 1, Payload: []byte("from 3")})
	expectAck(t, v3, packets.TypePuback, 1)
	for _, c := range []*brokertest.Conn{v5, v3} {
		p := expectPublish(t, c)
		if string(p.Payload) != "from 3" {
			t.Fatalf("got %q", p.Payload)
		}
		c.Send(&packets.Ack{Kind: packets.TypePuback, PacketID: p.PacketID})
	}
	v5.Send(&packets.Publish{QoS: 1, Topic: "mix/b", PacketID: 2, Payload: []byte("from 5")})
	expectAck(t, v5, packets.TypePuback, 2)
	for _, c := range []*brokertest.Conn{v5, v3} {
		if p := expectPublish(t, c); string(p.Payload) != "from 5" {
			t.Fatalf("got %q", p.Payload)
		}
	}
}

// MQTT 3.1 (MQIsdp, level 3) clients connect and exchange messages.
func TestMQTT31(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{})
	c := brokertest.Connect(t, b.Addr, packets.V31, "old-timer", true)
	subscribe(t, c, "legacy", 2)
	c.Send(&packets.Publish{QoS: 2, Topic: "legacy", PacketID: 9, Payload: []byte("hi")})
	expectAck(t, c, packets.TypePubrec, 9)
	if p := expectPublish(t, c); string(p.Payload) != "hi" || p.QoS != 2 {
		t.Fatalf("got %+v", p)
	}
	c.Send(&packets.Ack{Kind: packets.TypePubrel, PacketID: 9})
	expectAck(t, c, packets.TypePubcomp, 9)
	// MQTT 3.1 has no empty client identifiers.
	empty := brokertest.Dial(t, b.Addr, packets.V31)
	empty.Send(&packets.Connect{ProtocolName: "MQIsdp", Version: 3, CleanStart: true, KeepAlive: 60})
	if ack, ok := empty.ExpectClosed().(*packets.Connack); !ok || ack.ReasonCode != packets.ConnRefusedIdentifier {
		t.Fatalf("got %+v, want CONNACK 2", ack)
	}
}
