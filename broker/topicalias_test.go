package broker_test

import (
	"fmt"
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/packets"
)

// allowAliases is a CONNECT with a Topic Alias Maximum.
func allowAliases(n uint16) func(*packets.Connect) {
	return func(p *packets.Connect) {
		p.Properties.TopicAliasMaximum = n
		p.Properties.Set(packets.PropTopicAliasMaximum)
	}
}

// expectAliased reads a PUBLISH and checks its topic name field and
// Topic Alias (0: none) as sent on the wire.
func expectAliased(t *testing.T, c *brokertest.Conn, wantTopic string, wantAlias uint16, payload string) *packets.Publish {
	t.Helper()
	p := expectPublish(t, c)
	alias := uint16(0)
	if p.Properties.Has(packets.PropTopicAlias) {
		alias = p.Properties.TopicAlias
	}
	if p.Topic != wantTopic || alias != wantAlias || string(p.Payload) != payload {
		t.Fatalf("got topic %q alias %d payload %q, want topic %q alias %d payload %q",
			p.Topic, alias, p.Payload, wantTopic, wantAlias, payload)
	}
	return p
}

// The broker assigns topic aliases on the PUBLISH packets it sends: the
// first message on a topic carries the name and an alias, later ones only
// the alias; at the client's maximum the least recently used alias goes to
// the next new topic. A subscriber sharing the same encoding without
// aliases still gets plain packets.
func TestBrokerTopicAliases(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{})
	sub, _ := connect5(t, b.Addr, "aliased", true, allowAliases(2))
	subscribe(t, sub, "ta/#", 0)
	plain, _ := connect5(t, b.Addr, "plain", true, nil)
	subscribe(t, plain, "ta/#", 0)
	pub := brokertest.Connect(t, b.Addr, packets.V5, "pub", true)

	steps := []struct {
		topic     string
		wantTopic string // "" when only the alias is sent
		wantAlias uint16
	}{
		{"ta/a", "ta/a", 1},
		{"ta/a", "", 1},
		{"ta/b", "ta/b", 2},
		{"ta/a", "", 1},     // ta/b is now the least recently used
		{"ta/c", "ta/c", 2}, // replaces ta/b
		{"ta/b", "ta/b", 1}, // replaces ta/a
		{"ta/c", "", 2},
		{"ta/b", "", 1},
	}
	for i, s := range steps {
		payload := fmt.Sprint(i)
		pub.Send(&packets.Publish{Topic: s.topic, Payload: []byte(payload)})
		expectAliased(t, sub, s.wantTopic, s.wantAlias, payload)
		expectAliased(t, plain, s.topic, 0, payload)
	}
}

// No alias reaches a client whose CONNECT had no Topic Alias Maximum or 0
// [MQTT-3.1.2-27], nor one at 3.1.1; none goes above the client's maximum
// [MQTT-3.1.2-26] [MQTT-3.3.2-11] or the broker's option, and
// NoBrokerTopicAliases assigns none.
func TestBrokerTopicAliasLimits(t *testing.T) {
	t.Parallel()
	// want is the alias each of four messages on l/0, l/1, l/2, l/0 gets;
	// the fourth goes without its name when reused says so.
	run := func(t *testing.T, opts broker.Options, fill func(*packets.Connect), version byte, want []uint16, reused bool) {
		b := brokertest.Start(t, opts)
		var sub *brokertest.Conn
		if version == packets.V5 {
			sub, _ = connect5(t, b.Addr, "sub", true, fill)
		} else {
			sub = brokertest.Connect(t, b.Addr, version, "sub", true)
		}
		subscribe(t, sub, "l/#", 1)
		pub := brokertest.Connect(t, b.Addr, packets.V311, "pub", true)
		for i, alias := range want {
			topic := fmt.Sprintf("l/%d", i%3)
			pub.Send(&packets.Publish{Topic: topic, Payload: []byte("x")})
			wantTopic := topic
			if i == 3 && reused {
				wantTopic = ""
			}
			expectAliased(t, sub, wantTopic, alias, "x")
		}
	}
	none := []uint16{0, 0, 0, 0}
	t.Run("MQTT-3.1.2-27 no Topic Alias Maximum", func(t *testing.T) {
		run(t, broker.Options{}, nil, packets.V5, none, false)
	})
	t.Run("MQTT-3.1.2-27 Topic Alias Maximum 0", func(t *testing.T) {
		run(t, broker.Options{}, allowAliases(0), packets.V5, none, false)
	})
	t.Run("MQTT 3.1.1", func(t *testing.T) {
		run(t, broker.Options{}, nil, packets.V311, none, false)
	})
	t.Run("NoBrokerTopicAliases", func(t *testing.T) {
		run(t, broker.Options{NoBrokerTopicAliases: true}, allowAliases(10), packets.V5, none, false)
	})
	t.Run("MQTT-3.3.2-11 client's maximum", func(t *testing.T) {
		// Two aliases: l/2 takes the least recently used, l/0's, and l/0
		// then takes l/1's.
		run(t, broker.Options{}, allowAliases(2), packets.V5, []uint16{1, 2, 1, 2}, false)
	})
	t.Run("option below the client's maximum", func(t *testing.T) {
		// One alias: each new topic takes it over.
		run(t, broker.Options{BrokerTopicAliasMaximum: 1}, allowAliases(10), packets.V5, []uint16{1, 1, 1, 1}, false)
	})
	t.Run("within both", func(t *testing.T) {
		run(t, broker.Options{}, allowAliases(3), packets.V5, []uint16{1, 2, 3, 1}, true)
	})
}

