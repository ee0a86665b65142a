package interop

import (
	"fmt"
	"strconv"
	"testing"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// TestQoSDelivery publishes at QoS 0, 1 and 2 to subscriptions at QoS 0, 1
// and 2, between every pair of protocol levels, and checks that each message
// arrives once, unchanged, at min(publish QoS, subscription QoS)
// [MQTT-3.8.4-6].
func TestQoSDelivery(t *testing.T) {
	addr := brokerAddr(t)
	for _, from := range protocols {
		for _, to := range protocols {
			t.Run(from.name+"-to-"+to.name, func(t *testing.T) {
				publisher := connectPaho(t, addr, from.level, uniqueClientID(), nil)
				subscriber := connectPaho(t, addr, to.level, uniqueClientID(), nil)
				base := uniqueTopic(t)
				for pubQoS := byte(0); pubQoS <= 2; pubQoS++ {
					for subQoS := byte(0); subQoS <= 2; subQoS++ {
						topic := fmt.Sprintf("%s/pub%d/sub%d", base, pubQoS, subQoS)
						payload := fmt.Sprintf("published at %d, subscribed at %d", pubQoS, subQoS)
						subscriber.subscribe(t, topic, subQoS)
						publisher.publish(t, topic, pubQoS, false, payload)
						m := subscriber.inbox.next(t, payload)
						expectMessage(t, m, topic, payload, min(pubQoS, subQoS), false)
						if m.Duplicate() {
							t.Fatalf("first delivery has DUP set: %s", describe(m))
						}
					}
				}
			})
		}
	}
}

// TestBothDirections has each of two clients publish to the other at every
// QoS, so that each one sends and receives QoS 2 flows over the same
// connection.
func TestBothDirections(t *testing.T) {
	addr := brokerAddr(t)
	forEachProtocol(t, func(t *testing.T, level uint) {
		base := uniqueTopic(t)
		left := connectPaho(t, addr, level, uniqueClientID(), nil)
		right := connectPaho(t, addr, level, uniqueClientID(), nil)
		left.subscribe(t, base+"/to-left", 2)
		right.subscribe(t, base+"/to-right", 2)
		for qos := byte(0); qos <= 2; qos++ {
			payload := "ping " + strconv.Itoa(int(qos))
			left.publish(t, base+"/to-right", qos, false, payload)
			expectMessage(t, right.inbox.next(t, payload), base+"/to-right", payload, qos, false)
			payload = "pong " + strconv.Itoa(int(qos))
			right.publish(t, base+"/to-left", qos, false, payload)
			expectMessage(t, left.inbox.next(t, payload), base+"/to-left", payload, qos, false)
		}
	})
}

// TestQoS1Ordering sends a burst of QoS 1 messages without waiting for each
// acknowledgement and checks that subscribers at QoS 1 and 2 receive them in
// the order they were published [MQTT-4.6.0-6].
func TestQoS1Ordering(t *testing.T) {
	const count = 500
	addr := brokerAddr(t)
	forEachProtocol(t, func(t *testing.T, level uint) {
		topic := uniqueTopic(t)
		subscribers := []*pahoClient{
			connectPaho(t, addr, level, uniqueClientID(), nil),
			connectPaho(t, addr, level, uniqueClientID(), nil),
		}
		subscribers[0].subscribe(t, topic, 1)
		subscribers[1].subscribe(t, topic, 2)
		publisher := connectPaho(t, addr, level, uniqueClientID(), nil)
		tokens := make([]mqtt.Token, count)
		for i := range tokens {
			tokens[i] = publisher.Publish(topic, 1, false, strconv.Itoa(i))
		}
		for i, token := range tokens {
			waitToken(t, token, "publish "+strconv.Itoa(i))
		}
		for s, subscriber := range subscribers {
			for i := range count {
				m := subscriber.inbox.next(t, fmt.Sprintf("message %d of %d", i, count))
				expectMessage(t, m, topic, strconv.Itoa(i), 1, false)
			}
			if n := len(subscriber.inbox.messages); n != 0 {
				t.Fatalf("subscriber %d: %d messages more than published", s, n)
			}
		}
	})
}
