package client_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/packets"
)

// MQTT 5 behaviour of the client against a scripted fake server.

var acceptedV5 = &packets.Connack{}

// connackWith returns a successful CONNACK with props.
func connackWith(props packets.Properties) *packets.Connack {
	return &packets.Connack{Properties: props}
}

// withProps returns p with the scalar properties ids marked present.
func withProps(p packets.Properties, ids ...packets.PropertyID) packets.Properties {
	for _, id := range ids {
		p.Set(id)
	}
	return p
}

// expectDisconnect reads the client's DISCONNECT and checks its code.
func (s *fakeServer) expectDisconnect(code packets.ReasonCode) {
	s.t.Helper()
	p := s.expect()
	if d, ok := p.(*packets.Disconnect); !ok || d.ReasonCode != code {
		s.t.Fatalf("got %T %+v, want DISCONNECT 0x%02X", p, p, byte(code))
	}
}

// waitDone waits for the end of the client's connection.
func waitDone(t *testing.T, c *client.Client) error {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(waitTimeout):
		t.Fatal("connection still up")
	}
	return c.Err()
}

func TestV5ConnectAndConnackProperties(t *testing.T) {
	props := withProps(packets.Properties{
		SessionExpiry:  300,
		ReceiveMaximum: 10,
		User:           []packets.UserProperty{{Key: "k", Value: "v"}},
	}, packets.PropSessionExpiry, packets.PropReceiveMaximum)
	s, connect, dialed := startFake(t, client.Options{Version: packets.V5, Properties: props})
	if connect.Version != packets.V5 || connect.Properties.SessionExpiry != 300 || connect.Properties.ReceiveMaximum != 10 ||
		!slices.Equal(connect.Properties.User, props.User) {
		t.Fatalf("CONNECT %+v", connect)
	}
	s.send(connackWith(withProps(packets.Properties{AssignedClientID: "auto-1", ServerKeepAlive: 30, ReasonString: "hi"},
		packets.PropServerKeepAlive)))
	c := awaitDial(t, dialed)
	if c.ClientID() != "auto-1" || c.Connack().Properties.ReasonString != "hi" {
		t.Fatalf("ClientID %q, CONNACK %+v", c.ClientID(), c.Connack())
	}
}

// TestV5ReceiveMaximum: never more unacknowledged QoS 1/2 publishes than
// the server's Receive Maximum, even with a larger MaxInflight.
func TestV5ReceiveMaximum(t *testing.T) {
	c, s := dialFake(t, client.Options{Version: packets.V5, MaxInflight: 20},
		connackWith(withProps(packets.Properties{ReceiveMaximum: 2}, packets.PropReceiveMaximum)))
	ctx := context.Background()
	for range 2 {
		if _, err := c.PublishAsync(ctx, &packets.Publish{Topic: "a", QoS: 1}); err != nil {
			t.Fatal(err)
		}
	}
	first := s.expectPublish().PacketID
	s.expectPublish()
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := c.PublishAsync(short, &packets.Publish{Topic: "a", QoS: 2}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("third publish = %v, want DeadlineExceeded", err)
	}
	s.expectNothing(50 * time.Millisecond)
	s.send(&packets.Ack{Kind: packets.TypePuback, PacketID: first})
	if _, err := c.PublishAsync(ctx, &packets.Publish{Topic: "a", QoS: 1}); err != nil {
		t.Fatal(err)
	}
	s.expectPublish()
}

