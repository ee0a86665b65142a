package topic

import (
	"errors"
	"strings"
	"testing"
)

func TestValidName(t *testing.T) {
	tests := []struct {
		name  string // test name: the spec statement first
		topic string
		want  error
	}{
		{"MQTT-4.7.3-1 empty", "", ErrEmpty},
		{"MQTT-4.7.3-1 one byte", "a", nil},
		{"MQTT-4.7.3-1 one slash", "/", nil},
		{"MQTT-4.7.1-1 plus", "sport/+", ErrWildcardInName},
		{"MQTT-4.7.1-1 hash", "sport/#", ErrWildcardInName},
		{"MQTT-4.7.1-1 plus inside a level", "sport+", ErrWildcardInName},
		{"MQTT-4.7.1-1 hash inside a level", "a#b", ErrWildcardInName},
		{"MQTT-4.7.3-2 null", "a\x00b", ErrNullCharacter},
		{"MQTT-4.7.3-3 65535 bytes", strings.Repeat("a", MaxLength), nil},
		{"MQTT-4.7.3-3 65536 bytes", strings.Repeat("a", MaxLength+1), ErrTooLong},
		{"MQTT-4.7.3 example space", "Accounts payable", nil},
		{"MQTT-4.7.3 example leading slash", "/finance", nil},
		{"MQTT-4.7.2 system topic", "$SYS/broker/load", nil},
		{"MQTT-1.5.3 example A U+2A6D4", "A\U0002A6D4", nil},
		{"MQTT-1.5.3-3 BOM kept", "\uFEFFa", nil},
		{"CVE-2019-11779 200 separators, as Mosquitto", strings.Repeat("a/", 200) + "a", nil},
		{"CVE-2019-11779 200 separators, empty levels", strings.Repeat("/", 200), nil},
		{"CVE-2019-11779 201 separators", strings.Repeat("a/", 201) + "a", ErrTooDeep},
		{"CVE-2019-11779 65000 slashes", strings.Repeat("/", 65000), ErrTooDeep},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValidName(tt.topic); got != tt.want {
				t.Errorf("ValidName(%.40q) = %v, want %v", tt.topic, got, tt.want)
			}
		})
	}
}

