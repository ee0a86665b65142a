package packets

import (
	"bytes"
	"unicode/utf8"
)

// checkUTF8 applies the rules every MQTT string must pass: well-formed UTF-8
// with no surrogate code points [MQTT-1.5.3-1] (5.0: [MQTT-1.5.4-1]) and no
// U+0000 [MQTT-1.5.3-2] (5.0: [MQTT-1.5.4-2]). utf8.Valid rejects overlong
// forms, encoded surrogates and code points above U+10FFFF. Characters the
// specifications only discourage (controls, non-characters) are accepted:
// rejecting them where it matters (client identifiers) is the broker's call.
func checkUTF8(field string, b []byte) error {
	if bytes.IndexByte(b, 0) >= 0 {
		return malformed("[MQTT-1.5.3-2] " + field + " contains U+0000")
	}
	if !utf8.Valid(b) {
		return malformed("[MQTT-1.5.3-1] " + field + " is not well-formed UTF-8")
	}
	return nil
}

// hasWildcard reports whether a topic name contains '+' or '#', which only
// topic filters may hold [MQTT-3.3.2-2].
func hasWildcard(b []byte) bool {
	return bytes.IndexByte(b, '+') >= 0 || bytes.IndexByte(b, '#') >= 0
}

// hasWildcardString is hasWildcard for a string.
func hasWildcardString(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '+' || s[i] == '#' {
			return true
		}
	}
	return false
}
