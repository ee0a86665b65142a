package brokercmd

import (
	"io"
	"log/slog"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/bridge"
	"github.com/midge-mqtt/midge/internal/config"
	"github.com/midge-mqtt/midge/packets"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// plansOf reads text as a configuration file and plans its bridges.
func plansOf(t *testing.T, text string) (string, []plannedBridge, error) {
	t.Helper()
	path := writeConf(t, text)
	cfg, err := config.Load(path)
	if err != nil {
		return path, nil, err
	}
	plans, err := planBridges(cfg, quiet)
	return path, plans, err
}

// A section with only an address and a topic gets Mosquitto's defaults.
func TestBridgeOptionsDefaults(t *testing.T) {
	_, plans, err := plansOf(t, "connection cloud\naddress 127.0.0.1:1884\ntopic sensors/# out 1\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(plans) != 1 {
		t.Fatalf("%d bridges planned, want 1", len(plans))
	}
	o := plans[0].opts
	host, _ := os.Hostname()
	want := []struct {
		what      string
		got, want any
	}{
		{"name", o.Name, "cloud"},
		{"addresses", strings.Join(o.Addresses, ","), "127.0.0.1:1884"},
		{"version", o.Version, packets.V311},
		{"cleansession", o.CleanSession, false},
		{"local_cleansession", o.LocalCleanSession, false},
		{"remote_clientid", o.RemoteClientID, host + ".cloud"},
		{"local_clientid", o.LocalClientID, "local." + host + ".cloud"},
		{"keepalive_interval", o.KeepAlive, 60 * time.Second},
		{"try_private", o.TryPrivate, true},
		{"bridge_attempt_unsubscribe", o.AttemptUnsubscribe, true},
		{"bridge_outgoing_retain", o.OutgoingRetain, true},
		{"threshold", o.Threshold, 10},
		{"idle_timeout", o.IdleTimeout, 60 * time.Second},
		{"restart_timeout base", o.RestartBase, 5 * time.Second},
		{"restart_timeout cap", o.RestartCap, 30 * time.Second},
		{"notifications", o.Notifications, true},
		{"notifications_local_only", o.NotificationsLocalOnly, false},
		{"notification_topic", o.NotificationTopic, "$SYS/broker/connection/" + host + ".cloud/state"},
		{"start_type", o.Start, bridge.Automatic},
		{"bridge_drain_rate", o.DrainRate, 0},
		{"topic", o.Topics, []bridge.Topic{{Pattern: "sensors/#", Direction: bridge.Out, QoS: 1}}},
	}
	for _, w := range want {
		if !reflect.DeepEqual(w.got, w.want) {
			t.Errorf("%s: %v, want %v", w.what, w.got, w.want)
		}
	}
	if o.Dialer == nil {
		t.Error("no dialer")
	}
}

// Every option set in the section reaches the bridge.
func TestBridgeOptionsSet(t *testing.T) {
	_, plans, err := plansOf(t, `connection pi
addresses 127.0.0.1:1884 127.0.0.2:1885
round_robin true
bridge_protocol_version mqttv50
cleansession true
local_cleansession false
remote_clientid workshop
local_clientid here
remote_username u
remote_password p
keepalive_interval 30
try_private false
bridge_attempt_unsubscribe false
bridge_outgoing_retain false
bridge_max_packet_size 4096
bridge_receive_maximum 7
bridge_session_expiry_interval 3600
threshold 3
idle_timeout 9
restart_timeout 2 20
notifications false
notifications_local_only true
notification_topic pi/state
start_type lazy
bridge_drain_rate 50
topic "" in 2 cmd/ remote/cmd/
topic t both 0
`)
	if err != nil {
		t.Fatal(err)
	}
	o := plans[0].opts
	want := []struct {
		what      string
		got, want any
	}{
		{"addresses", strings.Join(o.Addresses, ","), "127.0.0.1:1884,127.0.0.2:1885"},
		{"round_robin", o.RoundRobin, true},
		{"version", o.Version, packets.V5},
		{"cleansession", o.CleanSession, true},
		{"local_cleansession", o.LocalCleanSession, false},
		{"remote_clientid", o.RemoteClientID, "workshop"},
		{"local_clientid", o.LocalClientID, "here"},
		{"remote_username", *o.RemoteUsername, "u"},
		{"remote_password", *o.RemotePassword, "p"},
		{"keepalive_interval", o.KeepAlive, 30 * time.Second},
		{"try_private", o.TryPrivate, false},
		{"bridge_attempt_unsubscribe", o.AttemptUnsubscribe, false},
		{"bridge_outgoing_retain", o.OutgoingRetain, false},
		{"bridge_max_packet_size", o.MaxPacketSize, uint32(4096)},
		{"bridge_receive_maximum", o.ReceiveMaximum, uint16(7)},
		{"bridge_session_expiry_interval", o.SessionExpiry, uint32(3600)},
		{"threshold", o.Threshold, 3},
		{"idle_timeout", o.IdleTimeout, 9 * time.Second},
		{"restart_timeout base", o.RestartBase, 2 * time.Second},
		{"restart_timeout cap", o.RestartCap, 20 * time.Second},
		{"notifications", o.Notifications, false},
		{"notifications_local_only", o.NotificationsLocalOnly, true},
		{"notification_topic", o.NotificationTopic, "pi/state"},
		{"start_type", o.Start, bridge.Lazy},
		{"bridge_drain_rate", o.DrainRate, 50},
		{"topics", o.Topics, []bridge.Topic{
			{Direction: bridge.In, QoS: 2, LocalPrefix: "cmd/", RemotePrefix: "remote/cmd/"},
			{Pattern: "t", Direction: bridge.Both, QoS: 0},
		}},
	}
	for _, w := range want {
		if !reflect.DeepEqual(w.got, w.want) {
			t.Errorf("%s: %v, want %v", w.what, w.got, w.want)
		}
	}
}

// A bad bridge is refused before anything starts, with the file and line
// of the option at fault.
func TestBridgeErrorsNameFileAndLine(t *testing.T) {
	cases := []struct {
		name, conf string
		line       int
		want       string
	}{
		{"no address", "connection a\ntopic t\n", 1, "no address"},
		{"no topic", "connection a\naddress 127.0.0.1\n", 1, "no topic line"},
		{"bad direction", "connection a\naddress 127.0.0.1\ntopic t sideways 1\n", 3, "topic"},
		{"bad qos", "connection a\naddress 127.0.0.1\ntopic t out 3\n", 3, "topic"},
		{"bind address", "connection a\naddress 127.0.0.1\nbridge_bind_address nowhere\ntopic t\n", 3, "not an IP address"},
		{"certfile without CA", "connection a\naddress 127.0.0.1\ntopic t\nbridge_certfile /c.pem\nbridge_keyfile /k.pem\n", 4,
			"bridge_certfile needs bridge_cafile"},
		{"insecure without CA", "connection a\naddress 127.0.0.1\ntopic t\nbridge_insecure true\n", 4,
			"bridge_insecure needs bridge_cafile"},
		{"missing CA file", "connection a\naddress 127.0.0.1\ntopic t\nbridge_cafile /no/such/ca.pem\n", 4, "/no/such/ca.pem"},
		{"certfile without keyfile", "connection a\naddress 127.0.0.1\ntopic t\nbridge_cafile /no/ca.pem\nbridge_certfile /c.pem\n", 5,
			"go together"},
		{"same local id", "connection a\naddress 127.0.0.1\ntopic t\nlocal_clientid x\n\nconnection b\naddress 127.0.0.1\ntopic t\nlocal_clientid x\n", 6,
			"also bridge a's"},
		{"PSK refused", "connection a\naddress 127.0.0.1\ntopic t\nbridge_identity me\n", 4, "bridge_identity"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path, _, err := plansOf(t, c.conf)
			if err == nil {
				t.Fatalf("accepted:\n%s", c.conf)
			}
			prefix := path + ":" + strconv.Itoa(c.line) + ":"
			if !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q, want it to start %q and hold %q", err, prefix, c.want)
			}
		})
	}
}

// max_queued_messages bounds the QoS 0 messages a bridge holds for its
// other side, as it bounds a client's queue; 0 is no bound, as in Mosquitto.
func TestBridgeHeldQoS0FollowsMaxQueued(t *testing.T) {
	for _, c := range []struct {
		line string
		want int
	}{{"", 0}, {"max_queued_messages 50\n", 50}, {"max_queued_messages 0\n", broker.Unlimited}} {
		_, plans, err := plansOf(t, c.line+"connection a\naddress 127.0.0.1\ntopic t\n")
		if err != nil {
			t.Fatal(err)
		}
		if got := plans[0].opts.MaxHeldQoS0; got != c.want {
			t.Errorf("%q: MaxHeldQoS0 %d, want %d", c.line, got, c.want)
		}
	}
}
