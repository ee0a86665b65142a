package cli

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/mosquittotest"
	"github.com/midge-mqtt/midge/packets"
)

// formatted runs one message through -F format (and flags) at a fixed
// time, and returns what was printed and complained.
func formatted(t *testing.T, m *packets.Publish, format string, flags ...string) (string, string) {
	t.Helper()
	sf, err := parseSub(append([]string{"-t", "x", "-F", format}, flags...))
	if err != nil {
		t.Fatalf("-F %q: %v", format, err)
	}
	var out, errOut bytes.Buffer
	p := sf.output.printer(&out, &errOut, false)
	p.now = func() time.Time { return time.Date(2024, 3, 5, 7, 8, 9, 123456789, time.FixedZone("X", 90*60)) }
	p.print(m)
	return out.String(), errOut.String()
}

// v5Message carries every property -F can print.
func v5Message() *packets.Publish {
	props := packets.Properties{
		PayloadFormat:   1,
		MessageExpiry:   3600,
		ContentType:     "text/plain",
		ResponseTopic:   "reply/to",
		CorrelationData: []byte("corr-1"),
		SubscriptionIDs: []uint32{7},
		TopicAlias:      3,
		User:            []packets.UserProperty{{Key: "k1", Value: "v1"}, {Key: "k2", Value: "v 2"}},
	}
	props.Set(packets.PropPayloadFormat)
	props.Set(packets.PropMessageExpiry)
	props.Set(packets.PropTopicAlias)
	return &packets.Publish{Topic: "fmt/topic", QoS: 1, PacketID: 12, Retain: true, Payload: []byte("hello"), Properties: props}
}

// TestFormat checks -F against what mosquitto_sub 2.0 prints, conversion
// by conversion (TestInteropFormat compares the two tools directly).
func TestFormat(t *testing.T) {
	m := v5Message()
	plain := &packets.Publish{Topic: "plain", Payload: []byte("p")}
	cases := []struct {
		msg    *packets.Publish
		format string
		want   string
	}{
		{m, "%t|%p|%q|%r|%m|%l|%x|%X|%%", "fmt/topic|hello|1|1|12|5|68656c6c6f|68656C6C6F|%\n"},
		{m, "%P|%C|%D|%E|%F|%R|%S|%A", "k1:v1 k2:v 2|text/plain|corr-1|3600|1|reply/to|7|3\n"},
		{plain, "[%P|%C|%D|%E|%F|%R|%S|%A]", "[|||||||]\n"},
		{plain, "[%5C|%5E|%05E|%3F|%4S|%02A|%5R]", "[     |     |00000|   |    |00|]\n"},
		{m, "[%12t][%-12t][%.3t][%6.2t][%-6.2t]", "[   fmt/topic][fmt/topic   ][fmt][    fm][fm    ]\n"},
		{m, "[%05l][%-5l][%5l][%5m][%-5E][%06S]", "[00005][5    ][    5][   12][3600 ][000007]\n"},
		{m, "[%8p][%-8p][%08p][%3p][%-p]", "[   hello][hello   ][000hello][hel][hello     ]\n"},
		{m, "[%12x][%-12X][%4x]", "[        6865][6865        ][6865]\n"}, // sic: mosquitto_sub halves the bytes
		{m, "[%12C][%-12C][%.4C][%12.4R]", "[  text/plain][text/plain  ][text][        repl]\n"},
		{m, `a\tb\\c\ed\ne\rf\vg\ah\0i@@j`, "a\tb\\c\x1bd\ne\rf\vg\ah\x00i@j\n"},
		{m, "%I|%U|@Y-@m-@d @H:@M:@S.@N @z|@%", "2024-03-05T07:08:09+0130|1709617089.123456789|2024-03-05 07:08:09.123456789 +0130|%\n"},
		{m, "[%-10I]", "[2024-03-05T07:08:09+0130]\n"},
		{m, "%j", `{"tst":"2024-03-05T07:08:09.123456Z+0130","topic":"fmt/topic","qos":1,"retain":1,"payloadlen":5,"mid":12,` +
			`"properties":{"subscription-identifier":7,"user-properties":{"k1":"v1","k2":"v 2"},"content-type":"text/plain",` +
			`"correlation-data":"corr-1","payload-format-indicator":1,"response-topic":"reply/to","topic-alias":3,"message-expiry-interval":3600},` +
			`"payload":"hello"}` + "\n"},
		{plain, "%j", `{"tst":"2024-03-05T07:08:09.123456Z+0130","topic":"plain","qos":0,"retain":0,"payloadlen":1,"payload":"p"}` + "\n"},
		{&packets.Publish{Topic: "e"}, "%j %J", `{"tst":"2024-03-05T07:08:09.123456Z+0130","topic":"e","qos":0,"retain":0,"payloadlen":0,"payload":null} ` +
			`{"tst":"2024-03-05T07:08:09.123456Z+0130","topic":"e","qos":0,"retain":0,"payloadlen":0,"payload":null}` + "\n"},
		{&packets.Publish{Topic: "q", Payload: []byte("a\"b\\c\n\x01é\x00tail")}, "%j",
			`{"tst":"2024-03-05T07:08:09.123456Z+0130","topic":"q","qos":0,"retain":0,"payloadlen":14,"payload":"a\"b\\c\n\u0001é"}` + "\n"},
		{&packets.Publish{Topic: "j", Payload: []byte(` {"a": [1, 2.50, {"b": null}], "c": 1e400, "d": 12345678901234567890, "e": true, "f": {}, "g": []} `)}, "%J",
			`{"tst":"2024-03-05T07:08:09.123456Z+0130","topic":"j","qos":0,"retain":0,"payloadlen":99,` +
				`"payload":{"a":[1,2.5,{"b":null}],"c":null,"d":1.2345678901234567e+19,"e":true,"f":{},"g":[]}}` + "\n"},
	}
	for _, tc := range cases {
		if got, complaint := formatted(t, tc.msg, tc.format); got != tc.want || complaint != "" {
			t.Errorf("-F %q:\n got %q\nwant %q\n(stderr %q)", tc.format, got, tc.want, complaint)
		}
	}
	// -N drops the newline; %J on a payload that is not JSON complains and
	// prints the rest.
	if got, _ := formatted(t, plain, "%t", "-N"); got != "plain" {
		t.Errorf("-N: %q", got)
	}
	got, complaint := formatted(t, plain, "[%J]")
	if got != "[]\n" || complaint != "Error: Message payload is not valid JSON on topic plain.\n" {
		t.Errorf("%%J of a non-JSON payload: %q, %q", got, complaint)
	}
}

