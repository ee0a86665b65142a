package broker_test

import (
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/packets"
)

// connect5 sends an MQTT 5 CONNECT built by fill and returns the CONNACK.
func connect5(t *testing.T, addr, clientID string, clean bool, fill func(*packets.Connect)) (*brokertest.Conn, *packets.Connack) {
	t.Helper()
	c := brokertest.Dial(t, addr, packets.V5)
	p := &packets.Connect{ProtocolName: "MQTT", Version: packets.V5, CleanStart: clean, KeepAlive: 60, ClientID: clientID}
	if fill != nil {
		fill(p)
	}
	c.Send(p)
	ack, ok := c.Expect().(*packets.Connack)
	if !ok {
		t.Fatalf("got %T, want CONNACK", ack)
	}
	return c, ack
}

func withExpiry(seconds uint32) func(*packets.Connect) {
	return func(p *packets.Connect) {
		p.Properties.SessionExpiry = seconds
		p.Properties.Set(packets.PropSessionExpiry)
	}
}

// A session with an expiry interval outlives its connection for that long
// and no longer; without one (MQTT 5's default) it ends with the
// connection.
func TestSessionExpiry(t *testing.T) {
	b := brokertest.Start(t, broker.Options{})
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
	b := brokertest.Start(t, broker.Options{MaxKeepAlive: 1})
	c, ack := connect5(t, b.Addr, "sleepy", true, func(p *packets.Connect) { p.KeepAlive = 0 })
	if ack.Properties.ServerKeepAlive != 1 {
		t.Fatalf("CONNACK = %+v", ack)
	}
	start := time.Now()
	if d, ok := c.ExpectClosed().(*packets.Disconnect); !ok || d.ReasonCode != packets.KeepAliveTimeout {
		t.Fatalf("got %+v, want DISCONNECT 0x8D", d)
	}
	if time.Since(start) > 4*time.Second {
		t.Fatalf("closed after %v", time.Since(start))
	}
}