func TestValidFilter(t *testing.T) {
	tests := []struct {
		name   string // test name: the spec statement first
		filter string
		want   error
	}{
		{"MQTT-4.7.3-1 empty", "", ErrEmpty},
		{"MQTT-4.7.3-1 one slash", "/", nil},
		{"MQTT-4.7.3-2 null", "a/\x00", ErrNullCharacter},
		{"MQTT-4.7.3-3 65535 bytes", strings.Repeat("a", MaxLength), nil},
		{"MQTT-4.7.3-3 65536 bytes", strings.Repeat("a", MaxLength+1), ErrTooLong},

		{"MQTT-4.7.1-2 hash alone", "#", nil},
		{"MQTT-4.7.1-2 hash last", "sport/tennis/player1/#", nil},
		{"MQTT-4.7.1-2 hash after empty level", "/#", nil},
		{"MQTT-4.7.1-2 hash in the middle", "a/#/b", ErrInvalidFilter},
		{"MQTT-4.7.1-2 example sport/tennis/#/ranking", "sport/tennis/#/ranking", ErrInvalidFilter},
		{"MQTT-4.7.1-2 hash after a letter", "a#", ErrInvalidFilter},
		{"MQTT-4.7.1-2 example sport/tennis#", "sport/tennis#", ErrInvalidFilter},
		{"MQTT-4.7.1-2 hash then slash", "#/", ErrInvalidFilter},
		{"MQTT-4.7.1-2 hash before a letter", "#a", ErrInvalidFilter},
		{"MQTT-4.7.1-2 two hashes", "##", ErrInvalidFilter},

		{"MQTT-4.7.1-3 plus alone", "+", nil},
		{"MQTT-4.7.1-3 example +/tennis/#", "+/tennis/#", nil},
		{"MQTT-4.7.1-3 example sport/+/player1", "sport/+/player1", nil},
		{"MQTT-4.7.1-3 plus plus", "+/+", nil},
		{"MQTT-4.7.1-3 plus then hash", "+/#", nil},
		{"MQTT-4.7.1-3 plus after a letter", "a+", ErrInvalidFilter},
		{"MQTT-4.7.1-3 plus before a letter", "+a/b", ErrInvalidFilter},
		{"MQTT-4.7.1-3 example sport+", "sport+", ErrInvalidFilter},
		{"MQTT-4.7.1-3 two plusses", "a/++", ErrInvalidFilter},

		{"MQTT-4.7.2 system filter", "$SYS/#", nil},
		{"MQTT-1.5.3 example A U+2A6D4", "A\U0002A6D4", nil},
		{"CVE-2019-11779 200 separators, as Mosquitto", strings.Repeat("+/", 200) + "#", nil},
		{"CVE-2019-11779 201 separators", strings.Repeat("+/", 201) + "#", ErrTooDeep},
		{"CVE-2019-11779 65000 slashes", strings.Repeat("/", 65000), ErrTooDeep},

		{"MQTT-4.8.2-1 share", "$share/g/a/b", nil},
		{"MQTT-4.8.2-1 share with wildcards", "$share/group/+/#", nil},
		{"MQTT-4.8.2-1 share of a hash", "$share/g/#", nil},
		{"MQTT-4.8.2-1 bare $share", "$share", ErrInvalidShare},
		{"MQTT-4.8.2-1 $share/", "$share/", ErrInvalidShare},
		{"MQTT-4.8.2-1 empty group", "$share//t", ErrInvalidShare},
		{"MQTT-4.8.2-2 no slash after group", "$share/g", ErrInvalidShare},
		{"MQTT-4.8.2-2 no filter after group", "$share/g/", ErrInvalidShare},
		{"MQTT-4.8.2-2 plus in group", "$share/g+/t", ErrInvalidShare},
		{"MQTT-4.8.2-2 hash in group", "$share/g#/t", ErrInvalidShare},
		{"MQTT-4.8.2-2 plus group", "$share/+/t", ErrInvalidShare},
		{"MQTT-4.8.2-2 invalid inner filter", "$share/g/a#", ErrInvalidFilter},
		{"MQTT-4.8.2-2 inner filter of empty levels", "$share/g//", nil},
		{"MQTT-4.7.3-2 null in group", "$share/g\x00/t", ErrNullCharacter},
		{"CVE-2019-11779 share: 200 separators in all", "$share/g/" + strings.Repeat("a/", 198) + "a", nil},
		{"CVE-2019-11779 share: 201 separators in all", "$share/g/" + strings.Repeat("a/", 199) + "a", ErrTooDeep},
		{"not a share: $shared", "$shared/g/t", nil},
		{"not a share: $SHARE", "$SHARE/g/t", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValidFilter(tt.filter); got != tt.want {
				t.Errorf("ValidFilter(%.40q) = %v, want %v", tt.filter, got, tt.want)
			}
		})
	}
}

func TestErrorsArePrefixed(t *testing.T) {
	for _, err := range []error{ErrEmpty, ErrWildcardInName, ErrInvalidFilter, ErrTooDeep, ErrTooLong, ErrInvalidShare, ErrNullCharacter} {
		if !strings.HasPrefix(err.Error(), "topic: ") {
			t.Errorf("%q does not start with \"topic: \"", err)
		}
	}
	if !errors.Is(ValidFilter("a#"), ErrInvalidFilter) {
		t.Error("errors.Is(ValidFilter(\"a#\"), ErrInvalidFilter) = false")
	}
}

func TestParseShared(t *testing.T) {
	tests := []struct {
		filter, group, inner string
		ok                   bool
	}{
		{"$share/g/a/b", "g", "a/b", true},
		{"$share/group/#", "group", "#", true},
		{"$share/g/", "g", "", true},
		{"$share/g", "", "$share/g", false},
		{"$share//t", "", "$share//t", false},
		{"$share/", "", "$share/", false},
		{"$share", "", "$share", false},
		{"a/b", "", "a/b", false},
		{"$SYS/#", "", "$SYS/#", false},
	}
	for _, tt := range tests {
		group, inner, ok := ParseShared(tt.filter)
		if group != tt.group || inner != tt.inner || ok != tt.ok {
			t.Errorf("ParseShared(%q) = %q, %q, %v; want %q, %q, %v", tt.filter, group, inner, ok, tt.group, tt.inner, tt.ok)
		}
	}
}

func TestIsSystem(t *testing.T) {
	for name, want := range map[string]bool{"$SYS/x": true, "$": true, "": false, "a/$SYS": false, "/$SYS": false} {
		if got := IsSystem(name); got != want {
			t.Errorf("IsSystem(%q) = %v, want %v", name, got, want)
		}
	}
}
