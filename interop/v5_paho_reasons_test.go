package interop

import (
	"bytes"
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/eclipse/paho.golang/paho/extensions/rpc"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/brokertest"
)

// CONNACK tells a paho.golang client what the broker allows. An in-process
// midge is started with a Receive Maximum and a Maximum Packet Size so that
// both are announced; against MIDGE_TEST_ADDR only what any full MQTT 5
// broker must say is checked.
func TestV5ConnackPaho(t *testing.T) {
	addr, inProcess := os.Getenv(addrEnv), false
	if addr == "" {
		addr, inProcess = brokertest.Start(t, broker.Options{ReceiveMaximum: 16, MaxPacketSize: 1 << 20}).Addr, true
	}
	c := connectV5(t, addr, "", func(cp *paho.Connect) {
		cp.Properties = &paho.ConnectProperties{RequestResponseInfo: true, RequestProblemInfo: true}
	})
	ack, p := c.connack, c.connack.Properties
	if ack.ReasonCode != 0 || ack.SessionPresent || p == nil {
		t.Fatalf("CONNACK %+v", ack)
	}
	// paho.golang reads an absent availability property as true.
	if !p.RetainAvailable || !p.WildcardSubAvailable || !p.SubIDAvailable || !p.SharedSubAvailable {
		t.Errorf("CONNACK says retain %v, wildcards %v, subscription identifiers %v, shared subscriptions %v; want all available",
			p.RetainAvailable, p.WildcardSubAvailable, p.SubIDAvailable, p.SharedSubAvailable)
	}
	if p.MaximumQoS != nil { // absent means 2; 2 itself may not be sent [MQTT-3.2.2-9]
		t.Errorf("CONNACK Maximum QoS %d, want absent (QoS 2 supported)", *p.MaximumQoS)
	}
	if p.AssignedClientID == "" || c.ClientID() != p.AssignedClientID {
		t.Errorf("assigned client identifier %q, client uses %q; want one for an empty identifier [MQTT-3.2.2-16]",
			p.AssignedClientID, c.ClientID())
	}
	if p.SessionExpiryInterval != nil {
		t.Errorf("CONNACK Session Expiry Interval %d, want absent (the client's 0 is kept)", *p.SessionExpiryInterval)
	}
	if !inProcess {
		if p.TopicAliasMaximum == nil || *p.TopicAliasMaximum == 0 {
			t.Errorf("CONNACK announces no topic aliases: %+v", p)
		}
		return
	}
	if p.TopicAliasMaximum == nil || *p.TopicAliasMaximum != 10 {
		t.Errorf("CONNACK Topic Alias Maximum %v, want 10", deref(p.TopicAliasMaximum))
	}
	if p.ReceiveMaximum == nil || *p.ReceiveMaximum != 16 {
		t.Errorf("CONNACK Receive Maximum %v, want 16", deref(p.ReceiveMaximum))
	}
	if p.MaximumPacketSize == nil || *p.MaximumPacketSize != 1<<20 {
		t.Errorf("CONNACK Maximum Packet Size %v, want %d", deref(p.MaximumPacketSize), 1<<20)
	}
	if p.ServerKeepAlive != nil {
		t.Errorf("CONNACK Server Keep Alive %d for a keep alive the broker accepts", *p.ServerKeepAlive)
	}
	if !strings.HasPrefix(p.AssignedClientID, "auto-") || p.ResponseInfo != "response/"+p.AssignedClientID {
		t.Errorf("assigned identifier %q, response information %q; want auto-... and response/ and the identifier",
			p.AssignedClientID, p.ResponseInfo)
	}

	named := connectV5(t, addr, uniqueClientID(), nil)
	if np := named.connack.Properties; np == nil || np.AssignedClientID != "" || np.ResponseInfo != "" {
		t.Errorf("CONNACK to a named client that asked for no response information: %+v", np)
	}
}

// deref formats a property that may be absent.
func deref[T any](p *T) any {
	if p == nil {
		return "absent"
	}
	return *p
}

