package broker_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"sync/atomic"
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/packets"
	"github.com/midge-mqtt/midge/topic"
)

type userAccess struct {
	r    *rules
	user string
}

func allowed(filters []string, name string) bool {
	for _, f := range filters {
		if topic.Match(f, name) {
			return true
		}
	}
	return false
}

func (a userAccess) CanRead(name string) bool  { return allowed((*a.r.read.Load())[a.user], name) }
func (a userAccess) CanWrite(name string) bool { return allowed((*a.r.write.Load())[a.user], name) }

func accessBroker(t *testing.T, r *rules) *brokertest.Broker {
	return brokertest.Start(t, broker.Options{Authorizer: r})
}

// A subscription to # or a/+/c delivers only the topics the client may
// read: the ACL is applied to each message at delivery, not to the filter.
func TestWildcardSubscriptionOnlyReadableTopics(t *testing.T) {
	t.Parallel()
	r := newRules(map[string][]string{"reader": {"public/#", "a/x/c"}}, map[string][]string{"writer": {"#"}})
	b := accessBroker(t, r)
	sub := brokertest.ConnectUser(t, b.Addr, packets.V311, "sub", "reader", true)
	subscribe(t, sub, "#", 1)
	sub.Send(&packets.Subscribe{PacketID: 2, Subscriptions: []packets.Subscription{{Filter: "a/+/c", QoS: 1}}})
	sub.Expect()
	pub := brokertest.ConnectUser(t, b.Addr, packets.V311, "pub", "writer", true)
	for i, name := range []string{"secret/1", "a/y/c", "public/1", "a/x/c"} {
		publishQoS1(t, pub, name, name, uint16(i+1))
	}
	for _, want := range []string{"public/1", "a/x/c"} {
		p := expectPublish(t, sub)
		if p.Topic != want {
			t.Fatalf("got %q, want %q", p.Topic, want)
		}
		sub.Send(&packets.Ack{Kind: packets.TypePuback, PacketID: p.PacketID})
	}
	expectNothing(t, sub)
}

// Retained messages replayed on SUBSCRIBE are read-checked one by one.
func TestRetainedOnlyReadable(t *testing.T) {
	t.Parallel()
	r := newRules(map[string][]string{"reader": {"r/open"}}, map[string][]string{"writer": {"#"}})
	b := accessBroker(t, r)
	pub := brokertest.ConnectUser(t, b.Addr, packets.V311, "pub", "writer", true)
	for i, name := range []string{"r/closed", "r/open"} {
		pub.Send(&packets.Publish{QoS: 1, Retain: true, Topic: name, PacketID: uint16(i + 1), Payload: []byte("x")})
		pub.Expect()
	}
	sub := brokertest.ConnectUser(t, b.Addr, packets.V311, "sub", "reader", true)
	subscribe(t, sub, "r/#", 0)
	if p := expectPublish(t, sub); p.Topic != "r/open" || !p.Retain {
		t.Fatalf("got %+v", p)
	}
	expectNothing(t, sub)
}

