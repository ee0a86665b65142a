package broker_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/packets"
)

// An MQTT 5 SUBSCRIBE with an invalid filter gets 0x8F for that filter and
// the others still count; UNSUBSCRIBE likewise. The reason string names the
// filter.
func TestV5InvalidFilterGetsReasonCode(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{})
	c, _ := connect5(t, b.Addr, "filters", true, nil)
	c.Send(&packets.Subscribe{PacketID: 3, Subscriptions: []packets.Subscription{
		{Filter: "a/#/b", QoS: 1}, {Filter: "ok/+", QoS: 1}, {Filter: "x+/y"},
	}})
	ack, ok := c.Expect().(*packets.Suback)
	want := []packets.ReasonCode{packets.TopicFilterInvalid, packets.GrantedQoS1, packets.TopicFilterInvalid}
	if !ok || !slices.Equal(ack.ReasonCodes, want) {
		t.Fatalf("SUBACK %+v, want codes %v", ack, want)
	}
	if !strings.Contains(ack.Properties.ReasonString, `"a/#/b"`) {
		t.Errorf("SUBACK reason string %q does not name the filter", ack.Properties.ReasonString)
	}
	pub := brokertest.Connect(t, b.Addr, packets.V311, "", true)
	pub.Send(&packets.Publish{Topic: "ok/1", Payload: []byte("still subscribed")})
	if p := expectPublish(t, c); string(p.Payload) != "still subscribed" {
		t.Fatalf("got %q", p.Payload)
	}

	c.Send(&packets.Unsubscribe{PacketID: 4, Filters: []string{"#/a", "ok/+", "never"}})
	un, ok := c.Expect().(*packets.Unsuback)
	want = []packets.ReasonCode{packets.TopicFilterInvalid, packets.Success, packets.NoSubscriptionExisted}
	if !ok || !slices.Equal(un.ReasonCodes, want) {
		t.Fatalf("UNSUBACK %+v, want codes %v", un, want)
	}
}

// A session holds at most MaxSubscriptions subscriptions: the filters past
// it are refused with 0x97 (0x80 at 3.1.1), replacing one is still allowed.
func TestSubscriptionQuota(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{MaxSubscriptions: 2})
	c, _ := connect5(t, b.Addr, "many", true, nil)
	codes := subscribe5(t, c, 0, packets.Subscription{Filter: "a"}, packets.Subscription{Filter: "b"},
		packets.Subscription{Filter: "c"})
	if want := []packets.ReasonCode{0, 0, packets.QuotaExceeded}; !slices.Equal(codes, want) {
		t.Fatalf("SUBACK codes %v, want %v", codes, want)
	}
	if codes := subscribe5(t, c, 0, packets.Subscription{Filter: "a", QoS: 1}); codes[0] != packets.GrantedQoS1 {
		t.Fatalf("replacing a subscription at the limit: %v", codes)
	}
	c.Send(&packets.Unsubscribe{PacketID: 5, Filters: []string{"b"}})
	c.Expect()
	if codes := subscribe5(t, c, 0, packets.Subscription{Filter: "c"}); codes[0] != 0 {
		t.Fatalf("after an unsubscribe: %v", codes)
	}

	old := brokertest.Connect(t, b.Addr, packets.V311, "old", true)
	old.Send(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: "a"}, {Filter: "b"}, {Filter: "c"}}})
	ack, ok := old.Expect().(*packets.Suback)
	if want := []packets.ReasonCode{0, 0, packets.SubackFailure}; !ok || !slices.Equal(ack.ReasonCodes, want) {
		t.Fatalf("3.1.1 SUBACK %+v, want %v", ack, want)
	}
}

// Over MemoryLimit, a PUBLISH is dropped and its MQTT 5 client gets
// DISCONNECT 0x97; a subscriber stays connected.
func TestMemoryLimitDisconnectsPublisher(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{MemoryLimit: 1})
	sub, _ := connect5(t, b.Addr, "sub", true, nil)
	subscribe5(t, sub, 0, packets.Subscription{Filter: "m"})
	time.Sleep(150 * time.Millisecond) // the heap has been sampled at least once

	pub, _ := connect5(t, b.Addr, "pub", true, nil)
	pub.Send(publish5("m", 1, 1, "too much", 0))
	d, ok := pub.ExpectClosed().(*packets.Disconnect)
	if !ok || d.ReasonCode != packets.QuotaExceeded {
		t.Fatalf("got %+v, want DISCONNECT 0x97", d)
	}
	if st := b.Server.Stats(); st.PublishDropped != 1 {
		t.Errorf("PublishDropped = %d, want 1", st.PublishDropped)
	}
	sub.Send(&packets.Pingreq{})
	if _, ok := sub.Expect().(*packets.Pingresp); !ok {
		t.Fatal("subscriber lost its connection")
	}
}

// Reason strings go to an MQTT 5 client unless it set Request Problem
// Information to 0, and never make a packet larger than the client allows.
func TestV5ReasonStrings(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{TopicAliasMaximum: 2})
	for _, tc := range []struct {
		name string
		fill func(*packets.Connect)
		want bool
	}{
		{"by default", nil, true},
		{"problem information 0", func(p *packets.Connect) {
			p.Properties.RequestProblemInfo = 0
			p.Properties.Set(packets.PropRequestProblemInfo)
		}, false},
		{"maximum packet size too small for one", func(p *packets.Connect) {
			p.Properties.MaximumPacketSize = 12 // CONNACK is 11 bytes
			p.Properties.Set(packets.PropMaximumPacketSize)
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := connect5(t, b.Addr, "short", true, tc.fill)
			c.Send(publish5("a", 0, 0, "x", 3))
			d, ok := c.ExpectClosed().(*packets.Disconnect)
			if !ok || d.ReasonCode != packets.TopicAliasInvalid {
				t.Fatalf("got %+v, want DISCONNECT 0x94", d)
			}
			if got := d.Properties.ReasonString != ""; got != tc.want {
				t.Errorf("reason string %q, want one: %v", d.Properties.ReasonString, tc.want)
			}
		})
	}

	auth := brokertest.Start(t, broker.Options{Authenticator: broker.AuthenticatorFunc(denyAll)})
	c := brokertest.Dial(t, auth.Addr, packets.V5)
	c.Send(&packets.Connect{ProtocolName: "MQTT", Version: packets.V5, CleanStart: true, KeepAlive: 60, ClientID: "x",
		Username: "u", UsernameFlag: true, Password: []byte("wrong"), PasswordFlag: true})
	ack, ok := c.ExpectClosed().(*packets.Connack)
	if !ok || ack.ReasonCode != packets.NotAuthorized || ack.Properties.ReasonString != "bad user name or password" {
		t.Fatalf("got %+v, want CONNACK 0x87 (as Mosquitto) with a reason string", ack)
	}
}

func denyAll(context.Context, broker.ConnectInfo) error { return broker.ErrBadCredentials }
