package broker_test

import (
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/packets"
)

// A session with an expiry interval outlives its connection for that long
// and no longer; without one (MQTT 5's default) it ends with the
// connection.
func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	clock := brokertest.NewClock()
	b := brokertest.Start(t, broker.Options{Clock: clock})
	pub := brokertest.Connect(t, b.Addr, packets.V311, "pub", true)

	c, ack := connect5(t, b.Addr, "lasting", true, withExpiry(1))
	if ack.ReasonCode != 0 || ack.SessionPresent {
		t.Fatalf("CONNACK = %+v", ack)
	}
	subscribe(t, c, "e/#", 1)
	c.Send(&packets.Disconnect{})
	c.ExpectClosed()
	publishQoS1(t, pub, "e/1", "kept", 1)

	c, ack = connect5(t, b.Addr, "lasting", false, withExpiry(1))
	if !ack.SessionPresent {
		t.Fatal("session not present within its expiry interval")
	}
	if p := expectPublish(t, c); string(p.Payload) != "kept" {
		t.Fatalf("got %+v", p)
	}
	c.Send(&packets.Disconnect{})
	c.ExpectClosed()
	waitFor(t, func() bool { return clock.Pending() == 1 }) // its expiry
	clock.Advance(time.Second)
	waitFor(t, func() bool { return b.Server.Stats().SessionsExpired == 1 })
	if _, ack = connect5(t, b.Addr, "lasting", false, nil); ack.SessionPresent {
		t.Fatal("session present after its expiry interval passed")
	}

	c, _ = connect5(t, b.Addr, "fleeting", true, nil)
	subscribe(t, c, "f/#", 1)
	c.Send(&packets.Disconnect{})
	c.ExpectClosed()
	waitFor(t, func() bool { return b.Server.Stats().ClientsConnected == 2 })
	if _, ack = connect5(t, b.Addr, "fleeting", false, nil); ack.SessionPresent {
		t.Fatal("a session without an expiry interval outlived its connection")
	}
}

// DISCONNECT may shorten or lengthen a session's expiry, but not give one
// to a session opened with none [MQTT-3.14.2-2].
func TestDisconnectSessionExpiry(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{})
	c, _ := connect5(t, b.Addr, "grows", true, withExpiry(60))
	d := &packets.Disconnect{}
	d.Properties.SessionExpiry = 0
	d.Properties.Set(packets.PropSessionExpiry)
	c.Send(d)
	c.ExpectClosed()
	waitFor(t, func() bool { return b.Server.Stats().ClientsTotal == 0 })

	c, _ = connect5(t, b.Addr, "zero", true, nil)
	d = &packets.Disconnect{}
	d.Properties.SessionExpiry = 30
	d.Properties.Set(packets.PropSessionExpiry)
	c.Send(d)
	if got, ok := c.ExpectClosed().(*packets.Disconnect); !ok || got.ReasonCode != packets.ProtocolError {
		t.Fatalf("got %+v, want DISCONNECT 0x82", got)
	}
}

// CONNACK tells an MQTT 5 client what the broker allows.
func TestConnackProperties(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{MaxKeepAlive: 30, ReceiveMaximum: 5, MaxPacketSize: 4096})
	_, ack := connect5(t, b.Addr, "", true, func(p *packets.Connect) {
		p.KeepAlive = 300
		p.Properties.RequestResponseInfo = 1
		p.Properties.Set(packets.PropRequestResponseInfo)
	})
	pr := &ack.Properties
	for _, tc := range []struct {
		id   packets.PropertyID
		ok   bool
		what string
	}{
		{packets.PropAssignedClientID, pr.AssignedClientID != "", "assigned client identifier"},
		{packets.PropServerKeepAlive, pr.ServerKeepAlive == 30, "server keep alive 30"},
		{packets.PropReceiveMaximum, pr.ReceiveMaximum == 5, "receive maximum 5"},
		{packets.PropMaximumPacketSize, pr.MaximumPacketSize == 4096, "maximum packet size 4096"},
		{packets.PropTopicAliasMaximum, pr.TopicAliasMaximum == 10, "topic alias maximum 10"},
		{packets.PropResponseInfo, pr.ResponseInfo == "response/"+pr.AssignedClientID, "response information"},
	} {
		if !pr.Has(tc.id) || !tc.ok {
			t.Errorf("CONNACK lacks %s: %+v", tc.what, pr)
		}
	}
	if ack.ReasonCode != 0 {
		t.Fatalf("CONNACK = %+v", ack)
	}
}

