package topic

import "strings"

// How filters read, here and in Tree and Names: levels are separated by '/';
// a level that is exactly "+" matches any one level; a last level that is
// exactly "#" matches the parent level and any number of levels below it;
// every other level, "#" in the middle or "a+" included, is compared byte for
// byte with no normalization [MQTT-4.7.3-4]. ValidFilter rejects filters with
// misplaced wildcards, so for valid filters this is the MQTT rule; defining
// it for every string keeps Match, Tree and Names in agreement on any input.

// nextLevel splits off the first level of topic. It reports last when topic
// has no '/' (rest is then empty). Every string, "" included, has at least
// one level.
func nextLevel(topic string) (level, rest string, last bool) {
	i := strings.IndexByte(topic, '/')
	if i < 0 {
		return topic, "", true
	}
	return topic[:i], topic[i+1:], false
}

// startsWithWildcard reports whether the first level of filter is a
// wildcard, the filters that must not match a name starting with '$'
// [MQTT-4.7.2-1].
func startsWithWildcard(filter string) bool {
	return filter == "#" || filter == "+" || strings.HasPrefix(filter, "+/")
}

// Match reports whether filter matches the topic name name. A filter whose
// first level is '+' or '#' does not match a name that starts with '$'
// [MQTT-4.7.2-1]; "sport/#" matches "sport". Match neither validates nor
// allocates, and is safe on any input.
func Match(filter, name string) bool {
	if IsSystem(name) && startsWithWildcard(filter) {
		return false // [MQTT-4.7.2-1]
	}
	for {
		filterLevel, filterRest, filterLast := nextLevel(filter)
		if filterLast && filterLevel == "#" {
			return true
		}
		nameLevel, nameRest, nameLast := nextLevel(name)
		if filterLevel != "+" && filterLevel != nameLevel {
			return false
		}
		switch {
		case nameLast && filterLast:
			return true
		case nameLast:
			return filterRest == "#" // "sport/#" matches "sport"
		case filterLast:
			return false
		}
		filter, name = filterRest, nameRest
	}
}