// TestV5ServerLimits: a publish or subscribe above the server's Maximum
// Packet Size, Maximum QoS or Retain Available is refused without being
// sent, and the connection goes on.
func TestV5ServerLimits(t *testing.T) {
	props := withProps(packets.Properties{MaximumPacketSize: 64, MaximumQoS: 1, RetainAvailable: 0, SubIDAvailable: 0},
		packets.PropMaximumPacketSize, packets.PropMaximumQoS, packets.PropRetainAvailable, packets.PropSubIDAvailable)
	c, s := dialFake(t, client.Options{Version: packets.V5}, connackWith(props))
	ctx := ctxTimeout(t)
	big := &packets.Publish{Topic: "a", Payload: bytes.Repeat([]byte("x"), 100)}
	if err := c.Publish(ctx, big); !errors.Is(err, client.ErrPacketTooLarge) {
		t.Errorf("large publish = %v, want ErrPacketTooLarge", err)
	}
	big.QoS = 1
	if err := c.Publish(ctx, big); !errors.Is(err, client.ErrPacketTooLarge) {
		t.Errorf("large QoS 1 publish = %v, want ErrPacketTooLarge", err)
	}
	if _, err := c.Subscribe(ctx, packets.Subscription{Filter: strings.Repeat("f", 80)}); !errors.Is(err, client.ErrPacketTooLarge) {
		t.Errorf("large subscribe = %v, want ErrPacketTooLarge", err)
	}
	if err := c.Publish(ctx, &packets.Publish{Topic: "a", QoS: 2}); !errors.Is(err, client.ErrQoSNotSupported) {
		t.Errorf("QoS 2 publish = %v, want ErrQoSNotSupported", err)
	}
	if err := c.Publish(ctx, &packets.Publish{Topic: "a", Retain: true}); !errors.Is(err, client.ErrRetainNotSupported) {
		t.Errorf("retained publish = %v, want ErrRetainNotSupported", err)
	}
	sub := &packets.Subscribe{Subscriptions: []packets.Subscription{{Filter: "a"}}, Properties: packets.Properties{SubscriptionIDs: []uint32{1}}}
	if _, err := c.SubscribeWith(ctx, sub); !errors.Is(err, client.ErrInvalidOptions) {
		t.Errorf("subscription identifier = %v, want ErrInvalidOptions", err)
	}
	s.expectNothing(50 * time.Millisecond)
	// What fits still goes, with a fresh identifier.
	done := make(chan error, 1)
	go func() { done <- c.Publish(ctx, &packets.Publish{Topic: "a", QoS: 1, Payload: []byte("ok")}) }()
	p := s.expectPublish()
	s.send(&packets.Ack{Kind: packets.TypePuback, PacketID: p.PacketID})
	if err := <-done; err != nil || string(p.Payload) != "ok" {
		t.Fatalf("small publish: %v, %+v", err, p)
	}
}

// TestV5PublishProperties: properties pass through both ways.
func TestV5PublishProperties(t *testing.T) {
	in := make(chan *packets.Publish, 1)
	onMessage := func(m *packets.Publish) {
		copied := *m
		copied.Payload = bytes.Clone(m.Payload)
		copied.Properties.CorrelationData = bytes.Clone(m.Properties.CorrelationData)
		in <- &copied
	}
	c, s := dialFake(t, client.Options{Version: packets.V5, OnMessage: onMessage}, acceptedV5)
	props := withProps(packets.Properties{
		PayloadFormat:   1,
		MessageExpiry:   60,
		ContentType:     "text/plain",
		ResponseTopic:   "reply/here",
		CorrelationData: []byte{0, 1, 2},
		User:            []packets.UserProperty{{Key: "a", Value: "1"}, {Key: "a", Value: "2"}},
	}, packets.PropPayloadFormat, packets.PropMessageExpiry)
	if err := c.Publish(ctxTimeout(t), &packets.Publish{Topic: "t", Payload: []byte("p"), Properties: props}); err != nil {
		t.Fatal(err)
	}
	got := s.expectPublish()
	if !sameProps(got.Properties, props) {
		t.Errorf("server got %+v, want %+v", got.Properties, props)
	}
	props.SubscriptionIDs = []uint32{3, 9}
	s.send(&packets.Publish{Topic: "t", Payload: []byte("p"), Properties: props})
	select {
	case m := <-in:
		if !sameProps(m.Properties, props) {
			t.Errorf("client got %+v, want %+v", m.Properties, props)
		}
	case <-time.After(waitTimeout):
		t.Fatal("no message")
	}
}