// TestFormatPretty checks --pretty against cJSON's formatted output, as
// mosquitto_sub 2.0 prints it.
func TestFormatPretty(t *testing.T) {
	m := &packets.Publish{Topic: "y/a", Payload: []byte(`{"a":[1,2,{"b":null}],"f":{}}`),
		Properties: packets.Properties{User: []packets.UserProperty{{Key: "k", Value: "v"}}}}
	got, _ := formatted(t, m, "%J", "--pretty")
	want := "{\n\t\"tst\":\t\"2024-03-05T07:08:09.123456Z+0130\",\n\t\"topic\":\t\"y/a\",\n\t\"qos\":\t0,\n\t\"retain\":\t0,\n" +
		"\t\"payloadlen\":\t29,\n\t\"properties\":\t{\n\t\t\"user-properties\":\t{\n\t\t\t\"k\":\t\"v\"\n\t\t}\n\t},\n" +
		"\t\"payload\":\t{\n\t\t\"a\":\t[1, 2, {\n\t\t\t\t\"b\":\tnull\n\t\t\t}],\n\t\t\"f\":\t{\n\t\t}\n\t}\n}\n"
	if got != want {
		t.Errorf("--pretty:\n got %q\nwant %q", got, want)
	}
}

// v5PublishArgs are mosquitto_pub's (and midge pub's) flags for a message
// with every property they can set, in the order mosquitto's broker
// forwards them.
var v5PublishArgs = []string{"-V", "5", "-q", "1",
	"-D", "publish", "user-property", "k1", "v1", "-D", "publish", "user-property", "k2", "v 2",
	"-D", "publish", "content-type", "text/plain", "-D", "publish", "correlation-data", "corr-1",
	"-D", "publish", "payload-format-indicator", "1", "-D", "publish", "response-topic", "reply/to",
	"-D", "publish", "message-expiry-interval", "3600"}

// tstField is the time in %j and %J output, which differs between runs.
var tstField = regexp.MustCompile(`"tst":\s*"[^"]*"`)

// TestInteropFormat prints the same MQTT 5 message with mosquitto_sub -F
// and midge sub -F, through Debian's mosquitto, for each format.
func TestInteropFormat(t *testing.T) {
	host, port := splitAddr(t, mosquittotest.Start(t, ""))
	formats := []string{
		"%t|%p|%q|%r|%m|%l|%x|%X|%%|%P|%C|%D|%F|%R|%S|%A",
		"[%12t][%-12t][%.3t][%6.2t][%05l][%-5l][%5m][%8p][%-8p][%08p][%3p][%-p][%12x][%-12X][%4x]",
		"[%12C][%-12C][%.4C][%12.4R][%5S][%05S][%-5S][%5A][%05A][%3F][%-3F]",
		`a\tb\\c\ed\ne\rf\vg\ah\0i@@j%%`,
		"%j", "%J",
	}
	for i, format := range formats {
		for _, pretty := range []bool{false, true} {
			if pretty && !strings.Contains(format, "%j") && !strings.Contains(format, "%J") {
				continue
			}
			args := []string{"-V", "5", "-q", "1", "-t", "fmt/" + string(rune('a'+i)), "-C", "1", "-F", format,
				"-D", "subscribe", "subscription-identifier", "5"}
			if pretty {
				args = append(args, "--pretty")
			}
			theirs := startMosquittoSub(t, host, port, args...)
			ours := startSub(t, host, port, args...)
			payload := "hello"
			if format == "%J" {
				payload = `{"a": [1, 2.50], "b": "x"}`
			}
			pubArgs := append([]string{"-h", host, "-p", port, "-t", "fmt/" + string(rune('a'+i)), "-m", payload}, v5PublishArgs...)
			if r := runMosquittoTool(t, "mosquitto_pub", "", pubArgs...); r.status != 0 {
				t.Fatalf("mosquitto_pub: %+v", r)
			}
			want, got := theirs.wait(t), ours.wait(t)
			wantOut := tstField.ReplaceAllString(messages(want.stdout), `"tst":"T"`)
			gotOut := tstField.ReplaceAllString(messages(got.stdout), `"tst":"T"`)
			if wantOut == "" {
				t.Errorf("-F %q: mosquitto_sub printed nothing", format)
			}
			if gotOut != wantOut || got.status != want.status {
				t.Errorf("-F %q (pretty %v):\nmidge sub      %q (status %d)\nmosquitto_sub  %q (status %d)", format, pretty, gotOut, got.status, wantOut, want.status)
			}
		}
	}
}

