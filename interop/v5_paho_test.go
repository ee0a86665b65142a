package interop

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/internal/mosquittotest"
)

// v5Client is a paho.golang MQTT 5 client whose received messages go to a
// channel.
type v5Client struct {
	*paho.Client
	got     chan *paho.Publish
	connack *paho.Connack
}

// connectV5 connects a paho.golang client; fill, when not nil, adjusts the
// CONNECT. It disconnects when the test ends.
func connectV5(t *testing.T, addr, clientID string, fill func(*paho.Connect)) *v5Client {
	t.Helper()
	return connectV5Config(t, addr, clientID, nil, fill)
}

// connectV5Config is connectV5 where configure, when not nil, also adjusts
// the client's configuration (manual acknowledgements, an AuthHandler, a
// DISCONNECT callback).
func connectV5Config(t *testing.T, addr, clientID string, configure func(*paho.ClientConfig), fill func(*paho.Connect)) *v5Client {
	t.Helper()
	c, err := tryConnectV5(t, addr, clientID, configure, fill)
	if err != nil {
		t.Fatalf("paho.golang connect %s: %v (CONNACK %+v)", clientID, err, c.connack)
	}
	return c
}

// tryConnectV5 is connectV5Config that returns Connect's error instead of
// failing the test; c.connack then holds the refusing CONNACK, if one came.
func tryConnectV5(t *testing.T, addr, clientID string, configure func(*paho.ClientConfig), fill func(*paho.Connect)) (*v5Client, error) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	c := &v5Client{got: make(chan *paho.Publish, 100)}
	config := paho.ClientConfig{Conn: nc, OnPublishReceived: []func(paho.PublishReceived) (bool, error){
		func(r paho.PublishReceived) (bool, error) { c.got <- r.Packet; return true, nil },
	}}
	if configure != nil {
		configure(&config)
	}
	c.Client = paho.NewClient(config)
	cp := &paho.Connect{ClientID: clientID, CleanStart: true, KeepAlive: 30}
	if fill != nil {
		fill(cp)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if c.connack, err = c.Connect(ctx, cp); err != nil {
		nc.Close() // paho closes it too; this covers a Connect that gave up early
		return c, err
	}
	t.Cleanup(func() { c.Disconnect(&paho.Disconnect{}) })
	return c, nil
}

func (c *v5Client) subscribe(t *testing.T, subID int, opts ...paho.SubscribeOptions) {
	t.Helper()
	s := &paho.Subscribe{Subscriptions: opts}
	if subID != 0 {
		s.Properties = &paho.SubscribeProperties{SubscriptionIdentifier: &subID}
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if _, err := c.Subscribe(ctx, s); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
}

func (c *v5Client) publish(t *testing.T, p *paho.Publish) *paho.PublishResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	r, err := c.Publish(ctx, p)
	if err != nil && (r == nil || r.ReasonCode < 0x80) {
		t.Fatalf("publish %s: %v", p.Topic, err)
	}
	return r
}

func (c *v5Client) next(t *testing.T, what string) *paho.Publish {
	t.Helper()
	select {
	case p := <-c.got:
		return p
	case <-time.After(waitTimeout):
		t.Fatalf("no message: %s", what)
		return nil
	}
}

func (c *v5Client) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case p := <-c.got:
		t.Fatalf("unexpected message %s %q", p.Topic, p.Payload)
	case <-time.After(d):
	}
}

// An MQTT 5 publisher's properties reach an MQTT 5 subscriber exactly
// (user properties in order, duplicates kept); an MQTT 3.1.1 subscriber on
// the same topic gets the message without them, and a 3.1.1 publisher's
// message reaches the MQTT 5 subscriber. Neither side notices the other's
// version.
func TestV5PropertiesAcrossVersions(t *testing.T) {
	addr := brokerAddr(t)
	topic := uniqueTopic(t)
	sub5 := connectV5(t, addr, uniqueClientID(), nil)
	sub5.subscribe(t, 0, paho.SubscribeOptions{Topic: topic, QoS: 1})
	sub3 := connectPaho(t, addr, 4, uniqueClientID(), nil)
	waitToken(t, sub3.Subscribe(topic, 1, nil), "3.1.1 subscribe")

	pub5 := connectV5(t, addr, uniqueClientID(), nil)
	format := byte(1)
	props := &paho.PublishProperties{ContentType: "application/json", ResponseTopic: topic + "/reply",
		CorrelationData: []byte{1, 2, 3}, PayloadFormat: &format}
	props.User.Add("k", "first").Add("k", "second").Add("a", "b")
	pub5.publish(t, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte(`{"v":1}`), Properties: props})

	got := sub5.next(t, "v5 to v5")
	gp := got.Properties
	if string(got.Payload) != `{"v":1}` || gp == nil || gp.ContentType != "application/json" || gp.ResponseTopic != topic+"/reply" ||
		string(gp.CorrelationData) != "\x01\x02\x03" || gp.PayloadFormat == nil || *gp.PayloadFormat != 1 {
		t.Fatalf("v5 subscriber got %+v %+v", got, gp)
	}
	if len(gp.User) != 3 || gp.User[0] != (paho.UserProperty{Key: "k", Value: "first"}) ||
		gp.User[1] != (paho.UserProperty{Key: "k", Value: "second"}) || gp.User[2] != (paho.UserProperty{Key: "a", Value: "b"}) {
		t.Fatalf("user properties %+v, want k=first, k=second, a=b in order", gp.User)
	}
	m := sub3.inbox.next(t, "v5 to 3.1.1")
	expectMessage(t, m, topic, `{"v":1}`, 1, false)

	waitToken(t, sub3.Publish(topic, 1, false, "from 3.1.1"), "3.1.1 publish")
	if got := sub5.next(t, "3.1.1 to v5"); string(got.Payload) != "from 3.1.1" {
		t.Fatalf("v5 subscriber got %q", got.Payload)
	}
	sub3.inbox.next(t, "own message")
}

