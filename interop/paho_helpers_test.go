package interop

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// waitTimeout bounds every wait for the broker: a connect, an
// acknowledgement, a message, a closed socket.
const waitTimeout = 5 * time.Second

// protocol is one MQTT protocol level the tests run at.
type protocol struct {
	name  string // as the specification names it
	level uint   // the CONNECT protocol level; paho's ProtocolVersion
}

// protocols are the levels every test runs at: paho's ProtocolVersion 4 and 3.
var protocols = []protocol{
	{name: "MQTT3.1.1", level: 4},
	{name: "MQTT3.1", level: 3},
}

// forEachProtocol runs fn as one subtest per protocol level.
func forEachProtocol(t *testing.T, fn func(t *testing.T, level uint)) {
	t.Helper()
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) { fn(t, p.level) })
	}
}

// randomHex returns n random bytes as hex.
func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}

// uniqueClientID returns a fresh client identifier short enough for MQTT 3.1,
// which allows at most 23 characters.
func uniqueClientID() string {
	return "mi-" + randomHex(8)
}

// uniqueTopic returns a topic prefix no other test or run uses: the test's
// name (wildcard characters replaced) and a random suffix.
func uniqueTopic(t *testing.T) string {
	name := strings.NewReplacer("+", "_", "#", "_", " ", "_", "$", "_").Replace(t.Name())
	return "midge-interop/" + name + "/" + randomHex(4)
}

// inbox collects the messages paho hands to a client's handler, in order.
// The handler runs on paho's goroutine and never blocks; the test goroutine
// reads with a deadline.
type inbox struct {
	messages chan mqtt.Message
	overflow atomic.Bool // set when a message was dropped because messages was full
}

func newInbox() *inbox {
	return &inbox{messages: make(chan mqtt.Message, 10000)}
}

// handle is the paho MessageHandler that records a message.
func (in *inbox) handle(_ mqtt.Client, m mqtt.Message) {
	select {
	case in.messages <- m:
	default:
		in.overflow.Store(true)
	}
}

// next returns the next message, failing the test when none arrives within
// waitTimeout.
func (in *inbox) next(t *testing.T, what string) mqtt.Message {
	t.Helper()
	if in.overflow.Load() {
		t.Fatalf("inbox overflowed: messages were dropped")
	}
	select {
	case m := <-in.messages:
		return m
	case <-time.After(waitTimeout):
		t.Fatalf("no message within %v: waiting for %s", waitTimeout, what)
		return nil
	}
}

// until returns the messages that arrive before the first one with the given
// topic and payload (the sentinel), which is consumed and not returned.
func (in *inbox) until(t *testing.T, topic, payload string) []mqtt.Message {
	t.Helper()
	var before []mqtt.Message
	for {
		m := in.next(t, fmt.Sprintf("sentinel %q on %s", payload, topic))
		if m.Topic() == topic && string(m.Payload()) == payload {
			return before
		}
		before = append(before, m)
	}
}

// describe formats a message for failure output.
func describe(m mqtt.Message) string {
	return fmt.Sprintf("{topic %q payload %q qos %d retain %v dup %v}",
		m.Topic(), m.Payload(), m.Qos(), m.Retained(), m.Duplicate())
}

// describeAll formats messages for failure output.
func describeAll(messages []mqtt.Message) string {
	var b strings.Builder
	for _, m := range messages {
		b.WriteString(describe(m))
	}
	return "[" + b.String() + "]"
}

// expectMessage fails the test unless m has the given topic, payload, QoS and
// RETAIN flag.
func expectMessage(t *testing.T, m mqtt.Message, topic, payload string, qos byte, retained bool) {
	t.Helper()
	if m.Topic() != topic || string(m.Payload()) != payload || m.Qos() != qos || m.Retained() != retained {
		t.Fatalf("got %s, want {topic %q payload %q qos %d retain %v}", describe(m), topic, payload, qos, retained)
	}
}

