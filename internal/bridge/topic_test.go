package bridge

import (
	"strings"
	"testing"
)

// ParseTopic reads Mosquitto's topic lines, defaults and `""` included, and
// refuses what Mosquitto 2.0 refuses.
func TestParseTopic(t *testing.T) {
	for _, tc := range []struct {
		line string
		want Topic
		err  string
	}{
		{line: "sensors/#", want: Topic{Pattern: "sensors/#", Direction: Out}},
		{line: "cmd/# in 1", want: Topic{Pattern: "cmd/#", Direction: In, QoS: 1}},
		{line: "# BOTH 2", want: Topic{Pattern: "#", Direction: Both, QoS: 2}},
		{line: "t/# out 1 pi/ cloud/site1/", want: Topic{Pattern: "t/#", QoS: 1, LocalPrefix: "pi/", RemotePrefix: "cloud/site1/"}},
		{line: `t/# out 1 "" cloud/`, want: Topic{Pattern: "t/#", QoS: 1, RemotePrefix: "cloud/"}},
		{line: `t/# both 0 "" ""`, want: Topic{Pattern: "t/#", Direction: Both}},
		{line: `"" both 1 local/temp remote/temp`, want: Topic{Direction: Both, QoS: 1, LocalPrefix: "local/temp", RemotePrefix: "remote/temp"}},
		{line: "t/# out 1 pi/ # a comment", want: Topic{Pattern: "t/#", QoS: 1, LocalPrefix: "pi/"}},
		{line: "", err: "empty topic value"},
		{line: "t/# sideways", err: "invalid bridge topic direction 'sideways'"},
		{line: "t/# in 3", err: "invalid bridge QoS level '3'"},
		{line: "t/# in x", err: "invalid bridge QoS level 'x'"},
		{line: `"" both 1`, err: "invalid bridge remapping"},
		{line: `"" both 1 local/ ""`, err: "invalid bridge remapping"},
		{line: "t/# out 0 pi/+/ cloud/", err: "invalid bridge topic local prefix 'pi/+/'"},
		{line: "t/# out 0 pi/ cloud/#/", err: "invalid bridge topic remote prefix 'cloud/#/'"},
		{line: "a/#/b", err: "invalid bridge topic pattern 'a/#/b'"},
		{line: "x# out 0 pi cloud", err: "prefix and pattern combination 'pix#'"},
	} {
		t.Run(tc.line, func(t *testing.T) {
			got, err := ParseTopic(strings.Fields(tc.line))
			switch {
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("error %v, want %q", err, tc.err)
			case tc.err == "" && err != nil:
				t.Fatalf("error %v", err)
			case tc.err == "" && got != tc.want:
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// Names map both ways with the prefixes, and only the way the line says.
func TestTopicMapping(t *testing.T) {
	tp, err := ParseTopic(strings.Fields("t/# both 1 pi/ cloud/site1/"))
	if err != nil {
		t.Fatal(err)
	}
	if tp.LocalFilter() != "pi/t/#" || tp.RemoteFilter() != "cloud/site1/t/#" {
		t.Fatalf("filters %q and %q", tp.LocalFilter(), tp.RemoteFilter())
	}
	for _, tc := range []struct {
		toRemote   bool
		name, want string
		ok         bool
	}{
		{true, "pi/t/kitchen", "cloud/site1/t/kitchen", true},
		{true, "pi/t", "cloud/site1/t", true},
		{true, "pi/other", "", false},
		{false, "cloud/site1/t/cmd", "pi/t/cmd", true},
		{false, "cloud/site2/t/cmd", "", false},
	} {
		var got string
		var ok bool
		if tc.toRemote {
			got, ok = tp.ToRemote(tc.name)
		} else {
			got, ok = tp.ToLocal(tc.name)
		}
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s (to remote %v): %q %v, want %q %v", tc.name, tc.toRemote, got, ok, tc.want, tc.ok)
		}
	}
	out, _ := ParseTopic([]string{"t/#", "out"})
	if _, ok := out.ToLocal("t/x"); ok {
		t.Error("an out topic carried a message in")
	}
	in, _ := ParseTopic([]string{"t/#", "in"})
	if _, ok := in.ToRemote("t/x"); ok {
		t.Error("an in topic carried a message out")
	}
	whole, _ := ParseTopic([]string{`""`, "both", "0", "local/temp", "remote/temp"})
	if got, ok := whole.ToRemote("local/temp"); !ok || got != "remote/temp" {
		t.Errorf("empty pattern: %q %v", got, ok)
	}
}