func sameProps(a, b packets.Properties) bool {
	return a.PayloadFormat == b.PayloadFormat && a.MessageExpiry == b.MessageExpiry && a.ContentType == b.ContentType &&
		a.ResponseTopic == b.ResponseTopic && bytes.Equal(a.CorrelationData, b.CorrelationData) &&
		slices.Equal(a.User, b.User) && slices.Equal(a.SubscriptionIDs, b.SubscriptionIDs)
}

// TestV5OutboundTopicAlias: the caller's aliases are checked against the
// server's Topic Alias Maximum and must be given a topic before use.
func TestV5OutboundTopicAlias(t *testing.T) {
	c, s := dialFake(t, client.Options{Version: packets.V5},
		connackWith(withProps(packets.Properties{TopicAliasMaximum: 5}, packets.PropTopicAliasMaximum)))
	alias := func(n uint16) packets.Properties {
		return withProps(packets.Properties{TopicAlias: n}, packets.PropTopicAlias)
	}
	for _, p := range []*packets.Publish{
		{Topic: "", Properties: alias(3)}, // not given a topic yet
		{Topic: "a", Properties: alias(6)},
		{Topic: "a", Properties: alias(0)},
	} {
		if err := c.Publish(ctxTimeout(t), p); !errors.Is(err, client.ErrInvalidOptions) {
			t.Errorf("alias %d topic %q: %v, want ErrInvalidOptions", p.Properties.TopicAlias, p.Topic, err)
		}
	}
	if err := c.Publish(ctxTimeout(t), &packets.Publish{Topic: "long/topic", Properties: alias(3)}); err != nil {
		t.Fatal(err)
	}
	if err := c.Publish(ctxTimeout(t), &packets.Publish{Properties: alias(3), Payload: []byte("2")}); err != nil {
		t.Fatal(err)
	}
	if p := s.expectPublish(); p.Topic != "long/topic" || p.Properties.TopicAlias != 3 {
		t.Errorf("first %+v", p)
	}
	if p := s.expectPublish(); p.Topic != "" || p.Properties.TopicAlias != 3 || string(p.Payload) != "2" {
		t.Errorf("second %+v", p)
	}
	// A server that announces no Topic Alias Maximum allows none.
	c, _ = dialFake(t, client.Options{Version: packets.V5}, acceptedV5)
	if err := c.Publish(ctxTimeout(t), &packets.Publish{Topic: "a", Properties: alias(1)}); !errors.Is(err, client.ErrInvalidOptions) {
		t.Errorf("alias without a server maximum: %v", err)
	}
}

// TestV5InboundTopicAlias: the client maps the server's aliases, and
// closes with DISCONNECT on one it did not allow or does not know.
func TestV5InboundTopicAlias(t *testing.T) {
	opts := func(in inbox) client.Options {
		return client.Options{Version: packets.V5, OnMessage: in.onMessage,
			Properties: withProps(packets.Properties{TopicAliasMaximum: 2}, packets.PropTopicAliasMaximum)}
	}
	alias := func(n uint16) packets.Properties {
		return withProps(packets.Properties{TopicAlias: n}, packets.PropTopicAlias)
	}
	in := newInbox()
	c, s := dialFake(t, opts(in), acceptedV5)
	s.send(&packets.Publish{Topic: "a/b", Properties: alias(2), Payload: []byte("1")})
	s.send(&packets.Publish{Properties: alias(2), Payload: []byte("2")})
	s.send(&packets.Publish{Topic: "c", Properties: alias(2), Payload: []byte("3")})
	s.send(&packets.Publish{Properties: alias(2), Payload: []byte("4")})
	for _, want := range []message{{Topic: "a/b", Payload: "1"}, {Topic: "a/b", Payload: "2"}, {Topic: "c", Payload: "3"}, {Topic: "c", Payload: "4"}} {
		if got := in.next(t); got != want {
			t.Errorf("got %+v, want %+v", got, want)
		}
	}
	s.send(&packets.Publish{Topic: "x", Properties: alias(3)})
	s.expectDisconnect(packets.TopicAliasInvalid)
	if err := waitDone(t, c); !errors.Is(err, client.ErrProtocol) {
		t.Errorf("Err = %v, want ErrProtocol", err)
	}

	in = newInbox()
	c, s = dialFake(t, opts(in), acceptedV5)
	s.send(&packets.Publish{Properties: alias(1)})
	s.expectDisconnect(packets.ProtocolError)
	if err := waitDone(t, c); !errors.Is(err, client.ErrProtocol) {
		t.Errorf("unknown alias: Err = %v, want ErrProtocol", err)
	}
	if len(in) != 0 {
		t.Errorf("delivered %+v", <-in)
	}
}

