package interop

import (
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// persistent is a connectPaho option: clean session off.
func persistent(opts *mqtt.ClientOptions) { opts.SetCleanSession(false) }

// TestPersistentSession connects with clean session off, subscribes, goes
// away, and checks that the subscriptions were kept and the QoS 1 and 2
// messages published meanwhile were queued and arrive on reconnection, at
// min(publish QoS, subscription QoS) and in order per topic
// [MQTT-3.1.2-4, MQTT-3.1.2-5]. The session-present flag of MQTT 3.1.1 is
// checked at every step [MQTT-3.2.2-1, MQTT-3.2.2-2, MQTT-3.2.2-3]; MQTT 3.1
// has no such flag.
func TestPersistentSession(t *testing.T) {
	addr := brokerAddr(t)
	forEachProtocol(t, func(t *testing.T, level uint) {
		expectSessionPresent := func(t *testing.T, c *pahoClient, want bool, when string) {
			t.Helper()
			if level == 4 && c.sessionPresent != want {
				t.Fatalf("%s: session present %v, want %v", when, c.sessionPresent, want)
			}
		}
		id := uniqueClientID()
		base := uniqueTopic(t)
		atQoS1, atQoS2 := base+"/qos1", base+"/qos2"
		t.Cleanup(func() { dropSession(t, addr, level, id) })

		first := connectPaho(t, addr, level, id, persistent)
		expectSessionPresent(t, first, false, "first connection")
		first.subscribe(t, atQoS1, 1)
		first.subscribe(t, atQoS2, 2)
		first.Disconnect(250)

		publisher := connectPaho(t, addr, level, uniqueClientID(), nil)
		type queued struct {
			topic   string
			payload string
			pubQoS  byte
			subQoS  byte
		}
		published := []queued{
			{atQoS1, "a", 1, 1},
			{atQoS2, "b", 2, 2},
			{atQoS1, "c", 2, 1},
			{atQoS2, "d", 1, 2},
			{atQoS2, "e", 2, 2},
			{atQoS1, "f", 1, 1},
		}
		for _, q := range published {
			publisher.publish(t, q.topic, q.pubQoS, false, q.payload)
		}

		second := connectPaho(t, addr, level, id, persistent)
		expectSessionPresent(t, second, true, "reconnection with clean session off")
		want := map[string][]string{}
		for _, q := range published {
			want[q.topic] = append(want[q.topic], q.payload)
		}
		got := map[string][]string{}
		for range published {
			m := second.inbox.next(t, "queued messages")
			var match *queued
			for i := range published {
				if published[i].topic == m.Topic() && published[i].payload == string(m.Payload()) {
					match = &published[i]
				}
			}
			if match == nil {
				t.Fatalf("unexpected message %s", describe(m))
			}
			if wantQoS := min(match.pubQoS, match.subQoS); m.Qos() != wantQoS || m.Retained() {
				t.Fatalf("queued message %s: want QoS %d, RETAIN clear", describe(m), wantQoS)
			}
			got[m.Topic()] = append(got[m.Topic()], string(m.Payload()))
		}
		for topic := range want {
			if len(got[topic]) != len(want[topic]) || !equal(got[topic], want[topic]) {
				t.Fatalf("queued messages on %s: got %q, want %q in this order", topic, got[topic], want[topic])
			}
		}

		// The subscription is still there without subscribing again.
		publisher.publish(t, atQoS2, 2, false, "live")
		expectMessage(t, second.inbox.next(t, "a message while connected"), atQoS2, "live", 2, false)
		second.Disconnect(250)

		clean := connectPaho(t, addr, level, id, nil)
		expectSessionPresent(t, clean, false, "clean session on")
		clean.Disconnect(250)

		third := connectPaho(t, addr, level, id, persistent)
		expectSessionPresent(t, third, false, "clean session off after a clean session")
		third.publish(t, atQoS1, 1, false, "to a dropped subscription")
		third.subscribe(t, base+"/sentinel", 1)
		third.publish(t, base+"/sentinel", 1, false, "sentinel")
		if before := third.inbox.until(t, base+"/sentinel", "sentinel"); len(before) != 0 {
			t.Fatalf("subscription survived a clean session: got %v", describeAll(before))
		}
	})
}

// equal reports whether two string slices hold the same elements in order.
func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// dropSession connects once with clean session on so that a broker shared
// between runs does not keep the session of a test's client id.
func dropSession(t *testing.T, addr string, level uint, id string) {
	t.Helper()
	opts := mqtt.NewClientOptions().
		AddBroker("tcp://" + addr).
		SetClientID(id).
		SetProtocolVersion(level).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectTimeout(waitTimeout)
	client := mqtt.NewClient(opts)
	if token := client.Connect(); !token.WaitTimeout(waitTimeout) || token.Error() != nil {
		t.Logf("dropping session %s: connect failed: %v", id, token.Error())
		return
	}
	client.Disconnect(100)
}

// TestClientTakeover connects a second client with the same client id and
// checks that the broker closes the first connection [MQTT-3.1.4-2] and
// serves the second.
func TestClientTakeover(t *testing.T) {
	addr := brokerAddr(t)
	forEachProtocol(t, func(t *testing.T, level uint) {
		id := uniqueClientID()
		lost := make(chan error, 1)
		first := connectPaho(t, addr, level, id, func(opts *mqtt.ClientOptions) {
			opts.SetConnectionLostHandler(func(_ mqtt.Client, err error) {
				select {
				case lost <- err:
				default:
				}
			})
		})
		topic := uniqueTopic(t)
		first.subscribe(t, topic, 1)

		second := connectPaho(t, addr, level, id, nil)
		select {
		case err := <-lost:
			t.Logf("first connection closed: %v", err)
		case <-time.After(waitTimeout):
			t.Fatalf("first connection still open %v after the takeover", waitTimeout)
		}
		if first.IsConnectionOpen() {
			t.Fatalf("first client reports its connection open after the takeover")
		}

		second.subscribe(t, topic, 1)
		second.publish(t, topic, 1, false, "to the second")
		expectMessage(t, second.inbox.next(t, "round trip on the second connection"), topic, "to the second", 1, false)
	})
}

// TestEmptyClientID checks that MQTT 3.1.1 accepts a zero-length client id
// with clean session on [MQTT-3.1.3-6, MQTT-3.1.3-7] and serves the client,
// and rejects one with clean session off with return code 2 and a close
// [MQTT-3.1.3-8].
func TestEmptyClientID(t *testing.T) {
	addr := brokerAddr(t)
	t.Run("clean session on", func(t *testing.T) {
		c := connectPaho(t, addr, 4, "", nil)
		topic := uniqueTopic(t)
		c.subscribe(t, topic, 2)
		c.publish(t, topic, 2, false, "hello")
		expectMessage(t, c.inbox.next(t, "round trip"), topic, "hello", 2, false)
	})
	t.Run("two at once", func(t *testing.T) {
		// Each gets its own identity: neither takes the other over.
		a := connectPaho(t, addr, 4, "", nil)
		b := connectPaho(t, addr, 4, "", nil)
		topic := uniqueTopic(t)
		a.subscribe(t, topic, 1)
		b.publish(t, topic, 1, false, "from b")
		expectMessage(t, a.inbox.next(t, "message from the other anonymous client"), topic, "from b", 1, false)
		if !a.IsConnectionOpen() || !b.IsConnectionOpen() {
			t.Fatalf("a client with an empty id was disconnected by another")
		}
	})
	t.Run("MQTT-3.1.3-8", func(t *testing.T) {
		c := dialRaw(t, addr)
		sessionPresent, code := c.connect(t, rawConnect{level: 4, clean: false, keepAlive: 30})
		if code != connackIdentifierRejected || sessionPresent {
			t.Fatalf("CONNACK return code %d, session present %v: want %d, false", code, sessionPresent, connackIdentifierRejected)
		}
		if _, err := c.waitClosed(time.Now().Add(waitTimeout)); err != nil {
			t.Fatalf("connection after the rejection: %v", err)
		}
	})
}
