package broker_test

import (
	"encoding/hex"
	"io"
	"net"
	"regexp"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/internal/mosquittotest"
	"github.com/midge-mqtt/midge/packets"
)

// rawConnack sends p on a new connection to addr and returns the bytes of
// the first packet the broker answers with, unparsed.
func rawConnack(t *testing.T, addr string, p *packets.Connect) []byte {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	b, err := p.Encode(nil, p.Version)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := nc.Write(b); err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 2)
	if _, err := io.ReadFull(nc, head); err != nil {
		t.Fatalf("reading CONNACK: %v", err)
	}
	body := make([]byte, head[1]) // every CONNACK here is under 128 bytes
	if _, err := io.ReadFull(nc, body); err != nil {
		t.Fatalf("reading CONNACK: %v", err)
	}
	return append(head, body...)
}

// connectFor is an MQTT 5 CONNECT with the client identifier and keep alive.
func connectFor(id string, keepAlive uint16) *packets.Connect {
	return &packets.Connect{ProtocolName: "MQTT", Version: packets.V5, CleanStart: true, KeepAlive: keepAlive, ClientID: id}
}

// midge's MQTT 5 CONNACK is byte for byte the one Mosquitto 2.0 sends for
// the same configuration. The expected bytes were captured from Debian's
// mosquitto 2.0.11 (interop/connack_test.go compares with a live one):
// Mosquitto writes Topic Alias Maximum, Server Keep Alive and the Assigned
// Client Identifier as it admits the client, then Retain Available,
// Maximum Packet Size, Receive Maximum (max_inflight_messages, 20 by
// default) and Maximum QoS.
func TestConnackBytesAsMosquitto(t *testing.T) {
	t.Parallel()
	plain := brokertest.Start(t, broker.Options{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// max_keepalive 60, max_packet_size 1000, max_inflight_messages 5,
	// retain_available false, max_topic_alias 3, listener max_qos 1.
	limited := brokertest.Serve(t, broker.Options{MaxKeepAlive: 60, MaxPacketSize: 1000, MaxInflight: 5,
		RetainUnavailable: true, TopicAliasMaximum: 3}, l, broker.ListenerOptions{LimitQoS: true, MaxQoS: 1})
	for _, tc := range []struct {
		name, addr string
		connect    *packets.Connect
		want       string
	}{
		{"defaults", plain.Addr, connectFor("x", 60), "200900000622000a210014"},
		{"defaults, keep alive 0", plain.Addr, connectFor("x", 0), "200c00000922000a13ffff210014"},
		{"limits", limited.Addr, connectFor("x", 60), "201200000f220003250027000003e82100052401"},
		{"limits, keep alive 0", limited.Addr, connectFor("x", 0), "201500001222000313003c250027000003e82100052401"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := hex.EncodeToString(rawConnack(t, tc.addr, tc.connect)); got != tc.want {
				t.Errorf("CONNACK\n got %s\nwant %s (Mosquitto 2.0.11)", got, tc.want)
			}
		})
	}

	// An assigned identifier sits after Server Keep Alive; only its value
	// differs from Mosquitto's.
	got := hex.EncodeToString(rawConnack(t, limited.Addr, connectFor("", 0)))
	want := regexp.MustCompile(`^204100003e22000313003c120029` + hex.EncodeToString([]byte("auto-")) +
		`([0-9a-f]{2}){36}250027000003e82100052401$`)
	if !want.MatchString(got) {
		t.Errorf("CONNACK with an assigned identifier\n got %s\nwant %s", got, want)
	}
}

// An assigned client identifier has Mosquitto's form: "auto-" and an
// upper-case UUID, 36 characters; two clients never get the same one.
func TestAssignedClientIDIsUUID(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{})
	uuid := regexp.MustCompile(`^auto-[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$`)
	seen := map[string]bool{}
	for range 20 {
		_, ack := connect5(t, b.Addr, "", true, nil)
		id := ack.Properties.AssignedClientID
		if !uuid.MatchString(id) || seen[id] {
			t.Fatalf("assigned identifier %q: want auto- and a fresh upper-case UUID", id)
		}
		seen[id] = true
	}
}

// An MQTT 3.1 CONNACK has no Session Present flag: resuming a session, its
// first byte stays 0 (3.1.1 sets it).
func TestConnackSessionPresentNotInMQTT31(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{})
	for _, tc := range []struct {
		version byte
		want    string
	}{
		{packets.V31, "20020000"},
		{packets.V311, "20020100"},
	} {
		p := &packets.Connect{ProtocolName: "MQIsdp", Version: tc.version, KeepAlive: 60, ClientID: "resumer"}
		if tc.version == packets.V311 {
			p.ProtocolName = "MQTT"
		}
		rawConnack(t, b.Addr, p) // makes the session
		mosquittotest.WaitFor(t, 5*time.Second, "the first connection to end", func() bool { return b.Server.Stats().ClientsConnected == 0 })
		if got := hex.EncodeToString(rawConnack(t, b.Addr, p)); got != tc.want {
			t.Errorf("protocol level %d resuming: CONNACK %s, want %s", tc.version, got, tc.want)
		}
	}
}

// A CONNACK over the client's Maximum Packet Size is never sent
// [MQTT-3.1.2-24]: the reason string goes first [MQTT-3.1.2-25]; one that
// is too large without it closes the connection, as in Mosquitto.
func TestConnackWithinMaximumPacketSize(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{Authenticator: broker.AuthenticatorFunc(denyAll)})
	t.Run("MQTT-3.1.2-25", func(t *testing.T) {
		c := brokertest.Dial(t, b.Addr, packets.V5)
		p := connectFor("refused", 60)
		p.Properties.MaximumPacketSize = 8
		p.Properties.Set(packets.PropMaximumPacketSize)
		c.Send(p)
		ack, ok := c.ExpectClosed().(*packets.Connack)
		if !ok || ack.ReasonCode != packets.NotAuthorized || ack.Properties.ReasonString != "" {
			t.Fatalf("got %+v, want CONNACK 0x87 without its reason string", ack)
		}
	})
	t.Run("MQTT-3.1.2-24", func(t *testing.T) {
		open := brokertest.Start(t, broker.Options{})
		c := brokertest.Dial(t, open.Addr, packets.V5)
		p := connectFor("", 60) // the assigned identifier alone is 44 bytes
		p.Properties.MaximumPacketSize = 30
		p.Properties.Set(packets.PropMaximumPacketSize)
		c.Send(p)
		if got := c.ExpectClosed(); got != nil {
			t.Fatalf("got %+v, want the connection closed without a CONNACK", got)
		}
	})
}
