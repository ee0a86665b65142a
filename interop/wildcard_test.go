package interop

import (
	"strings"
	"testing"
)

// matches is the reference topic matcher for the tests: filter levels
// against name levels, '+' one level, '#' the rest including the parent
// [MQTT-4.7.1-2], and wildcards never matching a first level starting with
// '$' [MQTT-4.7.2-1]. It is deliberately the simplest thing that follows the
// specification, not the broker's trie.
func matches(filter, name string) bool {
	if strings.HasPrefix(name, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false
	}
	filterLevels, nameLevels := strings.Split(filter, "/"), strings.Split(name, "/")
	for i, level := range filterLevels {
		if level == "#" {
			return true
		}
		if i >= len(nameLevels) || (level != "+" && level != nameLevels[i]) {
			return false
		}
	}
	return len(filterLevels) == len(nameLevels)
}

// TestWildcards subscribes one client per filter, publishes topics that do
// and do not match from one publisher, then one sentinel per filter. Each
// client must receive exactly the topics the reference matcher selects, in
// publication order, up to its sentinel.
//
// The check relies on a broker forwarding one publisher's QoS 1 messages to
// one subscriber in the order it received them, which both mosquitto and midge
// do for messages on different topics too.
func TestWildcards(t *testing.T) {
	addr := brokerAddr(t)
	forEachProtocol(t, func(t *testing.T, level uint) {
		base := uniqueTopic(t)
		filters := []string{
			base + "/+/temperature",
			base + "/#",
			base + "/+",
			base + "/+/+",
			base + "/kitchen/#",
			base + "/+/temperature/#",
		}
		names := []string{
			base,
			base + "/kitchen",
			base + "/kitchen/temperature",
			base + "/garden/temperature",
			base + "/kitchen/temperature/celsius",
			base + "//temperature",
			base + "/kitchen/humidity",
			base + "/kitchen/",
			base + "-sibling/kitchen/temperature",
		}
		subscribers := make([]*pahoClient, len(filters))
		for i, filter := range filters {
			subscribers[i] = connectPaho(t, addr, level, uniqueClientID(), nil)
			subscribers[i].subscribe(t, filter, 1)
		}
		sentinels := []string{
			base + "/sentinel/temperature",
			base + "/sentinel/a/b/c",
			base + "/sentinel",
			base + "/sentinel/x",
			base + "/kitchen/sentinel",
			base + "/sentinel/temperature/x",
		}
		for i, sentinel := range sentinels {
			if !matches(filters[i], sentinel) {
				t.Fatalf("test bug: sentinel %s does not match %s", sentinel, filters[i])
			}
		}
		publisher := connectPaho(t, addr, level, uniqueClientID(), nil)
		sequence := append(append([]string{}, names...), sentinels...)
		for _, name := range sequence {
			publisher.publish(t, name, 1, false, name)
		}
		for i, filter := range filters {
			var want []string
			for _, name := range sequence {
				if matches(filter, name) && name != sentinels[i] {
					want = append(want, name)
				}
				if name == sentinels[i] {
					break
				}
			}
			var got []string
			for _, m := range subscribers[i].inbox.until(t, sentinels[i], sentinels[i]) {
				got = append(got, m.Topic())
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("filter %s:\n got  %q\n want %q", filter, got, want)
			}
		}
	})
}

// TestDollarTopics checks that '#' and '+' at the first level do not match a
// topic starting with '$' [MQTT-4.7.2-1], while a filter naming the '$' level
// does.
func TestDollarTopics(t *testing.T) {
	addr := brokerAddr(t)
	forEachProtocol(t, func(t *testing.T, level uint) {
		suffix := randomHex(4)
		dollar := "$midge-interop-" + suffix + "/x"
		plain := "midge-interop-" + suffix + "/x"
		filters := []string{"#", "+/x", "+/#"}
		wildcard := make([]*pahoClient, len(filters))
		for i, filter := range filters {
			wildcard[i] = connectPaho(t, addr, level, uniqueClientID(), nil)
			wildcard[i].subscribe(t, filter, 1)
		}
		named := connectPaho(t, addr, level, uniqueClientID(), nil)
		named.subscribe(t, "$midge-interop-"+suffix+"/#", 1)

		publisher := connectPaho(t, addr, level, uniqueClientID(), nil)
		publisher.publish(t, dollar, 1, false, "dollar")
		publisher.publish(t, plain, 1, false, "plain")

		expectMessage(t, named.inbox.next(t, "the $ topic"), dollar, "dollar", 1, false)
		for i, filter := range filters {
			// Other tests' traffic and leftover retained messages reach these
			// subscribers too; only a '$' topic before the sentinel fails.
			for _, m := range wildcard[i].inbox.until(t, plain, "plain") {
				if strings.HasPrefix(m.Topic(), "$") {
					t.Errorf("filter %s matched %s", filter, describe(m))
				}
			}
		}
	})
}
