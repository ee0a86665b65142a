package broker_test

import (
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/packets"
)

// Each MQTT 5 protocol error ends that client's connection with its own
// DISCONNECT reason code, and a bystander subscribed all along still
// receives messages afterwards.
func TestV5ProtocolErrorsCloseOnlyThatClient(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{TopicAliasMaximum: 2, ReceiveMaximum: 1, MaxPacketSize: 512})
	bystander := brokertest.Connect(t, b.Addr, packets.V311, "bystander", true)
	subscribe(t, bystander, "check/#", 1)

	disconnectWithExpiry := &packets.Disconnect{}
	disconnectWithExpiry.Properties.SessionExpiry = 10
	disconnectWithExpiry.Properties.Set(packets.PropSessionExpiry)
	for _, tc := range []struct {
		name string
		send []packets.Packet
		want packets.ReasonCode
	}{
		{"MQTT-3.2.2-17 topic alias above the maximum", []packets.Packet{publish5("a", 0, 0, "x", 3)}, packets.TopicAliasInvalid},
		{"MQTT-3.3.2-8 topic alias 0", []packets.Packet{aliasZero()}, packets.TopicAliasInvalid},
		{"MQTT-3.3.2-7 topic alias never defined", []packets.Packet{publish5("", 0, 0, "x", 1)}, packets.ProtocolError},
		{"MQTT-3.3.4-6 subscription identifier from the client", []packets.Packet{withSubID(publish5("check/subid", 1, 1, "x", 0))}, packets.ProtocolError},
		{"MQTT-3.3.4-9 receive maximum exceeded", []packets.Packet{publish5("q", 2, 1, "x", 0), publish5("q", 2, 2, "x", 0)}, packets.ReceiveMaximumExceeded},
		{"MQTT-3.2.2-15 packet too large", []packets.Packet{publish5("big", 0, 0, string(make([]byte, 600)), 0)}, packets.PacketTooLarge},
		{"MQTT-3.14.2-2 session expiry set at DISCONNECT", []packets.Packet{disconnectWithExpiry}, packets.ProtocolError},
		{"MQTT-3.8.3-4 no local on a shared subscription", []packets.Packet{&packets.Subscribe{PacketID: 1,
			Subscriptions: []packets.Subscription{{Filter: "$share/g/x", NoLocal: true}}}}, packets.ProtocolError},
		{"MQTT-4.12.0-7 AUTH without a method", []packets.Packet{&packets.Auth{ReasonCode: packets.ReAuthenticate}}, packets.ProtocolError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := connect5(t, b.Addr, "bad", true, nil)
			for _, p := range tc.send {
				c.Send(p)
			}
			var last packets.Packet
			for {
				p, err := c.Read()
				if err != nil {
					break
				}
				last = p
			}
			if d, ok := last.(*packets.Disconnect); !ok || d.ReasonCode != tc.want {
				t.Fatalf("last packet %T %+v, want DISCONNECT %#x", last, last, byte(tc.want))
			}
			checkBystander(t, b, bystander)
		})
	}
}

// withSubID gives p a Subscription Identifier, which only a server may
// send in a PUBLISH [MQTT-3.3.4-6].
func withSubID(p *packets.Publish) *packets.Publish {
	p.Properties.SubscriptionIDs = []uint32{7}
	return p
}

func aliasZero() *packets.Publish {
	p := publish5("a", 0, 0, "x", 0)
	p.Properties.TopicAlias = 0
	p.Properties.Set(packets.PropTopicAlias)
	return p
}