// pahoClient is a connected paho client whose every message (no per-filter
// handlers are used) lands in inbox.
type pahoClient struct {
	mqtt.Client
	inbox          *inbox
	sessionPresent bool
}

// connectPaho connects a paho client at the given protocol level with a clean
// session, no automatic reconnection and every message routed to its inbox;
// configure, when not nil, adjusts the options before connecting. The client
// is disconnected when the test ends.
func connectPaho(t *testing.T, addr string, level uint, clientID string, configure func(*mqtt.ClientOptions)) *pahoClient {
	t.Helper()
	c, token := startPaho(t, addr, level, clientID, configure)
	waitToken(t, token, "connect "+clientID)
	c.sessionPresent = token.(*mqtt.ConnectToken).SessionPresent()
	return c
}

// startPaho builds a client as connectPaho does and starts connecting; the
// caller waits on the token.
func startPaho(t *testing.T, addr string, level uint, clientID string, configure func(*mqtt.ClientOptions)) (*pahoClient, mqtt.Token) {
	t.Helper()
	in := newInbox()
	opts := mqtt.NewClientOptions().
		AddBroker("tcp://" + addr).
		SetClientID(clientID).
		SetProtocolVersion(level).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetResumeSubs(false).
		SetOrderMatters(true).
		SetConnectTimeout(waitTimeout).
		SetWriteTimeout(waitTimeout).
		SetKeepAlive(30 * time.Second).
		SetDefaultPublishHandler(in.handle)
	if configure != nil {
		configure(opts)
	}
	client := mqtt.NewClient(opts)
	t.Cleanup(func() {
		if client.IsConnectionOpen() {
			client.Disconnect(100)
		}
	})
	return &pahoClient{Client: client, inbox: in}, client.Connect()
}

// waitToken waits for a paho token and fails the test on timeout or error.
func waitToken(t *testing.T, token mqtt.Token, what string) {
	t.Helper()
	if !token.WaitTimeout(waitTimeout) {
		t.Fatalf("%s: no answer within %v", what, waitTimeout)
	}
	if err := token.Error(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// subscribe subscribes to filter at qos and fails the test unless the broker
// grants exactly qos.
func (c *pahoClient) subscribe(t *testing.T, filter string, qos byte) {
	t.Helper()
	token := c.Subscribe(filter, qos, nil)
	waitToken(t, token, "subscribe "+filter)
	granted, ok := token.(*mqtt.SubscribeToken).Result()[filter]
	if !ok || granted != qos {
		t.Fatalf("subscribe %s at QoS %d: granted %d (present %v)", filter, qos, granted, ok)
	}
}

// publish publishes and waits until the flow for qos is complete (written for
// QoS 0, PUBACK for 1, PUBCOMP for 2).
func (c *pahoClient) publish(t *testing.T, topic string, qos byte, retained bool, payload string) {
	t.Helper()
	waitToken(t, c.Publish(topic, qos, retained, payload), fmt.Sprintf("publish %q to %s at QoS %d", payload, topic, qos))
}

// clearRetained removes the retained message on each topic when the test ends
// so that a broker shared between runs (MIDGE_TEST_ADDR) does not collect them.
func clearRetained(t *testing.T, addr string, topics ...string) {
	t.Helper()
	t.Cleanup(func() {
		opts := mqtt.NewClientOptions().
			AddBroker("tcp://" + addr).
			SetClientID(uniqueClientID()).
			SetAutoReconnect(false).
			SetConnectTimeout(waitTimeout)
		client := mqtt.NewClient(opts)
		if token := client.Connect(); !token.WaitTimeout(waitTimeout) || token.Error() != nil {
			t.Logf("clearing retained messages: connect failed: %v", token.Error())
			return
		}
		defer client.Disconnect(100)
		for _, topic := range topics {
			if token := client.Publish(topic, 1, true, []byte{}); !token.WaitTimeout(waitTimeout) || token.Error() != nil {
				t.Logf("clearing retained message on %s: %v", topic, token.Error())
			}
		}
	})
}