// The reason codes of acknowledgements, as paho.golang reports them: PUBACK
// 0x10 when no subscription matches, SUBACK granting each filter's QoS to a
// SUBSCRIBE that carries a subscription identifier, UNSUBACK 0x11 for a
// filter that was never subscribed and 0x00 for one that was.
func TestV5ReasonCodesPaho(t *testing.T) {
	addr := brokerAddr(t)
	topic := uniqueTopic(t)
	c := connectV5(t, addr, uniqueClientID(), nil)
	if r := c.publish(t, &paho.Publish{Topic: topic + "/a", QoS: 1, Payload: []byte("x")}); r.ReasonCode != 0x10 {
		t.Fatalf("PUBACK reason %#x, want 0x10 no matching subscribers", r.ReasonCode)
	}

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	subID := 7
	sa, err := c.Subscribe(ctx, &paho.Subscribe{Properties: &paho.SubscribeProperties{SubscriptionIdentifier: &subID},
		Subscriptions: []paho.SubscribeOptions{{Topic: topic + "/a", QoS: 2}, {Topic: topic + "/b", QoS: 1}, {Topic: topic + "/c", QoS: 0}}})
	if err != nil || !slices.Equal(sa.Reasons, []byte{2, 1, 0}) {
		t.Fatalf("SUBACK %+v, %v; want reasons 2, 1, 0", sa, err)
	}
	other := connectV5(t, addr, uniqueClientID(), nil)
	if r := other.publish(t, &paho.Publish{Topic: topic + "/a", QoS: 1, Payload: []byte("to a")}); r.ReasonCode != 0 {
		t.Fatalf("PUBACK reason %#x with a subscriber", r.ReasonCode)
	}
	if got := c.next(t, "the message on a"); string(got.Payload) != "to a" || got.QoS != 1 || got.Properties == nil ||
		got.Properties.SubscriptionIdentifier == nil || *got.Properties.SubscriptionIdentifier != subID {
		t.Fatalf("got %q at QoS %d with %+v, want subscription identifier %d", got.Payload, got.QoS, got.Properties, subID)
	}

	ua, err := c.Unsubscribe(ctx, &paho.Unsubscribe{Topics: []string{topic + "/never", topic + "/a", topic + "/a"}})
	if err != nil || !slices.Equal(ua.Reasons, []byte{0x11, 0x00, 0x11}) {
		t.Fatalf("UNSUBACK %+v, %v; want reasons 0x11 (never subscribed), 0x00, 0x11 (gone)", ua, err)
	}
	if r := other.publish(t, &paho.Publish{Topic: topic + "/a", QoS: 1, Payload: []byte("x")}); r.ReasonCode != 0x10 {
		t.Fatalf("PUBACK reason %#x after the unsubscribe, want 0x10", r.ReasonCode)
	}
	c.none(t, quiet)
}

// A SUBSCRIBE with an invalid filter among valid ones: SUBACK 0x8F for it
// and the others granted. With Request Problem Information 1 a Reason
// String says why; with 0 there is none [MQTT-3.1.2-29]. (Another broker
// may close the connection instead, which MQTT 5 also allows.)
func TestV5ProblemInformationPaho(t *testing.T) {
	if os.Getenv(addrEnv) != "" {
		t.Skip("midge's answer to an invalid filter; other brokers may close the connection")
	}
	addr := brokerAddr(t)
	topic := uniqueTopic(t)
	for _, request := range []bool{true, false} {
		c := connectV5(t, addr, uniqueClientID(), func(cp *paho.Connect) {
			cp.Properties = &paho.ConnectProperties{RequestProblemInfo: request} // paho sends 0 for false
		})
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		sa, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{
			{Topic: topic + "/#/bad", QoS: 1}, {Topic: topic + "/good", QoS: 1}}})
		cancel()
		if err == nil || sa == nil || !slices.Equal(sa.Reasons, []byte{0x8F, 1}) {
			t.Fatalf("request problem information %v: SUBACK %+v, %v; want reasons 0x8F, 1", request, sa, err)
		}
		reason := ""
		if sa.Properties != nil {
			reason = sa.Properties.ReasonString
		}
		if request != (reason != "") {
			t.Fatalf("request problem information %v: SUBACK reason string %q", request, reason)
		}
	}
}

