package broker_test

import (
	"fmt"
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/packets"
)

// The broker's Receive Maximum is max_inflight_messages, as in Mosquitto:
// announced in CONNACK and enforced on the QoS 1 and 2 messages the client
// has sent and the broker not yet answered, QoS 2 ones awaiting PUBREL
// included; one more is DISCONNECT 0x93 [MQTT-3.3.4-9].
func TestReceiveMaximumFromMaxInflight(t *testing.T) {
	t.Parallel()
	t.Run("MQTT-3.3.4-9 QoS 2 awaiting PUBREL", func(t *testing.T) {
		b := brokertest.Start(t, broker.Options{}) // max_inflight_messages 20
		c, ack := connect5(t, b.Addr, "q2", true, nil)
		if !ack.Properties.Has(packets.PropReceiveMaximum) || ack.Properties.ReceiveMaximum != 20 {
			t.Fatalf("CONNACK %+v, want Receive Maximum 20", ack.Properties)
		}
		for id := uint16(1); id <= 20; id++ {
			c.Send(publish5("q", 2, id, "x", 0))
			expectAck(t, c, packets.TypePubrec, id)
		}
		// Releasing one makes room for one.
		c.Send(&packets.Ack{Kind: packets.TypePubrel, PacketID: 1})
		expectAck(t, c, packets.TypePubcomp, 1)
		c.Send(publish5("q", 2, 21, "x", 0))
		expectAck(t, c, packets.TypePubrec, 21)
		c.Send(publish5("q", 1, 22, "x", 0)) // QoS 1 counts against the same bound
		if d, ok := c.ExpectClosed().(*packets.Disconnect); !ok || d.ReasonCode != packets.ReceiveMaximumExceeded {
			t.Fatalf("got %+v, want DISCONNECT 0x93", d)
		}
	})

	t.Run("MQTT-3.3.4-9 QoS 1 waiting for the store", func(t *testing.T) {
		st := &heldStore{gate: make(chan struct{})}
		b := brokertest.Start(t, broker.Options{MaxInflight: 3, Store: st})
		c, ack := connect5(t, b.Addr, "q1", true, nil)
		if ack.Properties.ReceiveMaximum != 3 {
			t.Fatalf("CONNACK %+v, want Receive Maximum 3", ack.Properties)
		}
		for id := uint16(1); id <= 3; id++ {
			c.Send(publish5("q", 1, id, "x", 0))
		}
		st.gate <- struct{}{} // one PUBACK out (heldStore keeps no order): three unanswered become two
		if a, ok := c.Expect().(*packets.Ack); !ok || a.Kind != packets.TypePuback {
			t.Fatalf("got %+v, want a PUBACK", a)
		}
		c.Send(publish5("q", 1, 4, "x", 0))
		c.Send(publish5("q", 1, 5, "x", 0))
		if d, ok := c.ExpectClosed().(*packets.Disconnect); !ok || d.ReasonCode != packets.ReceiveMaximumExceeded {
			t.Fatalf("got %+v, want DISCONNECT 0x93", d)
		}
		close(st.gate) // let the held syncs finish
	})

	t.Run("unlimited", func(t *testing.T) {
		// max_inflight_messages 0 is unlimited, and no property is sent.
		b := brokertest.Start(t, broker.Options{MaxInflight: 65535})
		_, ack := connect5(t, b.Addr, "any", true, nil)
		if ack.Properties.Has(packets.PropReceiveMaximum) {
			t.Fatalf("CONNACK %+v, want no Receive Maximum", ack.Properties)
		}
	})

	t.Run("MQTT 3.1.1", func(t *testing.T) {
		// 3.1.1 has no Receive Maximum: QoS 2 state is bounded by the
		// identifiers alone, as in Mosquitto.
		b := brokertest.Start(t, broker.Options{MaxInflight: 2})
		c := brokertest.Connect(t, b.Addr, packets.V311, "old", true)
		for id := uint16(1); id <= 5; id++ {
			c.Send(&packets.Publish{Topic: "q", QoS: 2, PacketID: id, Payload: []byte(fmt.Sprint(id))})
			expectAck(t, c, packets.TypePubrec, id)
		}
	})
}
