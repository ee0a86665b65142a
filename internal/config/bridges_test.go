package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// parseBridges parses text as the file bridge.conf.
func parseBridges(t *testing.T, text string) (*Config, error) {
	t.Helper()
	return Parse(strings.NewReader(text), "bridge.conf")
}

// Bridge sections are read as Mosquitto reads them: options belong to the
// connection above them, topic lines keep their words ('#' patterns too),
// and each option's line is kept for errors found later.
func TestBridgeSections(t *testing.T) {
	cfg, err := parseBridges(t, `listener 1883
connection cloud
address broker.example.com:8883 backup.example.com
round_robin true
topic sensors/# out 1 pi/ site1/
topic # both 0 "" ""
topic "" in 2 cmd/local cmd/remote
remote_clientid pi-workshop
remote_username pi
remote_password s3cret
cleansession false
bridge_protocol_version mqttv50
try_private false
restart_timeout 5 60
keepalive_interval 30
notifications false
bridge_cafile /etc/midge/ca.crt
bridge_tls_version tlsv1.3
bridge_session_expiry_interval 3600
bridge_tcp_keepalive 60 10 5

connection second
address [::1]:1884
start_type lazy
threshold 20
restart_timeout 10
`)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Bridges) != 2 {
		t.Fatalf("%d bridges", len(cfg.Bridges))
	}
	b := cfg.Bridges[0]
	f := false
	want := Bridge{Name: "cloud", File: "bridge.conf", Line: 2,
		Addresses: []string{"broker.example.com:8883", "backup.example.com:1883"}, RoundRobin: true,
		Topics: []TopicLine{
			{Args: []string{"sensors/#", "out", "1", "pi/", "site1/"}, File: "bridge.conf", Line: 5},
			{Args: []string{"#", "both", "0", `""`, `""`}, File: "bridge.conf", Line: 6},
			{Args: []string{`""`, "in", "2", "cmd/local", "cmd/remote"}, File: "bridge.conf", Line: 7},
		},
		RemoteClientID: "pi-workshop", RemoteUsername: ptr("pi"), RemotePassword: ptr("s3cret"),
		CleanSession: &f, ProtocolVersion: "mqttv50", TryPrivate: &f,
		RestartBase: 5 * time.Second, RestartCap: 60 * time.Second, KeepaliveInterval: ptr(30),
		Notifications: &f, CAFile: "/etc/midge/ca.crt", TLSVersion: "tlsv1.3",
		SessionExpiryInterval: ptr(int64(3600)), TCPKeepalive: []int{60, 10, 5}}
	lines := b.lines
	b.lines = nil
	if !reflect.DeepEqual(b, want) {
		t.Errorf("got  %+v\nwant %+v", b, want)
	}
	b.lines = lines
	if file, line := b.At("remote_password"); file != "bridge.conf" || line != 10 {
		t.Errorf("remote_password at %s:%d", file, line)
	}
	if file, line := b.At("bridge_keyfile"); line != 2 {
		t.Errorf("an option not given is at the connection line, got %s:%d", file, line)
	}
	s := cfg.Bridges[1]
	if s.Name != "second" || !reflect.DeepEqual(s.Addresses, []string{"[::1]:1884"}) || s.StartType != "lazy" ||
		*s.Threshold != 20 || s.RestartBase != 10*time.Second || s.RestartCap != 0 {
		t.Errorf("second bridge: %+v", s)
	}
}

// A bad bridge line names its file and line, and says what is accepted.
func TestBridgeErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"address a.example", "bridge.conf:1: address: needs a `connection NAME` line above it in the same file"},
		{"connection a\nconnection a", "bridge.conf:2: connection: a bridge named \"a\" is already defined at bridge.conf:1"},
		{"connection a\naddress ::1", "bridge.conf:2: address: invalid address \"::1\""},
		{"connection a\naddress host:99999", "bridge.conf:2: address: invalid address \"host:99999\""},
		{"connection a\naddress h1\naddress h2", "bridge.conf:3: address: set twice for this bridge"},
		{"connection a\nbridge_protocol_version mqttv6", "bridge.conf:2: bridge_protocol_version"},
		{"connection a\nkeepalive_interval 2", "bridge.conf:2: keepalive_interval"},
		{"connection a\nrestart_timeout 30 5", "bridge.conf:2: restart_timeout: the cap 5s is below the base 30s"},
		{"connection a\nstart_type manual", "bridge.conf:2: start_type"},
		{"connection a\nbridge_psk 00ff", "bridge.conf:2: bridge_psk: refused"},
		{"connection a\ntopic", "bridge.conf:2: topic"},
	} {
		_, err := parseBridges(t, tc.text)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.text, err, tc.want)
		}
	}
}
