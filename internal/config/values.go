package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// value is what follows an option's name on its line.
type value struct {
	option string
	// rest is everything after the name, trimmed: paths, formats and
	// cipher lists take it whole (a path may hold spaces, as in Mosquitto).
	rest string
	// words are the words of rest up to a trailing `# comment`, which
	// Mosquitto ignores after a single-word value.
	words []string
}

func newValue(option, rest string) *value {
	words := strings.Fields(rest)
	for i, w := range words {
		if strings.HasPrefix(w, "#") {
			words = words[:i]
			break
		}
	}
	return &value{option: option, rest: rest, words: words}
}

// invalid is the error for a value outside the accepted ones.
func (v *value) invalid(accepted string) error {
	return fmt.Errorf("%s: invalid value %q (accepted: %s)", v.option, strings.Join(v.words, " "), accepted)
}

func (v *value) missing(accepted string) error {
	return fmt.Errorf("%s: missing value (accepted: %s)", v.option, accepted)
}

// word returns the value of a single-word option.
func (v *value) word(accepted string) (string, error) {
	switch len(v.words) {
	case 0:
		return "", v.missing(accepted)
	case 1:
		return v.words[0], nil
	}
	return "", v.invalid(accepted)
}

// text returns the rest of the line, which must not be empty.
func (v *value) text(accepted string) (string, error) {
	if v.rest == "" {
		return "", v.missing(accepted)
	}
	return v.rest, nil
}

// boolean reads true or false (Mosquitto also takes 1 and 0).
func (v *value) boolean() (bool, error) {
	const accepted = "true, false"
	w, err := v.word(accepted)
	if err != nil {
		return false, err
	}
	switch w {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, v.invalid(accepted)
}

// integer reads a whole number from lo to hi.
func (v *value) integer(lo, hi int64, accepted string) (int64, error) {
	w, err := v.word(accepted)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(w, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, v.invalid(accepted)
	}
	return n, nil
}

// oneOf reads one of a fixed set of words.
func (v *value) oneOf(values ...string) (string, error) {
	accepted := strings.Join(values, ", ")
	w, err := v.word(accepted)
	if err != nil {
		return "", err
	}
	for _, x := range values {
		if w == x {
			return w, nil
		}
	}
	return "", v.invalid(accepted)
}

// expirationUnits are the units of persistent_client_expiration: Mosquitto
// counts a month as 30 days and a year as 365 (s is Mosquitto 2.1's).
var expirationUnits = map[byte]time.Duration{
	's': time.Second,
	'h': time.Hour,
	'd': 24 * time.Hour,
	'w': 7 * 24 * time.Hour,
	'm': 30 * 24 * time.Hour,
	'y': 365 * 24 * time.Hour,
}

// expiration reads a duration written as Mosquitto writes
// persistent_client_expiration: a whole number above 0 and a unit, e.g. 14d.
func (v *value) expiration() (time.Duration, error) {
	const accepted = "a whole number above 0 followed by s, h, d, w, m (30 days) or y (365 days), e.g. 14d"
	w, err := v.word(accepted)
	if err != nil {
		return 0, err
	}
	unit, ok := expirationUnits[w[len(w)-1]]
	if !ok {
		return 0, v.invalid(accepted)
	}
	n, err := strconv.ParseInt(w[:len(w)-1], 10, 64)
	if err != nil || n <= 0 || n > int64(math.MaxInt64/unit) {
		return 0, v.invalid(accepted)
	}
	return time.Duration(n) * unit, nil
}

// seconds reads a whole number of seconds from 0 to hi.
func (v *value) seconds(hi int64, accepted string) (time.Duration, error) {
	n, err := v.integer(0, hi, accepted)
	return time.Duration(n) * time.Second, err
}