// The imposed keep alive is enforced: a client silent for 1.5 times the
// server's keep alive is closed with 0x8D.
func TestServerKeepAliveEnforced(t *testing.T) {
	t.Parallel()
	clock := brokertest.NewClock()
	b := brokertest.Start(t, broker.Options{MaxKeepAlive: 1, Clock: clock})
	c, ack := connect5(t, b.Addr, "sleepy", true, func(p *packets.Connect) { p.KeepAlive = 0 })
	if ack.Properties.ServerKeepAlive != 1 {
		t.Fatalf("CONNACK = %+v", ack)
	}
	clock.Advance(2 * time.Second)
	if d, ok := c.ExpectClosed().(*packets.Disconnect); !ok || d.ReasonCode != packets.KeepAliveTimeout {
		t.Fatalf("got %+v, want DISCONNECT 0x8D", d)
	}
}

// A client's topic aliases: defined with a topic, used without one; alias 0
// or above the maximum is 0x94, an undefined one a protocol error. The
// alias never reaches subscribers.
func TestInboundTopicAliases(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{TopicAliasMaximum: 2})
	sub, _ := connect5(t, b.Addr, "sub", true, nil)
	subscribe(t, sub, "a/#", 0)
	pub, _ := connect5(t, b.Addr, "pub", true, nil)
	pub.Send(publish5("a/long/topic", 0, 0, "one", 2))
	pub.Send(publish5("", 0, 0, "two", 2))
	for _, want := range []string{"one", "two"} {
		p := expectPublish(t, sub)
		if p.Topic != "a/long/topic" || string(p.Payload) != want || p.Properties.Has(packets.PropTopicAlias) {
			t.Fatalf("got %+v", p)
		}
	}
	for _, tc := range []struct {
		p    *packets.Publish
		want packets.ReasonCode
	}{
		{publish5("a/x", 0, 0, "x", 3), packets.TopicAliasInvalid},
		{publish5("", 0, 0, "x", 1), packets.ProtocolError},
	} {
		c, _ := connect5(t, b.Addr, "bad", true, nil)
		c.Send(tc.p)
		if d, ok := c.ExpectClosed().(*packets.Disconnect); !ok || d.ReasonCode != tc.want {
			t.Errorf("alias %d: got %+v, want DISCONNECT %#x", tc.p.Properties.TopicAlias, d, byte(tc.want))
		}
	}
}

// More QoS 2 messages awaiting PUBREL than the announced receive maximum
// is 0x93.
func TestReceiveMaximumExceeded(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{ReceiveMaximum: 2})
	c, _ := connect5(t, b.Addr, "eager", true, nil)
	for id := uint16(1); id <= 2; id++ {
		c.Send(publish5("q", 2, id, "x", 0))
		expectAck(t, c, packets.TypePubrec, id)
	}
	c.Send(publish5("q", 2, 3, "x", 0))
	if d, ok := c.ExpectClosed().(*packets.Disconnect); !ok || d.ReasonCode != packets.ReceiveMaximumExceeded {
		t.Fatalf("got %+v, want DISCONNECT 0x93", d)
	}
}

// MQTT 5 acknowledgements say when no subscription matched (0x10).
func TestNoMatchingSubscribers(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{})
	c, _ := connect5(t, b.Addr, "lonely", true, nil)
	c.Send(publish5("nobody/listens", 1, 1, "x", 0))
	if a, ok := c.Expect().(*packets.Ack); !ok || a.ReasonCode != packets.NoMatchingSubscribers {
		t.Fatalf("got %+v, want PUBACK 0x10", a)
	}
	subscribe(t, c, "somebody/#", 0)
	c.Send(publish5("somebody/listens", 2, 2, "x", 0))
	if a, ok := c.Expect().(*packets.Ack); !ok || a.Kind != packets.TypePubrec || a.ReasonCode != packets.Success {
		t.Fatalf("got %+v, want PUBREC 0x00", a)
	}
}

