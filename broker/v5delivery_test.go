package broker_test

import (
	"slices"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/packets"
)

// No Local keeps a client's own messages from it; Retain As Published keeps
// the RETAIN flag on forwarded messages, which is otherwise cleared.
func TestNoLocalAndRetainAsPublished(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{})
	self, _ := connect5(t, b.Addr, "self", true, nil)
	subscribe5(t, self, 0, packets.Subscription{Filter: "n/#", QoS: 1, NoLocal: true})
	other, _ := connect5(t, b.Addr, "other", true, nil)
	subscribe5(t, other, 0, packets.Subscription{Filter: "n/rap", RetainAsPublished: true},
		packets.Subscription{Filter: "n/plain"})

	self.Send(publish5("n/own", 1, 1, "mine", 0))
	self.Expect() // PUBACK
	other.Send(&packets.Publish{Topic: "n/rap", Retain: true, Payload: []byte("kept flag")})
	other.Send(&packets.Publish{Topic: "n/plain", Retain: true, Payload: []byte("cleared flag")})
	if p := expectPublish(t, other); p.Topic != "n/rap" || !p.Retain {
		t.Fatalf("Retain As Published: got %+v", p)
	}
	if p := expectPublish(t, other); p.Topic != "n/plain" || p.Retain {
		t.Fatalf("without it: got %+v", p)
	}
	for _, want := range []string{"n/rap", "n/plain"} {
		if p := expectPublish(t, self); p.Topic != want {
			t.Fatalf("self got %q, want %q (and never its own n/own)", p.Topic, want)
		}
	}
	expectNothing(t, self)
}

// Retain Handling 0 sends retained messages at every subscribe, 1 only when
// the subscription is new, 2 never.
func TestRetainHandling(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{})
	pub, _ := connect5(t, b.Addr, "pub", true, nil)
	pub.Send(&packets.Publish{Topic: "r/x", Retain: true, Payload: []byte("stored")})
	waitFor(t, func() bool { return b.Server.Stats().Retained == 1 })
	for _, tc := range []struct {
		handling byte
		first    bool // retained message on the first SUBSCRIBE
		again    bool // and on the same SUBSCRIBE repeated
	}{{0, true, true}, {1, true, false}, {2, false, false}} {
		c, _ := connect5(t, b.Addr, "rh", true, nil)
		for _, want := range []bool{tc.first, tc.again} {
			subscribe5(t, c, 0, packets.Subscription{Filter: "r/#", RetainHandling: tc.handling})
			if want {
				if p := expectPublish(t, c); !p.Retain || string(p.Payload) != "stored" {
					t.Fatalf("handling %d: got %+v", tc.handling, p)
				}
			} else {
				expectNothing(t, c)
			}
		}
	}
}

// Every matching subscription's identifier travels with the message; the
// identifiers of other clients' subscriptions do not.
func TestSubscriptionIdentifiers(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{})
	c, _ := connect5(t, b.Addr, "ids", true, nil)
	subscribe5(t, c, 7, packets.Subscription{Filter: "s/+"})
	subscribe5(t, c, 9, packets.Subscription{Filter: "s/#"})
	subscribe5(t, c, 0, packets.Subscription{Filter: "s/x/none"})
	other, _ := connect5(t, b.Addr, "other", true, nil)
	subscribe5(t, other, 100, packets.Subscription{Filter: "s/#"})
	v3 := brokertest.Connect(t, b.Addr, packets.V311, "v3", true)
	subscribe(t, v3, "s/#", 0)

	pub, _ := connect5(t, b.Addr, "pub", true, nil)
	pub.Send(publish5("s/a", 0, 0, "x", 0))
	p := expectPublish(t, c)
	got := slices.Clone(p.Properties.SubscriptionIDs)
	slices.Sort(got)
	if !slices.Equal(got, []uint32{7, 9}) {
		t.Fatalf("identifiers %v, want 7 and 9", got)
	}
	if p := expectPublish(t, other); !slices.Equal(p.Properties.SubscriptionIDs, []uint32{100}) {
		t.Fatalf("other's identifiers %v", p.Properties.SubscriptionIDs)
	}
	if p := expectPublish(t, v3); string(p.Payload) != "x" {
		t.Fatalf("3.1.1 subscriber got %+v", p)
	}
	pub.Send(publish5("s/x/none", 0, 0, "y", 0))
	if p := expectPublish(t, c); len(p.Properties.SubscriptionIDs) != 1 || p.Properties.SubscriptionIDs[0] != 9 {
		t.Fatalf("identifiers %v, want 9 only", p.Properties.SubscriptionIDs)
	}
}