// TestV5PacketTooLargeFromServer: a packet above the client's announced
// Maximum Packet Size ends the connection with DISCONNECT 0x95.
func TestV5PacketTooLargeFromServer(t *testing.T) {
	c, s := dialFake(t, client.Options{Version: packets.V5,
		Properties: withProps(packets.Properties{MaximumPacketSize: 50}, packets.PropMaximumPacketSize)}, acceptedV5)
	s.send(&packets.Publish{Topic: "a", Payload: bytes.Repeat([]byte("x"), 60)})
	s.expectDisconnect(packets.PacketTooLarge)
	if err := waitDone(t, c); !errors.Is(err, client.ErrProtocol) {
		t.Errorf("Err = %v, want ErrProtocol", err)
	}
}

// TestV5AckReasonCodes: failure codes in PUBACK, PUBREC and PUBCOMP come
// back as *AckError; other codes are success.
func TestV5AckReasonCodes(t *testing.T) {
	c, s := dialFake(t, client.Options{Version: packets.V5}, acceptedV5)
	publish := func(qos byte) (<-chan error, uint16) {
		t.Helper()
		done, err := c.PublishAsync(ctxTimeout(t), &packets.Publish{Topic: "a", QoS: qos})
		if err != nil {
			t.Fatal(err)
		}
		return done, s.expectPublish().PacketID
	}
	check := func(done <-chan error, kind packets.Type, code packets.ReasonCode, reason string) {
		t.Helper()
		err := <-done
		var ae *client.AckError
		if !errors.As(err, &ae) || ae.Packet != kind || ae.Code != code || ae.Reason != reason {
			t.Errorf("got %v, want an AckError %v 0x%02X %q", err, kind, byte(code), reason)
		}
	}
	done, id := publish(1)
	s.send(&packets.Ack{Kind: packets.TypePuback, PacketID: id, ReasonCode: packets.NotAuthorized,
		Properties: packets.Properties{ReasonString: "no"}})
	check(done, packets.TypePuback, packets.NotAuthorized, "no")

	done, id = publish(1)
	s.send(&packets.Ack{Kind: packets.TypePuback, PacketID: id, ReasonCode: packets.NoMatchingSubscribers})
	if err := <-done; err != nil {
		t.Errorf("No matching subscribers: %v", err)
	}

	done, id = publish(2)
	s.send(&packets.Ack{Kind: packets.TypePubrec, PacketID: id, ReasonCode: packets.QuotaExceeded})
	check(done, packets.TypePubrec, packets.QuotaExceeded, "")
	s.expectNothing(50 * time.Millisecond) // no PUBREL after a failed PUBREC

	done, id = publish(2)
	s.send(&packets.Ack{Kind: packets.TypePubrec, PacketID: id})
	s.expectAck(packets.TypePubrel, id)
	s.send(&packets.Ack{Kind: packets.TypePubcomp, PacketID: id, ReasonCode: packets.PacketIDNotFound})
	check(done, packets.TypePubcomp, packets.PacketIDNotFound, "")
}

