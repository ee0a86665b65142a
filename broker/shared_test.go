package broker_test

import (
	"fmt"
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/packets"
)

// Each message on a shared subscription goes to exactly one member of the
// group, the members taking turns; a 3.1.1 client may be a member as in
// Mosquitto; a plain subscription to the same filter still gets every
// message; another group gets its own copy.
func TestSharedSubscriptionDistributes(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{})
	m5, _ := connect5(t, b.Addr, "m5", true, nil)
	subscribe5(t, m5, 0, packets.Subscription{Filter: "$share/workers/jobs/#", QoS: 1})
	m3 := brokertest.Connect(t, b.Addr, packets.V311, "m3", true)
	subscribe(t, m3, "$share/workers/jobs/#", 1)
	other := brokertest.Connect(t, b.Addr, packets.V311, "other", true)
	subscribe(t, other, "$share/audit/jobs/#", 0)
	plain := brokertest.Connect(t, b.Addr, packets.V311, "plain", true)
	subscribe(t, plain, "jobs/#", 0)

	pub := brokertest.Connect(t, b.Addr, packets.V311, "pub", true)
	const n = 20
	for i := range n {
		publishQoS1(t, pub, fmt.Sprintf("jobs/%d", i), "job", uint16(i+1))
	}
	seen := map[string]int{}
	drain := func(c *brokertest.Conn, count int) {
		for range count {
			p := expectPublish(t, c)
			seen[p.Topic]++
			if p.QoS == 1 {
				c.Send(&packets.Ack{Kind: packets.TypePuback, PacketID: p.PacketID})
			}
		}
	}
	drain(m5, n/2)
	drain(m3, n/2)
	expectNothing(t, m5)
	expectNothing(t, m3)
	for i := range n {
		if got := seen[fmt.Sprintf("jobs/%d", i)]; got != 1 {
			t.Fatalf("jobs/%d delivered %d times to the group", i, got)
		}
	}
	for _, c := range []*brokertest.Conn{other, plain} {
		for range n {
			expectPublish(t, c)
		}
	}
}

// Retained messages are not sent on a shared subscription, and No Local on
// one is a protocol error [MQTT-3.8.3-4].
func TestSharedSubscriptionRules(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{})
	pub := brokertest.Connect(t, b.Addr, packets.V311, "pub", true)
	pub.Send(&packets.Publish{Topic: "r/1", Retain: true, Payload: []byte("kept")})
	waitFor(t, func() bool { return b.Server.Stats().Retained == 1 })
	c, _ := connect5(t, b.Addr, "member", true, nil)
	subscribe5(t, c, 0, packets.Subscription{Filter: "$share/g/r/#"})
	expectNothing(t, c)

	c.Send(&packets.Subscribe{PacketID: 2, Subscriptions: []packets.Subscription{{Filter: "$share/g/x", NoLocal: true}}})
	if d, ok := c.ExpectClosed().(*packets.Disconnect); !ok || d.ReasonCode != packets.ProtocolError {
		t.Fatalf("got %+v, want DISCONNECT 0x82", d)
	}
}

// A member that is offline is passed over while another is online; a
// member that left with a message in flight gets it again when it resumes
// its session.
func TestSharedSubscriptionOfflineMember(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{})
	away, _ := connect5(t, b.Addr, "away", true, withExpiry(60))
	subscribe5(t, away, 0, packets.Subscription{Filter: "$share/g/w", QoS: 1})
	here, _ := connect5(t, b.Addr, "here", true, nil)
	subscribe5(t, here, 0, packets.Subscription{Filter: "$share/g/w", QoS: 1})

	pub := brokertest.Connect(t, b.Addr, packets.V311, "pub", true)
	// One message each, in turn; "away" leaves without acknowledging.
	publishQoS1(t, pub, "w", "first", 1)
	publishQoS1(t, pub, "w", "second", 2)
	var pending string
	for _, c := range []*brokertest.Conn{away, here} {
		p := expectPublish(t, c)
		if c == away {
			pending = string(p.Payload)
		} else {
			c.Send(&packets.Ack{Kind: packets.TypePuback, PacketID: p.PacketID})
		}
	}
	away.Net.Close()
	waitFor(t, func() bool { return b.Server.Stats().ClientsConnected == 2 })

	for i := range 4 {
		publishQoS1(t, pub, "w", "while away", uint16(10+i))
		p := expectPublish(t, here)
		here.Send(&packets.Ack{Kind: packets.TypePuback, PacketID: p.PacketID})
	}
	back, ack := connect5(t, b.Addr, "away", false, withExpiry(60))
	if !ack.SessionPresent {
		t.Fatal("session lost")
	}
	if p := expectPublish(t, back); string(p.Payload) != pending || !p.Dup {
		t.Fatalf("resumed member got %+v, want %q again", p, pending)
	}
	expectNothing(t, back)
}

// $share/ names subscriptions, not topics: a PUBLISH to it is dropped (MQTT
// 5: 0x87), as Mosquitto does.
func TestPublishToShareRefused(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{})
	c, _ := connect5(t, b.Addr, "pub", true, nil)
	c.Send(publish5("$share/g/t", 1, 1, "x", 0))
	if a, ok := c.Expect().(*packets.Ack); !ok || a.ReasonCode != packets.NotAuthorized {
		t.Fatalf("got %+v, want PUBACK 0x87", a)
	}
}