// TestInteropSubscriptionOptions checks --rap, --rh and --nl through both
// brokers: the options reach the broker (the -d trace shows them, as
// mosquitto_sub's does) and the broker applies them.
func TestInteropSubscriptionOptions(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b toolBroker) {
		host, port := b.start(t)
		pub(t, host, port, "", "-t", "opt/kept", "-m", "old", "-r", "-q", "1")

		// Retain handling 2: no retained message on subscribing; the probe
		// published after shows the subscription works.
		never := startSub(t, host, port, "-V", "5", "-t", "opt/#", "--rh", "2", "-C", "1", "-F", "%t %p %r")
		pub(t, host, port, "", "-t", "opt/probe", "-m", "live", "-q", "1")
		if r := never.wait(t); messages(r.stdout) != "opt/probe live 0\n" {
			t.Errorf("--rh 2: %q", messages(r.stdout))
		}
		if !strings.Contains(never.stdout.String(), "Options: 0x20)") {
			t.Errorf("--rh 2: SUBSCRIBE trace %q", never.stdout.String())
		}

		// Retain as published: a live retained message keeps its flag.
		for _, tc := range []struct {
			flags []string
			want  string
		}{
			{nil, "opt/kept old 1\nopt/kept new 0\n"},
			{[]string{"--rap"}, "opt/kept old 1\nopt/kept new 1\n"},
			{[]string{"--retain-as-published", "--rh", "1"}, "opt/kept old 1\nopt/kept new 1\n"},
		} {
			sub := startSub(t, host, port, append([]string{"-V", "5", "-t", "opt/kept", "-C", "2", "-F", "%t %p %r"}, tc.flags...)...)
			mosquittotest.WaitFor(t, waitTimeout, "the retained message", func() bool {
				return strings.Contains(messages(sub.stdout.String()), "old")
			})
			pub(t, host, port, "", "-t", "opt/kept", "-m", "new", "-r", "-q", "1")
			pub(t, host, port, "", "-t", "opt/kept", "-m", "old", "-r", "-q", "1") // for the next round
			if r := sub.wait(t); messages(r.stdout) != tc.want {
				t.Errorf("%v: %q, want %q", tc.flags, messages(r.stdout), tc.want)
			}
		}

		// No Local: sent, and the broker accepts it.
		nl := startSub(t, host, port, "-V", "5", "-t", "opt/nl", "--nl", "-q", "1", "-C", "1")
		if !strings.Contains(nl.stdout.String(), "Options: 0x04)") || !strings.Contains(nl.stdout.String(), "Subscribed (mid: 1): 1") {
			t.Errorf("--nl: trace %q", nl.stdout.String())
		}
		pub(t, host, port, "", "-t", "opt/nl", "-m", "from another client", "-q", "1")
		if r := nl.wait(t); messages(r.stdout) != "from another client\n" {
			t.Errorf("--nl: %q", messages(r.stdout))
		}
	})
}

// TestInteropMosquittoPubV5ToMidgeSub: properties set by mosquitto_pub -D
// reach midge sub intact, through both brokers.
func TestInteropMosquittoPubV5ToMidgeSub(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b toolBroker) {
		host, port := b.start(t)
		sub := startSub(t, host, port, "-t", "v5/in", "-C", "1", "-D", "subscribe", "subscription-identifier", "9",
			"-F", "%t|%p|%P|%C|%D|%F|%R|%S|%E")
		args := append([]string{"-h", host, "-p", port, "-t", "v5/in", "-m", "payload"}, v5PublishArgs...)
		if r := runMosquittoTool(t, "mosquitto_pub", "", args...); r.status != 0 {
			t.Fatalf("mosquitto_pub: %+v", r)
		}
		r := sub.wait(t)
		want := regexp.MustCompile(`^v5/in\|payload\|k1:v1 k2:v 2\|text/plain\|corr-1\|1\|reply/to\|9\|(3600|359\d)\n$`)
		if r.status != 0 || !want.MatchString(messages(r.stdout)) {
			t.Errorf("midge sub: status %d, %q", r.status, messages(r.stdout))
		}
	})
}