// TestV5SubscribeOptions: subscription options, a subscription identifier
// and user properties reach the server; SUBACK and UNSUBACK come back
// whole.
func TestV5SubscribeOptions(t *testing.T) {
	c, s := dialFake(t, client.Options{Version: packets.V5}, acceptedV5)
	sub := &packets.Subscribe{
		Properties: packets.Properties{SubscriptionIDs: []uint32{7}, User: []packets.UserProperty{{Key: "k", Value: "v"}}},
		Subscriptions: []packets.Subscription{
			{Filter: "a/#", QoS: 1, NoLocal: true, RetainAsPublished: true, RetainHandling: 2},
			{Filter: "b", QoS: 2, RetainHandling: 1},
		},
	}
	type subResult struct {
		ack *packets.Suback
		err error
	}
	result := make(chan subResult, 1)
	go func() {
		ack, err := c.SubscribeWith(ctxTimeout(t), sub)
		result <- subResult{ack, err}
	}()
	p := s.expect()
	got, ok := p.(*packets.Subscribe)
	if !ok || !slices.Equal(got.Subscriptions, sub.Subscriptions) || !slices.Equal(got.Properties.SubscriptionIDs, []uint32{7}) ||
		!slices.Equal(got.Properties.User, sub.Properties.User) {
		t.Fatalf("server got %T %+v", p, p)
	}
	s.send(&packets.Suback{PacketID: got.PacketID, ReasonCodes: []packets.ReasonCode{packets.GrantedQoS1, packets.NotAuthorized},
		Properties: packets.Properties{ReasonString: "b is private"}})
	r := <-result
	if r.err != nil || !slices.Equal(r.ack.ReasonCodes, []packets.ReasonCode{1, packets.NotAuthorized}) || r.ack.Properties.ReasonString != "b is private" {
		t.Fatalf("SubscribeWith = %+v, %v", r.ack, r.err)
	}

	unsubDone := make(chan error, 1)
	go func() { unsubDone <- c.Unsubscribe(ctxTimeout(t), "a/#", "b") }()
	u, ok := s.expect().(*packets.Unsubscribe)
	if !ok || !slices.Equal(u.Filters, []string{"a/#", "b"}) {
		t.Fatalf("server got %+v", u)
	}
	s.send(&packets.Unsuback{PacketID: u.PacketID, ReasonCodes: []packets.ReasonCode{packets.Success, packets.NoSubscriptionExisted}})
	if err := <-unsubDone; err != nil {
		t.Errorf("Unsubscribe with No subscription existed: %v", err)
	}
	go func() { unsubDone <- c.Unsubscribe(ctxTimeout(t), "c") }()
	u = s.expect().(*packets.Unsubscribe)
	s.send(&packets.Unsuback{PacketID: u.PacketID, ReasonCodes: []packets.ReasonCode{packets.TopicFilterInvalid}})
	var ae *client.AckError
	if err := <-unsubDone; !errors.As(err, &ae) || ae.Code != packets.TopicFilterInvalid {
		t.Errorf("Unsubscribe refused: %v", err)
	}
}

// TestV5ServerDisconnect: the server's reason code and reason string end
// the connection, and a waiting publish gets them too.
func TestV5ServerDisconnect(t *testing.T) {
	c, s := dialFake(t, client.Options{Version: packets.V5}, acceptedV5)
	done, err := c.PublishAsync(ctxTimeout(t), &packets.Publish{Topic: "a", QoS: 1})
	if err != nil {
		t.Fatal(err)
	}
	s.expectPublish()
	s.send(&packets.Disconnect{ReasonCode: packets.SessionTakenOver, Properties: packets.Properties{ReasonString: "another client"}})
	err = waitDone(t, c)
	var de *client.DisconnectError
	if !errors.As(err, &de) || de.Code != packets.SessionTakenOver || de.Reason != "another client" || !errors.Is(err, client.ErrConnectionLost) {
		t.Fatalf("Err = %v", err)
	}
	if want := "client: server sent DISCONNECT: Session taken over (0x8E): another client"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
	if err := <-done; !errors.As(err, &de) {
		t.Errorf("waiting publish = %v", err)
	}
}

func TestV5DisconnectWith(t *testing.T) {
	c, s := dialFake(t, client.Options{Version: packets.V5}, acceptedV5)
	d := &packets.Disconnect{ReasonCode: packets.DisconnectWithWill, Properties: withProps(packets.Properties{SessionExpiry: 9}, packets.PropSessionExpiry)}
	if err := c.DisconnectWith(ctxTimeout(t), d); err != nil {
		t.Fatal(err)
	}
	got, ok := s.expect().(*packets.Disconnect)
	if !ok || got.ReasonCode != packets.DisconnectWithWill || got.Properties.SessionExpiry != 9 {
		t.Fatalf("server got %+v", got)
	}
	if !errors.Is(c.Err(), client.ErrClosed) {
		t.Errorf("Err = %v", c.Err())
	}
}