// Maximum packet size both ways: a packet over the broker's limit is 0x95;
// a message over the client's limit is not sent to it, and counted.
func TestMaximumPacketSize(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{MaxPacketSize: 256})
	big := string(make([]byte, 300))
	c, _ := connect5(t, b.Addr, "big", true, nil)
	c.Send(publish5("t", 0, 0, big, 0))
	if d, ok := c.ExpectClosed().(*packets.Disconnect); !ok || d.ReasonCode != packets.PacketTooLarge {
		t.Fatalf("got %+v, want DISCONNECT 0x95", d)
	}

	small, _ := connect5(t, b.Addr, "small", true, func(p *packets.Connect) {
		p.Properties.MaximumPacketSize = 64
		p.Properties.Set(packets.PropMaximumPacketSize)
	})
	subscribe(t, small, "m/#", 1)
	pub, _ := connect5(t, b.Addr, "pub", true, nil)
	before := b.Server.Stats().PublishDropped
	pub.Send(publish5("m/1", 1, 1, string(make([]byte, 100)), 0))
	pub.Expect()
	pub.Send(publish5("m/2", 1, 2, "fits", 0))
	pub.Expect()
	if p := expectPublish(t, small); string(p.Payload) != "fits" {
		t.Fatalf("got %+v, want only the message that fits", p)
	}
	if got := b.Server.Stats().PublishDropped - before; got != 1 {
		t.Fatalf("dropped %d, want 1", got)
	}
}

// A QoS 1 PUBLISH reusing the identifier of a QoS 2 message not yet
// released is answered 0x91 and not delivered.
func TestPacketIdentifierInUse(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{})
	sub, _ := connect5(t, b.Addr, "sub", true, nil)
	subscribe(t, sub, "id/#", 1)
	c, _ := connect5(t, b.Addr, "reuse", true, nil)
	c.Send(publish5("id/2", 2, 5, "qos2", 0))
	expectAck(t, c, packets.TypePubrec, 5)
	c.Send(publish5("id/1", 1, 5, "qos1", 0))
	if a, ok := c.Expect().(*packets.Ack); !ok || a.Kind != packets.TypePuback || a.ReasonCode != packets.PacketIDInUse {
		t.Fatalf("got %+v, want PUBACK 0x91", a)
	}
	if p := expectPublish(t, sub); string(p.Payload) != "qos2" {
		t.Fatalf("got %+v", p)
	}
	expectNothing(t, sub)
}

// The broker never has more unacknowledged QoS 1/2 messages toward a
// client than the Receive Maximum it announced.
func TestClientReceiveMaximumHonoured(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{})
	c, _ := connect5(t, b.Addr, "slow", true, func(p *packets.Connect) {
		p.Properties.ReceiveMaximum = 2
		p.Properties.Set(packets.PropReceiveMaximum)
	})
	subscribe(t, c, "rm/#", 1)
	pub := brokertest.Connect(t, b.Addr, packets.V311, "pub", true)
	for i := range 5 {
		publishQoS1(t, pub, "rm/x", "m", uint16(i+1))
	}
	first, second := expectPublish(t, c), expectPublish(t, c)
	expectNothing(t, c) // two in flight: the window is full
	c.Send(&packets.Ack{Kind: packets.TypePuback, PacketID: first.PacketID})
	third := expectPublish(t, c)
	expectNothing(t, c)
	for _, p := range []*packets.Publish{second, third} {
		c.Send(&packets.Ack{Kind: packets.TypePuback, PacketID: p.PacketID})
	}
	expectPublish(t, c)
	expectPublish(t, c)
	expectNothing(t, c)
}