// Subscription options and identifiers with paho.golang: No Local, Retain
// Handling 2, a subscription identifier; and 0x10 when nobody listens.
func TestV5SubscriptionOptionsPaho(t *testing.T) {
	addr := brokerAddr(t)
	topic := uniqueTopic(t)
	c := connectV5(t, addr, uniqueClientID(), nil)
	if r := c.publish(t, &paho.Publish{Topic: topic + "/nobody", QoS: 1, Payload: []byte("x")}); r.ReasonCode != 0x10 {
		t.Fatalf("PUBACK reason %#x, want 0x10 no matching subscribers", r.ReasonCode)
	}
	c.publish(t, &paho.Publish{Topic: topic + "/kept", QoS: 1, Retain: true, Payload: []byte("retained")})
	c.subscribe(t, 42, paho.SubscribeOptions{Topic: topic + "/#", QoS: 1, NoLocal: true, RetainHandling: 2})
	c.none(t, 300*time.Millisecond) // no retained message (2), and not its own (no local)

	other := connectV5(t, addr, uniqueClientID(), nil)
	other.publish(t, &paho.Publish{Topic: topic + "/x", QoS: 1, Payload: []byte("from other")})
	got := c.next(t, "other's message")
	if got.Properties == nil || got.Properties.SubscriptionIdentifier == nil || *got.Properties.SubscriptionIdentifier != 42 {
		t.Fatalf("got %+v, want subscription identifier 42", got.Properties)
	}
	c.publish(t, &paho.Publish{Topic: topic + "/x", QoS: 1, Payload: []byte("own")})
	c.none(t, 300*time.Millisecond)
	other.publish(t, &paho.Publish{Topic: topic + "/kept", QoS: 1, Retain: true, Payload: nil})
}

// A shared subscription between a paho.golang MQTT 5 client and a
// paho.mqtt.golang 3.1.1 client: each message goes to exactly one of them.
func TestV5SharedSubscriptionAcrossVersions(t *testing.T) {
	addr := brokerAddr(t)
	topic := uniqueTopic(t)
	group := "$share/" + randomHex(4) + "/" + topic
	m5 := connectV5(t, addr, uniqueClientID(), nil)
	m5.subscribe(t, 0, paho.SubscribeOptions{Topic: group, QoS: 1})
	var got3 = make(chan mqtt.Message, 100)
	m3 := connectPaho(t, addr, 4, uniqueClientID(), nil)
	waitToken(t, m3.Subscribe(group, 1, func(_ mqtt.Client, m mqtt.Message) { got3 <- m }), "3.1.1 shared subscribe")

	pub := connectV5(t, addr, uniqueClientID(), nil)
	const n = 10
	for range n {
		pub.publish(t, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte("job")})
	}
	total, deadline := 0, time.After(waitTimeout)
	for total < n {
		select {
		case <-m5.got:
		case <-got3:
		case <-deadline:
			t.Fatalf("%d of %d messages delivered to the group", total, n)
		}
		total++
	}
	m5.none(t, 300*time.Millisecond)
	if len(got3) != 0 {
		t.Fatalf("more than %d messages delivered to the group", n)
	}
}

