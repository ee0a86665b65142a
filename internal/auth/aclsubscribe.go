package auth

import (
	"strings"

	"github.com/midge-mqtt/midge/topic"
)

// CanSubscribe reports whether a subscription to filter could ever deliver
// a message to the client: whether some topic name that filter matches is
// one CanRead allows. A broker refuses the others in its SUBACK; messages
// through the filters it grants are still checked one by one with CanRead,
// since a filter such as "#" can match both topics the client may read and
// topics it may not. For a shared subscription, pass the filter inside
// $share/GROUP/.
//
// The answer is exact: it is true if and only if such a topic name exists,
// deny rules, '$' topics and %c/%u patterns weighed as CanRead weighs them
// (Mosquitto's acl_file grants every SUBSCRIBE; its dynamic-security plugin
// refuses, as this does). Its cost grows with the number of rules times the
// number of deny rules, once per SUBSCRIBE, never per message.
func (c *ClientACL) CanSubscribe(filter string) bool {
	r := c.current()
	f := parsePattern(filter)
	var denies []pattern
	for i := range r.read {
		x, system, ok := intersect(f, parsePattern(r.read[i].filter), r.read[i].system)
		if !ok {
			continue
		}
		if denies == nil {
			denies = make([]pattern, len(r.deny))
			for j := range r.deny {
				denies[j] = parsePattern(r.deny[j].filter)
			}
		}
		if !covered(x, system, denies, r.deny) {
			return true
		}
	}
	return false
}

// pattern is a filter read as topic.Match reads it: levels, where "+" is
// any one level, and whether a last "#" followed them (multi), which
// matches names of len(levels) levels or more.
type pattern struct {
	levels []string
	multi  bool
}

func parsePattern(filter string) pattern {
	levels := strings.Split(filter, "/")
	if levels[len(levels)-1] == "#" {
		return pattern{levels: levels[:len(levels)-1], multi: true}
	}
	return pattern{levels: levels}
}

// startsWithWildcard reports whether p's first level is a wildcard, so that
// it matches no name starting with '$' [MQTT-4.7.2-1].
func (p pattern) startsWithWildcard() bool {
	return len(p.levels) == 0 || p.levels[0] == "+"
}

// intersect returns the pattern of the topic names that both the
// subscription filter f and the read rule r (ruleSystem: written starting
// with '$') match, and whether those names start with '$'; ok is false when
// there are none. In the result, "+" stands for a level that may be any
// string that does not start with '$' (at the first level) and is not a
// literal of any rule.
func intersect(f, r pattern, ruleSystem bool) (x pattern, system, ok bool) {
	short, long := f, r
	if len(short.levels) > len(long.levels) {
		short, long = long, short
	}
	switch {
	case !short.multi && len(short.levels) != len(long.levels):
		return pattern{}, false, false // exact lengths that differ, or exact shorter than a multi's levels
	case !short.multi && long.multi:
		short, long = long, short // the exact one gives the length and the tail
	}
	x = pattern{levels: make([]string, len(long.levels)), multi: short.multi && long.multi}
	for i := range long.levels {
		level := long.levels[i]
		if i < len(short.levels) && level == "+" {
			level = short.levels[i]
		} else if i < len(short.levels) && short.levels[i] != "+" && short.levels[i] != level {
			return pattern{}, false, false
		}
		x.levels[i] = level
	}
	system = len(x.levels) > 0 && topic.IsSystem(x.levels[0])
	if system && (f.startsWithWildcard() || !ruleSystem) {
		// A '$' name: the filter matches it only with a literal first level
		// [MQTT-4.7.2-1], and a rule only if written with a '$' first.
		return pattern{}, false, false
	}
	return x, system, true
}

// covered reports whether deny rules match every topic name of x. A name
// that puts a fresh string (one no rule holds) at each "+" of x, and at
// each level past x's own when x is multi, is matched by a deny rule only
// if that rule matches every name of x of that many levels; so x is covered
// if and only if such a name of each possible depth is denied. Depths past
// the longest deny rule's levels all fare as the first of them does.
func covered(x pattern, system bool, denies []pattern, rules []compiledRule) bool {
	first, last := len(x.levels), len(x.levels)
	if x.multi {
		first = max(first, 1) // a name has at least one level
		for _, d := range denies {
			last = max(last, len(d.levels)+1)
		}
		last = max(first, min(last, topic.MaxLevels))
	}
	for depth := first; depth <= last; depth++ {
		if !deniedAt(x, system, depth, denies, rules) {
			return false
		}
	}
	return true
}

// deniedAt reports whether a deny rule matches x's fresh name of depth
// levels (see covered).
func deniedAt(x pattern, system bool, depth int, denies []pattern, rules []compiledRule) bool {
	for j, d := range denies {
		if system && !rules[j].system || system && d.startsWithWildcard() {
			continue // the deny rule matches no '$' name
		}
		if d.multi && len(d.levels) > depth || !d.multi && len(d.levels) != depth {
			continue
		}
		matched := true
		for i, level := range d.levels {
			if level == "+" {
				continue
			}
			if i >= len(x.levels) || x.levels[i] != level {
				matched = false // a fresh level, or another literal
				break
			}
		}
		if matched {
			return true
		}
	}
	return false
}
