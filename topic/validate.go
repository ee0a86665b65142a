package topic

import (
	"errors"
	"strings"
)

// Errors returned by ValidName and ValidFilter, as they are (unwrapped), so
// callers may compare with == or errors.Is.
var (
	// ErrEmpty means the name or filter is empty [MQTT-4.7.3-1].
	ErrEmpty = errors.New("topic: empty topic name or filter")
	// ErrWildcardInName means a topic name holds '+' or '#' [MQTT-4.7.1-1].
	ErrWildcardInName = errors.New("topic: wildcard '+' or '#' in a topic name")
	// ErrInvalidFilter means a filter has a '+' that is not a whole level
	// [MQTT-4.7.1-3] or a '#' that is not the whole last level [MQTT-4.7.1-2].
	ErrInvalidFilter = errors.New("topic: wildcard that is not a whole level, or '#' that is not the last level")
	// ErrTooDeep means more than MaxSeparators '/' separators, that is
	// more than MaxLevels levels.
	ErrTooDeep = errors.New("topic: more than 200 '/' separators")
	// ErrTooLong means more than MaxLength bytes [MQTT-4.7.3-3].
	ErrTooLong = errors.New("topic: longer than 65535 bytes")
	// ErrInvalidShare means a filter that is "$share" or starts with
	// "$share/" but is not $share/GROUP/FILTER with a valid GROUP and a
	// FILTER [MQTT-4.8.2-1] [MQTT-4.8.2-2]. An invalid FILTER gives
	// FILTER's own error.
	ErrInvalidShare = errors.New("topic: invalid shared subscription filter")
	// ErrNullCharacter means the name or filter holds U+0000 [MQTT-4.7.3-2].
	ErrNullCharacter = errors.New("topic: contains the null character U+0000")
)

// MaxSeparators is the largest number of '/' a topic name or filter may
// hold, counted over the whole string (a shared subscription's "$share/" and
// GROUP's '/' included): Mosquitto's TOPIC_HIERARCHY_LIMIT, which its
// mosquitto_pub_topic_check and mosquitto_sub_topic_check apply to the '/'
// characters. Deeper names and filters are rejected so that no peer can make
// the broker do work, or use stack, in proportion to an absurd depth
// (CVE-2019-11779).
const MaxSeparators = 200

// MaxLevels is the largest number of levels a topic name or filter may have:
// one more than its separators.
const MaxLevels = MaxSeparators + 1

// MaxLength is the largest length in bytes of a topic name or filter
// [MQTT-4.7.3-3].
const MaxLength = 65535

// sharePrefix starts a shared subscription filter: $share/GROUP/FILTER.
const sharePrefix = "$share/"

// ValidName reports whether name may be used as the topic name of a PUBLISH:
// at least one byte [MQTT-4.7.3-1], at most MaxLength bytes [MQTT-4.7.3-3],
// no wildcard [MQTT-4.7.1-1], no U+0000 [MQTT-4.7.3-2] and at most
// MaxSeparators '/'. It returns nil or one of the package's errors. UTF-8 validity is
// the packet decoder's concern and is not checked here.
func ValidName(name string) error {
	switch {
	case name == "":
		return ErrEmpty // [MQTT-4.7.3-1]
	case len(name) > MaxLength:
		return ErrTooLong // [MQTT-4.7.3-3]
	}
	levels := 1
	for i := 0; i < len(name); i++ {
		switch name[i] {
		case '/':
			levels++
		case '+', '#':
			return ErrWildcardInName // [MQTT-4.7.1-1]
		case 0:
			return ErrNullCharacter // [MQTT-4.7.3-2]
		}
	}
	if levels > MaxLevels {
		return ErrTooDeep
	}
	return nil
}

