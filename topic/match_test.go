package topic

import "testing"

// matchCases are the examples of MQTT 3.1.1 section 4.7 (and a few more),
// shared by the tests of Match, Tree and Names.
var matchCases = []struct {
	name          string // test name: the spec statement first
	filter, topic string
	want          bool
}{
	{"MQTT-4.7.1-2 example player1/# parent", "sport/tennis/player1/#", "sport/tennis/player1", true},
	{"MQTT-4.7.1-2 example player1/# child", "sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
	{"MQTT-4.7.1-2 example player1/# grandchild", "sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
	{"MQTT-4.7.1-2 example player1/# sibling", "sport/tennis/player1/#", "sport/tennis/player2", false},
	{"MQTT-4.7.1-2 example sport/# matches sport", "sport/#", "sport", true},
	{"MQTT-4.7.1-2 sport/# matches sport/", "sport/#", "sport/", true},
	{"MQTT-4.7.1-2 sport/# not sports", "sport/#", "sports", false},
	{"MQTT-4.7.1-2 # matches everything", "#", "a/b/c", true},
	{"MQTT-4.7.1-2 # matches /", "#", "/", true},
	{"MQTT-4.7.1-2 /# matches /finance", "/#", "/finance", true},
	{"MQTT-4.7.1-2 /# not finance", "/#", "finance", false},

	{"MQTT-4.7.1-3 example tennis/+ player1", "sport/tennis/+", "sport/tennis/player1", true},
	{"MQTT-4.7.1-3 example tennis/+ player2", "sport/tennis/+", "sport/tennis/player2", true},
	{"MQTT-4.7.1-3 example tennis/+ not ranking", "sport/tennis/+", "sport/tennis/player1/ranking", false},
	{"MQTT-4.7.1-3 example sport/+ not sport", "sport/+", "sport", false},
	{"MQTT-4.7.1-3 example sport/+ matches sport/", "sport/+", "sport/", true},
	{"MQTT-4.7.1-3 example +/+ matches /finance", "+/+", "/finance", true},
	{"MQTT-4.7.1-3 example /+ matches /finance", "/+", "/finance", true},
	{"MQTT-4.7.1-3 example + not /finance", "+", "/finance", false},
	{"MQTT-4.7.1-3 + matches one level", "+", "finance", true},
	{"MQTT-4.7.1-3 +/tennis/#", "+/tennis/#", "sport/tennis/player1", true},
	{"MQTT-4.7.1-3 sport/+/player1", "sport/+/player1", "sport/tennis/player1", true},
	{"MQTT-4.7.1-3 +/#", "+/#", "a", true},

	{"MQTT-4.7.2-1 # not $SYS", "#", "$SYS/monitor/Clients", false},
	{"MQTT-4.7.2-1 # not $SYS alone", "#", "$SYS", false},
	{"MQTT-4.7.2-1 + not $SYS", "+", "$SYS", false},
	{"MQTT-4.7.2-1 +/# not $SYS", "+/#", "$SYS/x", false},
	{"MQTT-4.7.2-1 example +/monitor/Clients", "+/monitor/Clients", "$SYS/monitor/Clients", false},
	{"MQTT-4.7.2-1 example $SYS/#", "$SYS/#", "$SYS/monitor/Clients", true},
	{"MQTT-4.7.2-1 $SYS/# matches $SYS", "$SYS/#", "$SYS", true},
	{"MQTT-4.7.2-1 example $SYS/monitor/+", "$SYS/monitor/+", "$SYS/monitor/Clients", true},
	{"MQTT-4.7.2-1 +/+ not $SYS", "+/+", "$SYS/x", false},
	{"MQTT-4.7.2-1 wildcard at a deeper level", "a/+", "a/$b", true},
	{"MQTT-4.7.2-1 hash at a deeper level", "a/#", "a/$b", true},
	{"MQTT-4.7.2-1 $share literal", "$share/g/t", "$share/g/t", true},

	{"MQTT-4.7.3-4 case", "ACCOUNTS", "Accounts", false},
	{"MQTT-4.7.3-4 space", "Accounts payable", "Accounts payable", true},
	{"MQTT-4.7.3-4 leading slash", "/finance", "finance", false},
	{"MQTT-4.7.3-4 trailing slash", "finance/", "finance", false},
	{"MQTT-4.7.3-4 literal", "a/b/c", "a/b/c", true},
	{"MQTT-4.7.3-4 prefix", "a/b", "a/b/c", false},
	{"MQTT-4.7.3-4 longer filter", "a/b/c", "a/b", false},
	{"MQTT-1.5.3 example A U+2A6D4", "+", "A\U0002A6D4", true},
}

func TestMatch(t *testing.T) {
	for _, tt := range matchCases {
		t.Run(tt.name, func(t *testing.T) {
			if got := Match(tt.filter, tt.topic); got != tt.want {
				t.Errorf("Match(%q, %q) = %v, want %v", tt.filter, tt.topic, got, tt.want)
			}
		})
	}
}

func TestMatchAllocations(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		Match("sport/+/player1/#", "sport/tennis/player1/score/wimbledon")
	})
	if allocs != 0 {
		t.Errorf("Match allocates %v times per call, want 0", allocs)
	}
}
