package interop

import (
	"testing"
)

// TestRetained checks the life of a retained message: the last one published
// wins; a new subscriber receives it with RETAIN set [MQTT-3.3.1-6] at
// min(stored QoS, subscription QoS); a subscriber that was already there
// receives each publication with RETAIN cleared [MQTT-3.3.1-9]; an empty
// retained payload is forwarded as normal [MQTT-3.3.1-10] and removes the
// retained message [MQTT-3.3.1-11].
//
// Absence is checked with a sentinel: after SUBACK the subscriber publishes a
// plain message to the same topic on its own connection, so a broker that
// sends retained messages when it handles SUBSCRIBE has sent them all before
// the sentinel.
func TestRetained(t *testing.T) {
	addr := brokerAddr(t)
	forEachProtocol(t, func(t *testing.T, level uint) {
		topic := uniqueTopic(t) + "/state"
		clearRetained(t, addr, topic)

		existing := connectPaho(t, addr, level, uniqueClientID(), nil)
		existing.subscribe(t, topic, 1)
		publisher := connectPaho(t, addr, level, uniqueClientID(), nil)
		for _, payload := range []string{"one", "two", "three"} {
			publisher.publish(t, topic, 1, true, payload)
			expectMessage(t, existing.inbox.next(t, payload), topic, payload, 1, false)
		}

		t.Run("last wins, RETAIN set for a new subscriber", func(t *testing.T) {
			for _, subQoS := range []byte{0, 1, 2} {
				late := connectPaho(t, addr, level, uniqueClientID(), nil)
				late.subscribe(t, topic, subQoS)
				late.publish(t, topic, 0, false, "sentinel")
				before := late.inbox.until(t, topic, "sentinel")
				if len(before) != 1 {
					t.Fatalf("subscribed at QoS %d: got %d messages before the sentinel, want the one retained: %v",
						subQoS, len(before), describeAll(before))
				}
				expectMessage(t, before[0], topic, "three", min(1, subQoS), true)
				late.Disconnect(100)
			}
			expectMessage(t, existing.inbox.next(t, "sentinels"), topic, "sentinel", 0, false)
			expectMessage(t, existing.inbox.next(t, "sentinels"), topic, "sentinel", 0, false)
			expectMessage(t, existing.inbox.next(t, "sentinels"), topic, "sentinel", 0, false)
		})

		t.Run("empty payload clears", func(t *testing.T) {
			publisher.publish(t, topic, 1, true, "")
			expectMessage(t, existing.inbox.next(t, "the empty retained message"), topic, "", 1, false)
			late := connectPaho(t, addr, level, uniqueClientID(), nil)
			late.subscribe(t, topic, 1)
			late.publish(t, topic, 1, false, "sentinel")
			if before := late.inbox.until(t, topic, "sentinel"); len(before) != 0 {
				t.Fatalf("retained message still delivered after it was cleared: %v", describeAll(before))
			}
		})
	})
}

// TestRetainedWildcard checks that a filter with wildcards collects the
// retained messages of every topic it matches, each with RETAIN set.
func TestRetainedWildcard(t *testing.T) {
	addr := brokerAddr(t)
	forEachProtocol(t, func(t *testing.T, level uint) {
		base := uniqueTopic(t)
		topics := map[string]string{
			base + "/kitchen/temperature": "21.5",
			base + "/garden/temperature":  "12.0",
			base + "/garden/humidity":     "80",
		}
		publisher := connectPaho(t, addr, level, uniqueClientID(), nil)
		for topic, payload := range topics {
			clearRetained(t, addr, topic)
			publisher.publish(t, topic, 1, true, payload)
		}
		subscriber := connectPaho(t, addr, level, uniqueClientID(), nil)
		subscriber.subscribe(t, base+"/+/temperature", 1)
		sentinel := base + "/sentinel/temperature"
		subscriber.publish(t, sentinel, 1, false, "sentinel")
		before := subscriber.inbox.until(t, sentinel, "sentinel")
		if len(before) != 2 {
			t.Fatalf("got %d messages before the sentinel, want the 2 retained ones: %v", len(before), describeAll(before))
		}
		got := map[string]string{}
		for _, m := range before {
			if !m.Retained() {
				t.Fatalf("retained message delivered without RETAIN: %s", describe(m))
			}
			got[m.Topic()] = string(m.Payload())
		}
		want := map[string]string{
			base + "/kitchen/temperature": "21.5",
			base + "/garden/temperature":  "12.0",
		}
		if len(got) != len(want) || got[base+"/kitchen/temperature"] != "21.5" || got[base+"/garden/temperature"] != "12.0" {
			t.Fatalf("retained messages for %s/+/temperature: got %v, want %v", base, got, want)
		}
	})
}