// Aliases belong to one network connection [MQTT-3.3.2-7]: a QoS 1
// message resent after a reconnect goes with its topic name and an alias
// of the new connection, or with no alias when that connection allows
// none.
func TestBrokerTopicAliasReconnect(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{})
	sub, _ := connect5(t, b.Addr, "s", true, func(p *packets.Connect) {
		withExpiry(60)(p)
		allowAliases(5)(p)
	})
	subscribe(t, sub, "r/#", 1)
	pub := brokertest.Connect(t, b.Addr, packets.V311, "pub", true)
	pub.Send(&packets.Publish{Topic: "r/x", QoS: 1, PacketID: 1, Payload: []byte("one")})
	expectAck(t, pub, packets.TypePuback, 1)
	first := expectAliased(t, sub, "r/x", 1, "one")
	pub.Send(&packets.Publish{Topic: "r/x", QoS: 1, PacketID: 2, Payload: []byte("two")})
	expectAck(t, pub, packets.TypePuback, 2)
	expectAliased(t, sub, "", 1, "two")
	sub.Net.Close() // neither acknowledged

	t.Run("MQTT-3.3.2-7 new connection's alias", func(t *testing.T) {
		again, _ := connect5(t, b.Addr, "s", false, func(p *packets.Connect) {
			withExpiry(60)(p)
			allowAliases(5)(p)
		})
		p := expectAliased(t, again, "r/x", 1, "one")
		if !p.Dup || p.PacketID != first.PacketID {
			t.Fatalf("resent %+v, want DUP and packet identifier %d", p, first.PacketID)
		}
		if p := expectAliased(t, again, "", 1, "two"); !p.Dup {
			t.Fatalf("resent %+v without DUP", p)
		}
		again.Net.Close()
	})
	t.Run("MQTT-3.3.2-9 new connection without aliases", func(t *testing.T) {
		again, _ := connect5(t, b.Addr, "s", false, withExpiry(60))
		for _, payload := range []string{"one", "two"} {
			if p := expectAliased(t, again, "r/x", 0, payload); !p.Dup {
				t.Fatalf("resent %+v without DUP", p)
			}
		}
	})
}

// Deliveries encoded for one subscriber (a subscription identifier) get
// aliases too; a packet the alias would take past the client's Maximum
// Packet Size goes without one [MQTT-3.1.2-24].
func TestBrokerTopicAliasOwnEncodingAndSize(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{})
	pub := brokertest.Connect(t, b.Addr, packets.V311, "pub", true)

	t.Run("subscription identifier", func(t *testing.T) {
		sub, _ := connect5(t, b.Addr, "ids", true, allowAliases(4))
		subscribe5(t, sub, 42, packets.Subscription{Filter: "own/#"})
		for i, want := range []string{"own/x", ""} {
			pub.Send(&packets.Publish{Topic: "own/x", Payload: []byte{byte('0' + i)}})
			p := expectAliased(t, sub, want, 1, string(rune('0'+i)))
			if len(p.Properties.SubscriptionIDs) != 1 || p.Properties.SubscriptionIDs[0] != 42 {
				t.Fatalf("subscription identifiers %v, want [42]", p.Properties.SubscriptionIDs)
			}
		}
		sub.Net.Close()
	})
	t.Run("MQTT-3.1.2-24 Maximum Packet Size", func(t *testing.T) {
		// The plain packet fits exactly; with the alias property it would not.
		plain, _ := (&packets.Publish{Topic: "size/x", Payload: []byte("abc")}).Encode(nil, packets.V5)
		sub, _ := connect5(t, b.Addr, "size", true, func(p *packets.Connect) {
			allowAliases(4)(p)
			p.Properties.MaximumPacketSize = uint32(len(plain))
			p.Properties.Set(packets.PropMaximumPacketSize)
		})
		subscribe(t, sub, "size/#", 0)
		for range 2 {
			pub.Send(&packets.Publish{Topic: "size/x", Payload: []byte("abc")})
			expectAliased(t, sub, "size/x", 0, "abc")
		}
	})
}