// Session expiry and message expiry with paho.golang: a message whose
// expiry passes while its subscriber is away is not delivered; one with
// time left is, with its interval counted down.
func TestV5ExpiryPaho(t *testing.T) {
	addr, external := os.Getenv(addrEnv), true
	var local *brokertest.Broker
	if addr == "" {
		local, external = brokertest.Start(t, broker.Options{}), false
		addr = local.Addr
	}
	topic := uniqueTopic(t)
	id := uniqueClientID()
	expiry := uint32(60)
	withSession := func(clean bool) func(*paho.Connect) {
		return func(cp *paho.Connect) {
			cp.CleanStart = clean
			cp.Properties = &paho.ConnectProperties{SessionExpiryInterval: &expiry}
		}
	}
	sub := connectV5(t, addr, id, withSession(true))
	sub.subscribe(t, 0, paho.SubscribeOptions{Topic: topic + "/#", QoS: 1})
	sub.Disconnect(&paho.Disconnect{})
	// The subscriber must be gone before the messages come: one still
	// online would take "short" into flight, and a message in flight is
	// resent whatever its expiry.
	if external {
		time.Sleep(500 * time.Millisecond) // no way to ask another broker
	} else {
		mosquittotest.WaitFor(t, 5*time.Second, "the subscriber to be offline", func() bool {
			return local.Server.Stats().ClientsConnected == 0
		})
	}

	pub := connectV5(t, addr, uniqueClientID(), nil)
	short, long := uint32(1), uint32(60)
	pub.publish(t, &paho.Publish{Topic: topic + "/short", QoS: 1, Payload: []byte("short"), Properties: &paho.PublishProperties{MessageExpiry: &short}})
	pub.publish(t, &paho.Publish{Topic: topic + "/long", QoS: 1, Payload: []byte("long"), Properties: &paho.PublishProperties{MessageExpiry: &long}})
	time.Sleep(2100 * time.Millisecond)

	back := connectV5(t, addr, id, withSession(false))
	if !back.connack.SessionPresent {
		t.Fatal("session not present")
	}
	got := back.next(t, "the message with time left")
	if string(got.Payload) != "long" || got.Properties == nil || got.Properties.MessageExpiry == nil || *got.Properties.MessageExpiry > 58 {
		t.Fatalf("got %q %+v, want long with its expiry counted down", got.Payload, got.Properties)
	}
	back.none(t, 300*time.Millisecond)
}

// Topic aliases from a paho.golang publisher: the alias is defined with the
// topic, then used alone; subscribers see the full topic either way.
func TestV5TopicAliasPaho(t *testing.T) {
	addr := brokerAddr(t)
	topic := uniqueTopic(t)
	sub := connectV5(t, addr, uniqueClientID(), nil)
	sub.subscribe(t, 0, paho.SubscribeOptions{Topic: topic, QoS: 1})
	pub := connectV5(t, addr, uniqueClientID(), nil)
	if pub.connack.Properties == nil || pub.connack.Properties.TopicAliasMaximum == nil || *pub.connack.Properties.TopicAliasMaximum < 1 {
		t.Fatalf("CONNACK announces no topic aliases: %+v", pub.connack.Properties)
	}
	alias := uint16(1)
	pub.publish(t, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte("defines"), Properties: &paho.PublishProperties{TopicAlias: &alias}})
	pub.publish(t, &paho.Publish{Topic: "", QoS: 1, Payload: []byte("uses"), Properties: &paho.PublishProperties{TopicAlias: &alias}})
	for _, want := range []string{"defines", "uses"} {
		got := sub.next(t, want)
		if got.Topic != topic || string(got.Payload) != want {
			t.Fatalf("got %s %q, want %s %q", got.Topic, got.Payload, topic, want)
		}
	}
}

// A will with a delay from a paho.golang client whose connection is lost:
// not published at once, published after the delay.
func TestV5WillDelayPaho(t *testing.T) {
	addr := brokerAddr(t)
	topic := uniqueTopic(t)
	watcher := connectV5(t, addr, uniqueClientID(), nil)
	watcher.subscribe(t, 0, paho.SubscribeOptions{Topic: topic, QoS: 1})

	nc, err := net.DialTimeout("tcp", addr, waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	dying := paho.NewClient(paho.ClientConfig{Conn: nc})
	delay, expiry := uint32(1), uint32(30)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	_, err = dying.Connect(ctx, &paho.Connect{ClientID: uniqueClientID(), CleanStart: true, KeepAlive: 30,
		Properties:     &paho.ConnectProperties{SessionExpiryInterval: &expiry},
		WillMessage:    &paho.WillMessage{Topic: topic, QoS: 1, Payload: []byte("gone")},
		WillProperties: &paho.WillProperties{WillDelayInterval: &delay}})
	if err != nil {
		t.Fatal(err)
	}
	lost := time.Now()
	nc.Close() // the connection is lost, not closed with DISCONNECT
	watcher.none(t, 500*time.Millisecond)
	got := watcher.next(t, "the delayed will")
	// (Will properties are checked in broker/willdelay_test.go: paho.golang
	// v0.23.0 does not send a will's Content Type, to mosquitto either.)
	if string(got.Payload) != "gone" {
		t.Fatalf("will %q", got.Payload)
	}
	if waited := time.Since(lost); waited < 900*time.Millisecond {
		t.Fatalf("will published %v after the connection was lost, before its 1s delay", waited)
	}
}