// A PUBLISH the client may not write is dropped. MQTT 3.1.1 has no way to
// say so: the PUBACK/PUBREC is positive, as Mosquitto sends it. MQTT 5
// acknowledges with 0x87.
func TestPublishDenied(t *testing.T) {
	t.Parallel()
	r := newRules(map[string][]string{"reader": {"#"}}, map[string][]string{"writer": {"ok/#"}})
	b := accessBroker(t, r)
	sub := brokertest.ConnectUser(t, b.Addr, packets.V311, "sub", "reader", true)
	subscribe(t, sub, "#", 2)

	pub := brokertest.ConnectUser(t, b.Addr, packets.V311, "pub", "writer", true)
	if a := publishQoS1(t, pub, "no/1", "x", 1); a.ReasonCode != 0 {
		t.Fatalf("3.1.1 PUBACK reason = %v", a.ReasonCode)
	}
	pub.Send(&packets.Publish{QoS: 2, Topic: "no/2", PacketID: 2, Payload: []byte("x")})
	expectAck(t, pub, packets.TypePubrec, 2)
	pub.Send(&packets.Ack{Kind: packets.TypePubrel, PacketID: 2})
	expectAck(t, pub, packets.TypePubcomp, 2)
	pub.Send(&packets.Publish{QoS: 0, Retain: true, Topic: "no/3", Payload: []byte("x")})

	v5 := brokertest.Dial(t, b.Addr, packets.V5)
	v5.Send(&packets.Connect{ProtocolName: "MQTT", Version: packets.V5, CleanStart: true, ClientID: "pub5",
		Username: "writer", UsernameFlag: true})
	v5.Expect()
	v5.Send(&packets.Publish{QoS: 1, Topic: "no/4", PacketID: 4, Payload: []byte("x")})
	if a, ok := v5.Expect().(*packets.Ack); !ok || a.Kind != packets.TypePuback || a.ReasonCode != packets.NotAuthorized {
		t.Fatalf("MQTT 5 PUBACK = %+v, want 0x87", a)
	}
	v5.Send(&packets.Publish{QoS: 2, Topic: "no/5", PacketID: 5, Payload: []byte("x")})
	if a, ok := v5.Expect().(*packets.Ack); !ok || a.Kind != packets.TypePubrec || a.ReasonCode != packets.NotAuthorized {
		t.Fatalf("MQTT 5 PUBREC = %+v, want 0x87", a)
	}

	publishQoS1(t, pub, "ok/1", "allowed", 6)
	if p := expectPublish(t, sub); p.Topic != "ok/1" {
		t.Fatalf("the first message delivered is %q, want ok/1", p.Topic)
	}
	// Nothing denied was retained either.
	late := brokertest.ConnectUser(t, b.Addr, packets.V311, "late", "reader", true)
	subscribe(t, late, "no/#", 0)
	expectNothing(t, late)
}

// A will is held to the client's write access: one to a topic the client
// may not write is refused at CONNECT (return code 5), and never published.
func TestWillToForbiddenTopicNotPublished(t *testing.T) {
	t.Parallel()
	r := newRules(map[string][]string{"reader": {"#"}}, map[string][]string{"dying": {"wills/ok"}})
	b := accessBroker(t, r)
	sub := brokertest.ConnectUser(t, b.Addr, packets.V311, "sub", "reader", true)
	subscribe(t, sub, "wills/#", 0)
	for _, willTopic := range []string{"wills/forbidden", "wills/ok"} {
		c := brokertest.Dial(t, b.Addr, packets.V311)
		c.Send(&packets.Connect{ProtocolName: "MQTT", Version: packets.V311, CleanStart: true, KeepAlive: 60,
			ClientID: "dying", Username: "dying", UsernameFlag: true,
			Will: &packets.Will{Topic: willTopic, Payload: []byte("gone")}})
		want := packets.ReasonCode(0)
		if willTopic == "wills/forbidden" {
			want = packets.ConnRefusedNotAuthorized
		}
		if ack, ok := c.Expect().(*packets.Connack); !ok || ack.ReasonCode != want {
			t.Fatalf("will to %s: got %+v, want CONNACK %d", willTopic, ack, want)
		}
		c.Net.Close()
	}
	if p := expectPublish(t, sub); p.Topic != "wills/ok" {
		t.Fatalf("got will on %q, want only wills/ok", p.Topic)
	}
	expectNothing(t, sub)
}

// In-flight messages resent on reconnection are read-checked again: access
// taken away while the client was offline stops the resend.
func TestResendRechecksAccess(t *testing.T) {
	t.Parallel()
	r := newRules(map[string][]string{"reader": {"#"}}, map[string][]string{"writer": {"#"}})
	b := accessBroker(t, r)
	sub := brokertest.ConnectUser(t, b.Addr, packets.V311, "sub", "reader", false)
	subscribe(t, sub, "t/#", 1)
	pub := brokertest.ConnectUser(t, b.Addr, packets.V311, "pub", "writer", true)
	publishQoS1(t, pub, "t/revoked", "x", 1)
	publishQoS1(t, pub, "t/kept", "y", 2)
	expectPublish(t, sub) // in flight, never acknowledged
	expectPublish(t, sub)
	sub.Net.Close()

	read := map[string][]string{"reader": {"t/kept"}}
	r.read.Store(&read) // a reload took t/revoked away
	waitFor(t, func() bool { return b.Server.Stats().ClientsConnected == 1 })
	again := brokertest.ConnectUser(t, b.Addr, packets.V311, "sub", "reader", false)
	p := expectPublish(t, again)
	if p.Topic != "t/kept" || !p.Dup {
		t.Fatalf("resent %+v, want only t/kept with DUP", p)
	}
	expectNothing(t, again)
}