// TestV5AgainstBroker checks the MQTT 5 features end to end through a
// real broker: properties, a topic alias, subscription identifiers, No
// Local and Retain As Published.
func TestV5AgainstBroker(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b testBroker) {
		addr := b.start(t)
		got := make(chan *packets.Publish, 10)
		onMessage := func(m *packets.Publish) {
			copied := *m
			copied.Payload = bytes.Clone(m.Payload)
			copied.Properties.CorrelationData = bytes.Clone(m.Properties.CorrelationData)
			got <- &copied
		}
		next := func() *packets.Publish {
			t.Helper()
			select {
			case m := <-got:
				return m
			case <-time.After(waitTimeout):
				t.Fatal("no message")
				return nil
			}
		}
		c := dial(t, client.Options{Addr: addr, Version: packets.V5, CleanStart: true, OnMessage: onMessage})
		if c.ClientID() == "" {
			t.Error("no assigned client identifier")
		}
		ctx := ctxTimeout(t)
		props := withProps(packets.Properties{
			PayloadFormat:   1,
			ContentType:     "text/plain",
			ResponseTopic:   "reply",
			CorrelationData: []byte("id-1"),
			User:            []packets.UserProperty{{Key: "k", Value: "v"}, {Key: "k", Value: "w"}},
		}, packets.PropPayloadFormat)
		if err := c.Publish(ctx, &packets.Publish{Topic: "v5/kept", Retain: true, QoS: 1, Payload: []byte("r"), Properties: props}); err != nil {
			t.Fatal(err)
		}
		sub := &packets.Subscribe{
			Properties:    packets.Properties{SubscriptionIDs: []uint32{42}},
			Subscriptions: []packets.Subscription{{Filter: "v5/#", QoS: 1, NoLocal: true, RetainAsPublished: true}},
		}
		if ack, err := c.SubscribeWith(ctx, sub); err != nil || ack.ReasonCodes[0] != packets.GrantedQoS1 {
			t.Fatalf("SubscribeWith = %+v, %v", ack, err)
		}
		m := next()
		if m.Topic != "v5/kept" || !m.Retain || !sameProps(m.Properties, withSubID(props, 42)) {
			t.Errorf("retained: %+v", m)
		}
		// No Local: our own publish does not come back; another client's
		// does, with its retain flag kept (Retain As Published) and its
		// topic alias resolved.
		if err := c.Publish(ctx, &packets.Publish{Topic: "v5/own", QoS: 1}); err != nil {
			t.Fatal(err)
		}
		other := dial(t, client.Options{Addr: addr, Version: packets.V5, CleanStart: true})
		if max := other.Connack().Properties.TopicAliasMaximum; max > 0 {
			alias := withProps(packets.Properties{TopicAlias: 1}, packets.PropTopicAlias)
			for _, p := range []*packets.Publish{{Topic: "v5/alias", Properties: alias, Payload: []byte("1")}, {Properties: alias, Payload: []byte("2")}} {
				if err := other.Publish(ctx, p); err != nil {
					t.Fatal(err)
				}
			}
			for _, want := range []string{"1", "2"} {
				if m := next(); m.Topic != "v5/alias" || string(m.Payload) != want {
					t.Errorf("aliased publish: %+v", m)
				}
			}
		}
		if err := other.Publish(ctx, &packets.Publish{Topic: "v5/other", QoS: 1, Retain: true, Payload: []byte("o")}); err != nil {
			t.Fatal(err)
		}
		if m := next(); m.Topic != "v5/other" || !m.Retain {
			t.Errorf("other client's message: %+v (own message not filtered out by No Local?)", m)
		}
	})
}

func withSubID(p packets.Properties, id uint32) packets.Properties {
	p.SubscriptionIDs = []uint32{id}
	return p
}