// ValidFilter reports whether filter may be used as the topic filter of a
// SUBSCRIBE or UNSUBSCRIBE: at least one byte [MQTT-4.7.3-1], at most
// MaxLength bytes [MQTT-4.7.3-3], no U+0000 [MQTT-4.7.3-2], '#' only as the
// whole last level [MQTT-4.7.1-2], '+' only as a whole level [MQTT-4.7.1-3],
// and at most MaxSeparators '/'.
//
// A filter that starts with "$share/" is a shared subscription,
// $share/GROUP/FILTER: GROUP must be at least one byte [MQTT-4.8.2-1] with no
// '/', '+' or '#', and must be followed by '/' and a non-empty FILTER
// [MQTT-4.8.2-2] that obeys the rules above; the '/' of "$share/GROUP/"
// count toward MaxSeparators, as in Mosquitto.
// The bare filter "$share" is rejected too, as Mosquitto does. It returns nil
// or one of the package's errors; validation is iterative and costs one pass
// over the filter.
func ValidFilter(filter string) error {
	switch {
	case filter == "":
		return ErrEmpty // [MQTT-4.7.3-1]
	case len(filter) > MaxLength:
		return ErrTooLong // [MQTT-4.7.3-3]
	case filter == "$share":
		return ErrInvalidShare // [MQTT-4.8.2-1]
	case !strings.HasPrefix(filter, sharePrefix):
		return validFilterLevels(filter, MaxLevels)
	}
	rest := filter[len(sharePrefix):]
	slash := strings.IndexByte(rest, '/')
	if slash < 0 {
		return ErrInvalidShare // no '/' after GROUP [MQTT-4.8.2-2]
	}
	group, inner := rest[:slash], rest[slash+1:]
	if group == "" {
		return ErrInvalidShare // [MQTT-4.8.2-1]
	}
	if strings.ContainsAny(group, "+#") {
		return ErrInvalidShare // [MQTT-4.8.2-2]
	}
	if strings.IndexByte(group, 0) >= 0 {
		return ErrNullCharacter // [MQTT-4.7.3-2]
	}
	if inner == "" {
		return ErrInvalidShare // no FILTER [MQTT-4.8.2-2]
	}
	return validFilterLevels(inner, MaxLevels-2) // less the two '/' of $share/GROUP/
}

// validFilterLevels checks the wildcard and U+0000 rules of a non-empty
// filter that is not a shared subscription, and that it has at most
// maxLevels levels.
func validFilterLevels(filter string, maxLevels int) error {
	levels := 1
	levelStart := 0 // index of the first byte of the current level
	for i := 0; i < len(filter); i++ {
		switch filter[i] {
		case '/':
			levels++
			levelStart = i + 1
		case '+':
			// The level must be exactly "+" [MQTT-4.7.1-3].
			if i != levelStart || (i+1 < len(filter) && filter[i+1] != '/') {
				return ErrInvalidFilter
			}
		case '#':
			// The level must be exactly "#" and the last [MQTT-4.7.1-2].
			if i != levelStart || i != len(filter)-1 {
				return ErrInvalidFilter
			}
		case 0:
			return ErrNullCharacter // [MQTT-4.7.3-2]
		}
	}
	if levels > maxLevels {
		return ErrTooDeep
	}
	return nil
}

// ParseShared splits a shared subscription filter $share/GROUP/FILTER into
// GROUP and FILTER: "$share/g/a/b" gives "g", "a/b", true. For a filter that
// is not a shared subscription it returns "", filter, false. It does not
// validate: "$share/g/" gives "g", "", true, and "$share/g" and "$share//a"
// give ok false. Call ValidFilter first.
func ParseShared(filter string) (group, inner string, ok bool) {
	if !strings.HasPrefix(filter, sharePrefix) {
		return "", filter, false
	}
	rest := filter[len(sharePrefix):]
	slash := strings.IndexByte(rest, '/')
	if slash <= 0 {
		return "", filter, false
	}
	return rest[:slash], rest[slash+1:], true
}

// IsSystem reports whether name starts with '$': such topics are not matched
// by a filter whose first level is a wildcard [MQTT-4.7.2-1].
func IsSystem(name string) bool {
	return name != "" && name[0] == '$'
}