// A shared subscription must not be a way around read access.
func TestSharedSubscriptionHonoursReadAccess(t *testing.T) {
	t.Parallel()
	r := newRules(map[string][]string{"reader": {"open/#"}}, map[string][]string{"writer": {"#"}})
	b := accessBroker(t, r)
	sub := brokertest.ConnectUser(t, b.Addr, packets.V5, "sub", "reader", true)
	sub.Send(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: "$share/g/#", QoS: 0}}})
	sub.Expect()
	pub := brokertest.ConnectUser(t, b.Addr, packets.V311, "pub", "writer", true)
	publishQoS1(t, pub, "secret/x", "x", 1)
	publishQoS1(t, pub, "open/x", "y", 2)
	// The readable message arrives, and it is the first: the unreadable one
	// was not delivered ahead of it.
	if p := expectPublish(t, sub); p.Topic != "open/x" || string(p.Payload) != "y" {
		t.Fatalf("got %q on %s, want only open/x", p.Payload, p.Topic)
	}
	expectNothing(t, sub)
}

// A connection over max_connections is refused with CONNACK 3 (3.1.1) or
// 0x89 Server busy (MQTT 5); a place freed by a disconnect can be taken
// again.
func TestMaxConnections(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := brokertest.Serve(t, broker.Options{}, l, broker.ListenerOptions{MaxConnections: 2})
	first := brokertest.Connect(t, b.Addr, packets.V311, "one", true)
	brokertest.Connect(t, b.Addr, packets.V311, "two", true)
	for _, tc := range []struct {
		version byte
		want    packets.ReasonCode
	}{{packets.V311, packets.ConnRefusedUnavailable}, {packets.V5, packets.ServerBusy}} {
		over := brokertest.Dial(t, b.Addr, tc.version)
		over.Send(&packets.Connect{ProtocolName: "MQTT", Version: tc.version, CleanStart: true, ClientID: "over"})
		if ack, ok := over.ExpectClosed().(*packets.Connack); !ok || ack.ReasonCode != tc.want {
			t.Fatalf("v%d over max_connections: got %+v, want CONNACK %#x", tc.version, ack, byte(tc.want))
		}
	}
	first.Send(&packets.Disconnect{})
	first.ExpectClosed()
	waitFor(t, func() bool { return b.Server.Stats().ClientsConnected == 1 })
	brokertest.Connect(t, b.Addr, packets.V311, "three", true)
}