// A message's expiry interval counts down while it waits, and a message
// whose interval passed before delivery started is dropped: queued for an
// offline session, or retained.
func TestMessageExpiry(t *testing.T) {
	t.Parallel()
	clock := brokertest.NewClock()
	b := brokertest.Start(t, broker.Options{Clock: clock})
	sub, _ := connect5(t, b.Addr, "sub", true, withExpiry(60))
	subscribe5(t, sub, 0, packets.Subscription{Filter: "x/#", QoS: 1})
	sub.Send(&packets.Disconnect{})
	sub.ExpectClosed()
	waitFor(t, func() bool { return b.Server.Stats().ClientsConnected == 0 }) // queued, not in flight

	pub, _ := connect5(t, b.Addr, "pub", true, nil)
	send := func(topicName string, expiry uint32, retain bool) {
		p := publish5(topicName, 1, 1, topicName, 0)
		p.Retain = retain
		p.Properties.MessageExpiry = expiry
		p.Properties.Set(packets.PropMessageExpiry)
		pub.Send(p)
		pub.Expect()
	}
	send("x/short", 1, true)
	send("x/long", 30, false)
	clock.Advance(5 * time.Second)

	sub, _ = connect5(t, b.Addr, "sub", false, withExpiry(60))
	p := expectPublish(t, sub)
	if p.Topic != "x/long" || !p.Properties.Has(packets.PropMessageExpiry) || p.Properties.MessageExpiry != 25 {
		t.Fatalf("got %+v, want x/long with its interval counted down", p)
	}
	sub.Send(&packets.Ack{Kind: packets.TypePuback, PacketID: p.PacketID})
	expectNothing(t, sub)

	late, _ := connect5(t, b.Addr, "late", true, nil)
	subscribe5(t, late, 0, packets.Subscription{Filter: "x/#"})
	expectNothing(t, late) // the retained x/short expired
	if n := b.Server.Stats().Retained; n != 0 {
		t.Fatalf("%d retained messages left, want the expired one removed", n)
	}
}

// A client's Maximum Packet Size counts the subscription identifiers its
// delivery carries: a message that fits without them but not with them is
// not sent.
func TestMaximumPacketSizeCountsSubscriptionIDs(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{})
	c, _ := connect5(t, b.Addr, "small", true, func(p *packets.Connect) {
		p.Properties.MaximumPacketSize = 64
		p.Properties.Set(packets.PropMaximumPacketSize)
	})
	subscribe5(t, c, 1000000, packets.Subscription{Filter: "m/#"}) // a 3-byte identifier
	pub, _ := connect5(t, b.Addr, "pub", true, nil)
	// QoS 0 to "m/1" is 8 bytes plus the payload, and 4 more with the
	// identifier: 54 bytes of payload make 62 without it and 66 with it.
	pub.Send(publish5("m/1", 0, 0, string(make([]byte, 54)), 0))
	pub.Send(publish5("m/1", 0, 0, string(make([]byte, 50)), 0))
	p := expectPublish(t, c)
	if len(p.Payload) != 50 {
		t.Fatalf("got a %d-byte payload, want only the 50-byte one", len(p.Payload))
	}
	expectNothing(t, c)
}