// Request/response between paho.golang clients: the Response Topic and
// Correlation Data (binary, with a zero byte) reach the responder
// untouched, and its answer to that topic reaches the requester with the
// same correlation data. Once by hand with a response topic under the
// Response Information the broker handed out, once with paho.golang's rpc
// extension.
func TestV5RequestResponsePaho(t *testing.T) {
	addr := brokerAddr(t)
	topic := uniqueTopic(t)
	responder := connectV5(t, addr, uniqueClientID(), nil)
	responder.subscribe(t, 0, paho.SubscribeOptions{Topic: topic + "/request", QoS: 1})
	answer := func(want string) (*paho.Publish, string) {
		t.Helper()
		req := responder.next(t, "the request")
		if req.Properties == nil || req.Properties.ResponseTopic == "" {
			t.Fatalf("request %q without a response topic: %+v", req.Payload, req.Properties)
		}
		if string(req.Payload) != want {
			t.Fatalf("request %q, want %q", req.Payload, want)
		}
		responder.publish(t, &paho.Publish{Topic: req.Properties.ResponseTopic, QoS: 1, Payload: []byte("answer to " + want),
			Properties: &paho.PublishProperties{CorrelationData: req.Properties.CorrelationData}})
		return req, req.Properties.ResponseTopic
	}

	requester := connectV5(t, addr, uniqueClientID(), func(cp *paho.Connect) {
		cp.Properties = &paho.ConnectProperties{RequestResponseInfo: true, RequestProblemInfo: true}
	})
	responseTopic := topic + "/reply"
	if info := requester.connack.Properties.ResponseInfo; info != "" {
		responseTopic = info + "/" + randomHex(4)
	}
	requester.subscribe(t, 0, paho.SubscribeOptions{Topic: responseTopic, QoS: 1})
	correlation := []byte{0, 0xFF, 0x80, '\n', 'i', 'd'}
	requester.publish(t, &paho.Publish{Topic: topic + "/request", QoS: 1, Payload: []byte("by hand"),
		Properties: &paho.PublishProperties{ResponseTopic: responseTopic, CorrelationData: correlation}})
	req, _ := answer("by hand")
	if req.Properties.ResponseTopic != responseTopic || !bytes.Equal(req.Properties.CorrelationData, correlation) {
		t.Fatalf("responder saw response topic %q, correlation % X; want %q, % X",
			req.Properties.ResponseTopic, req.Properties.CorrelationData, responseTopic, correlation)
	}
	got := requester.next(t, "the answer")
	if got.Topic != responseTopic || string(got.Payload) != "answer to by hand" || got.Properties == nil ||
		!bytes.Equal(got.Properties.CorrelationData, correlation) {
		t.Fatalf("requester got %s %q with %+v", got.Topic, got.Payload, got.Properties)
	}

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	handler, err := rpc.NewHandler(ctx, requester.Client)
	if err != nil {
		t.Fatalf("rpc handler: %v", err)
	}
	type result struct {
		response *paho.Publish
		err      error
	}
	done := make(chan result, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Add(1)
	go func() {
		defer wg.Done()
		response, err := handler.Request(ctx, &paho.Publish{Topic: topic + "/request", QoS: 1, Payload: []byte("through rpc")})
		done <- result{response, err}
	}()
	_, rpcTopic := answer("through rpc")
	r := <-done
	if r.err != nil || string(r.response.Payload) != "answer to through rpc" || r.response.Topic != rpcTopic {
		t.Fatalf("rpc request: %v, response %+v", r.err, r.response)
	}
}

// Topic aliases the broker must refuse, sent through paho.golang: one above
// the broker's Topic Alias Maximum and alias 0 end the connection with
// DISCONNECT 0x94 [MQTT-3.3.2-8], [MQTT-3.3.2-9]; an alias used before it
// was defined with 0x82. paho.golang refuses to send an alias above the
// maximum, so a PublishHook, which runs after that check, raises it. MQTT 5
// names no code for alias 0, so another broker may call it malformed (0x81,
// Mosquitto 2.0) or a protocol error (0x82).
func TestV5BadTopicAliasPaho(t *testing.T) {
	addr, external := brokerAddr(t), os.Getenv(addrEnv) != ""
	for _, tc := range []struct {
		name  string
		alias uint16
		raise bool // the hook makes alias one above the announced maximum
		topic bool
		code  byte
		other []byte // other codes a broker under MIDGE_TEST_ADDR may send
	}{
		{name: "above the maximum", alias: 1, raise: true, topic: true, code: 0x94},
		{name: "zero", alias: 0, topic: true, code: 0x94, other: []byte{0x81, 0x82}},
		{name: "never defined", alias: 3, topic: false, code: 0x82},
	} {
		t.Run(tc.name, func(t *testing.T) {
			disconnect := make(chan *paho.Disconnect, 1)
			var above uint16 // set once CONNACK says the maximum; read by the hook on this goroutine
			c := connectV5Config(t, addr, uniqueClientID(), func(config *paho.ClientConfig) {
				config.OnServerDisconnect = func(d *paho.Disconnect) { disconnect <- d }
				config.PublishHook = func(p *paho.Publish) {
					if tc.raise {
						p.Properties.TopicAlias = &above
					}
				}
			}, nil)
			if p := c.connack.Properties; p == nil || p.TopicAliasMaximum == nil || *p.TopicAliasMaximum == 0 {
				t.Fatalf("CONNACK announces no topic aliases: %+v", p)
			} else {
				above = *p.TopicAliasMaximum + 1
			}
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			if tc.raise {
				_, err := c.Publish(ctx, &paho.Publish{Topic: uniqueTopic(t), Payload: []byte("x"),
					Properties: &paho.PublishProperties{TopicAlias: &above}})
				if !errors.Is(err, paho.ErrInvalidArguments) {
					t.Fatalf("paho.golang sent alias %d above the maximum (%v); the hook is not needed", above, err)
				}
			}
			p := &paho.Publish{Payload: []byte("x"), Properties: &paho.PublishProperties{TopicAlias: &tc.alias}}
			if tc.topic {
				p.Topic = uniqueTopic(t)
			}
			if _, err := c.Publish(ctx, p); err != nil { // QoS 0: nothing to wait for
				t.Fatalf("publish: %v", err)
			}
			select {
			case d := <-disconnect:
				if d.ReasonCode != tc.code && !(external && slices.Contains(tc.other, d.ReasonCode)) {
					t.Fatalf("DISCONNECT reason %#x, want %#x", d.ReasonCode, tc.code)
				}
			case <-time.After(waitTimeout):
				t.Fatalf("no DISCONNECT within %v", waitTimeout)
			}
		})
	}
}

// A Subscription Identifier is for the server to send: a client's PUBLISH
// that carries one is a protocol error, DISCONNECT 0x82 [MQTT-3.3.4-6],
// and the message goes nowhere. (Mosquitto 2.0 strips the property and
// delivers.)
func TestV5PublishWithSubscriptionIDPaho(t *testing.T) {
	addr := brokerAddr(t)
	topic := uniqueTopic(t)
	sub := connectV5(t, addr, uniqueClientID(), nil)
	sub.subscribe(t, 0, paho.SubscribeOptions{Topic: topic, QoS: 1})

	disconnect := make(chan *paho.Disconnect, 1)
	c := connectV5Config(t, addr, uniqueClientID(), func(config *paho.ClientConfig) {
		config.OnServerDisconnect = func(d *paho.Disconnect) { disconnect <- d }
	}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	subID := 7
	if _, err := c.Publish(ctx, &paho.Publish{Topic: topic, Payload: []byte("forged"),
		Properties: &paho.PublishProperties{SubscriptionIdentifier: &subID}}); err != nil {
		t.Fatalf("publish: %v", err)
	}
	select {
	case d := <-disconnect:
		if d.ReasonCode != 0x82 {
			t.Fatalf("DISCONNECT reason %#x, want 0x82 protocol error", d.ReasonCode)
		}
	case <-time.After(waitTimeout):
		t.Fatalf("no DISCONNECT within %v", waitTimeout)
	}
	select {
	case p := <-sub.got:
		t.Fatalf("subscriber got %q, published with a subscription identifier", p.Payload)
	case <-time.After(200 * time.Millisecond):
	}
}