// A listener that takes user names from client certificates admits a
// client by its certificate, whatever user name and password it sends, and
// hands the certificate's name to the Authorizer.
func TestCertUsername(t *testing.T) {
	t.Parallel()
	ca, caKey := newTestCA(t)
	serverCert := leafCert(t, ca, caKey, "127.0.0.1", true)
	clientCert := leafCert(t, ca, caKey, "sensor-7", false)
	pool := x509.NewCertPool()
	pool.AddCert(ca)

	seen := make(chan string, 4)
	auth := broker.AuthorizerFunc(func(info broker.ConnectInfo) broker.TopicAccess {
		seen <- info.Username
		return nil
	})
	refuseAll := broker.AnonymousOnly(false)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := tls.NewListener(inner, &tls.Config{Certificates: []tls.Certificate{serverCert},
		ClientCAs: pool, ClientAuth: tls.VerifyClientCertIfGiven})
	b := brokertest.Serve(t, broker.Options{Authenticator: refuseAll, Authorizer: auth}, l,
		broker.ListenerOptions{CertUsername: func(cs tls.ConnectionState) (string, bool) {
			if len(cs.PeerCertificates) == 0 {
				return "", false
			}
			return cs.PeerCertificates[0].Subject.CommonName, true
		}})

	dial := func(certs []tls.Certificate) *brokertest.Conn {
		nc, err := tls.Dial("tcp", b.Addr, &tls.Config{RootCAs: pool, Certificates: certs, ServerName: "127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		c := brokertest.Wrap(t, nc, packets.V311)
		c.Send(&packets.Connect{ProtocolName: "MQTT", Version: packets.V311, CleanStart: true, KeepAlive: 60,
			ClientID: "c", Username: "claimed", UsernameFlag: true, Password: []byte("wrong"), PasswordFlag: true})
		return c
	}
	if ack, ok := dial([]tls.Certificate{clientCert}).Expect().(*packets.Connack); !ok || ack.ReasonCode != 0 {
		t.Fatalf("with a certificate: CONNACK = %+v", ack)
	}
	if got := <-seen; got != "sensor-7" {
		t.Fatalf("Authorizer saw user %q, want the certificate's sensor-7", got)
	}
	// Mosquitto refuses a missing certificate as bad credentials (4).
	if ack, ok := dial(nil).Expect().(*packets.Connack); !ok || ack.ReasonCode != packets.ConnRefusedBadCredentials {
		t.Fatalf("without a certificate: CONNACK = %+v, want 4", ack)
	}

	// MQTT 5 enhanced authentication cannot replace the certificate's
	// identity on such a listener.
	nc, err := tls.Dial("tcp", b.Addr, &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{clientCert}, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c5 := brokertest.Wrap(t, nc, packets.V5)
	p := &packets.Connect{ProtocolName: "MQTT", Version: packets.V5, CleanStart: true, ClientID: "c5"}
	p.Properties.AuthMethod = "SCRAM-SHA-512"
	p.Properties.Set(packets.PropAuthMethod)
	c5.Send(p)
	if ack, ok := c5.ExpectClosed().(*packets.Connack); !ok || ack.ReasonCode != packets.BadAuthenticationMethod {
		t.Fatalf("enhanced authentication on a certificate listener: CONNACK = %+v, want 0x8C", ack)
	}
}

// A wrong password is refused as Mosquitto refuses it: CONNACK 5 at 3.1.1
// and 0x87 at MQTT 5, with a reason string that says the credentials were
// wrong; an anonymous client where that is off gets 5 / 0x87 too.
func TestRefusalCodes(t *testing.T) {
	t.Parallel()
	auth := broker.AuthenticatorFunc(func(_ context.Context, info broker.ConnectInfo) error {
		if !info.HasUsername {
			return broker.ErrNotAuthorized
		}
		if string(info.Password) != "right" {
			return broker.ErrBadCredentials
		}
		return nil
	})
	b := brokertest.Start(t, broker.Options{Authenticator: auth})
	for _, tc := range []struct {
		version byte
		user    bool
		want    packets.ReasonCode
	}{
		{packets.V311, true, packets.ConnRefusedNotAuthorized},
		{packets.V311, false, packets.ConnRefusedNotAuthorized},
		{packets.V5, true, packets.NotAuthorized},
		{packets.V5, false, packets.NotAuthorized},
	} {
		c := brokertest.Dial(t, b.Addr, tc.version)
		connect := &packets.Connect{ProtocolName: "MQTT", Version: tc.version, CleanStart: true, ClientID: "x"}
		if tc.user {
			connect.Username, connect.UsernameFlag = "u", true
			connect.Password, connect.PasswordFlag = []byte("wrong"), true
		}
		c.Send(connect)
		if ack, ok := c.ExpectClosed().(*packets.Connack); !ok || ack.ReasonCode != tc.want {
			t.Errorf("v%d user=%v: CONNACK = %+v, want %#x", tc.version, tc.user, ack, byte(tc.want))
		}
	}
}

var serial atomic.Int64

// subscribeRules is rules whose accesses also judge SUBSCRIBE filters:
// refused lists, per user, the filters CanSubscribe answers false for.
// CanRead still allows them, so that a subscription made in spite of the
// refusal would show in what is delivered.
type subscribeRules struct {
	*rules
	refused map[string][]string
}

func (r subscribeRules) Access(info broker.ConnectInfo) broker.TopicAccess {
	return subscribeAccess{userAccess{r: r.rules, user: info.Username}, r.refused[info.Username]}
}

type subscribeAccess struct {
	userAccess
	refused []string
}

func (a subscribeAccess) CanSubscribe(filter string) bool {
	for _, f := range a.refused {
		if f == filter {
			return false
		}
	}
	return true
}

// A filter the access refuses (SubscribeAccess) gets 0x80 at 3.1.1 and
// 0x87 at MQTT 5, and makes no subscription: no retained message, nothing
// live. The other filters of the SUBSCRIBE are granted. A shared
// subscription is judged by the filter inside $share/GROUP/.
func TestSubscribeRefusedByAccess(t *testing.T) {
	t.Parallel()
	r := subscribeRules{newRules(map[string][]string{"reader": {"#"}}, map[string][]string{"writer": {"#"}}),
		map[string][]string{"reader": {"alice/#"}}}
	b := brokertest.Start(t, broker.Options{Authorizer: r})
	pub := brokertest.ConnectUser(t, b.Addr, packets.V311, "pub", "writer", true)
	pub.Send(&packets.Publish{QoS: 1, Retain: true, Topic: "alice/r", PacketID: 1, Payload: []byte("kept")})
	expectAck(t, pub, packets.TypePuback, 1)

	subs := []packets.Subscription{{Filter: "alice/#", QoS: 1}, {Filter: "public/#", QoS: 1}, {Filter: "$share/g/alice/#", QoS: 1}}
	v3 := brokertest.ConnectUser(t, b.Addr, packets.V311, "v3", "reader", true)
	v3.Send(&packets.Subscribe{PacketID: 1, Subscriptions: subs})
	if ack, ok := v3.Expect().(*packets.Suback); !ok || len(ack.ReasonCodes) != 3 ||
		ack.ReasonCodes[0] != packets.SubackFailure || ack.ReasonCodes[1] != 1 || ack.ReasonCodes[2] != packets.SubackFailure {
		t.Fatalf("3.1.1 SUBACK = %+v, want 0x80 1 0x80", ack)
	}
	v5 := brokertest.ConnectUser(t, b.Addr, packets.V5, "v5", "reader", true)
	v5.Send(&packets.Subscribe{PacketID: 1, Subscriptions: subs})
	ack, ok := v5.Expect().(*packets.Suback)
	if !ok || len(ack.ReasonCodes) != 3 ||
		ack.ReasonCodes[0] != packets.NotAuthorized || ack.ReasonCodes[1] != 1 || ack.ReasonCodes[2] != packets.NotAuthorized {
		t.Fatalf("MQTT 5 SUBACK = %+v, want 0x87 1 0x87", ack)
	}
	publishQoS1(t, pub, "alice/live", "x", 2)
	publishQoS1(t, pub, "public/live", "y", 3)
	for _, c := range []*brokertest.Conn{v3, v5} {
		if p := expectPublish(t, c); p.Topic != "public/live" {
			t.Fatalf("got %q, want only public/live", p.Topic)
		}
	}
	expectNothing(t, v3)
	expectNothing(t, v5)
}

// A connection served as Internal (a bridge's local side) is admitted
// without the Authenticator, and the Authorizer still judges its user name.
func TestInternalConnection(t *testing.T) {
	t.Parallel()
	seen := make(chan string, 1)
	auth := broker.AuthorizerFunc(func(info broker.ConnectInfo) broker.TopicAccess {
		seen <- info.Username
		return nil
	})
	b := brokertest.Start(t, broker.Options{Authenticator: broker.AnonymousOnly(false), Authorizer: auth})
	mine, theirs := net.Pipe()
	go b.Server.ServeConnWith(theirs, broker.ListenerOptions{Internal: true})
	c := brokertest.Wrap(t, mine, packets.V311)
	c.Send(&packets.Connect{ProtocolName: "MQTT", Version: packets.V311, CleanStart: true, ClientID: "local.bridge",
		Username: "bridge-user", UsernameFlag: true})
	if ack, ok := c.Expect().(*packets.Connack); !ok || ack.ReasonCode != 0 {
		t.Fatalf("internal connection: CONNACK = %+v, want accepted", ack)
	}
	if got := <-seen; got != "bridge-user" {
		t.Fatalf("Authorizer saw user %q, want bridge-user", got)
	}
	// The same CONNECT over TCP is refused.
	tcp := brokertest.Dial(t, b.Addr, packets.V311)
	tcp.Send(&packets.Connect{ProtocolName: "MQTT", Version: packets.V311, CleanStart: true, ClientID: "x",
		Username: "bridge-user", UsernameFlag: true})
	if ack, ok := tcp.ExpectClosed().(*packets.Connack); !ok || ack.ReasonCode == 0 {
		t.Fatalf("over TCP: CONNACK = %+v, want a refusal", ack)
	}
}
