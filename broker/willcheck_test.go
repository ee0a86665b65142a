package broker_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/packets"
)

// denyWrite lets a client read everything and write everything but the
// topics starting with prefix.
type denyWrite struct{ prefix string }

func (d denyWrite) CanRead(string) bool { return true }
func (d denyWrite) CanWrite(name string) bool {
	return !strings.HasPrefix(name, d.prefix)
}

// connectWill sends a CONNECT of the client "w" with the will w and returns
// what the broker answered before it closed the connection (nil: nothing);
// it fails if the connection stays up.
func connectWill(t *testing.T, addr string, version byte, w *packets.Will) packets.Packet {
	t.Helper()
	c := brokertest.Dial(t, addr, version)
	c.Send(&packets.Connect{ProtocolName: protocolName(version), Version: version, CleanStart: true, KeepAlive: 60, ClientID: "w", Will: w})
	return c.ExpectClosed()
}

// A will gets at CONNECT every check a PUBLISH of it would get, and one
// that fails is refused: MQTT 5 with the matching CONNACK code, MQTT 3.1.1
// and 3.1 with return code 5 where access forbids it (and, as in
// Mosquitto, for message_size_limit), closed without CONNACK otherwise.
// Before, a will to $SYS/... was accepted and published, retained, when
// its client dropped.
func TestWillCheckedAtConnect(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts := broker.Options{
		Authorizer:       broker.AuthorizerFunc(func(broker.ConnectInfo) broker.TopicAccess { return denyWrite{"forbidden/"} }),
		MessageSizeLimit: 100,
		MaxPacketSize:    300,
	}
	b := brokertest.Serve(t, opts, l, broker.ListenerOptions{LimitQoS: true, MaxQoS: 1})
	for _, tc := range []struct {
		name string
		will packets.Will
		v5   packets.ReasonCode // 0: closed without CONNACK
		v3   packets.ReasonCode // MQTT 3.1 and 3.1.1; 0: closed without CONNACK
	}{
		{"$SYS", packets.Will{Topic: "$SYS/broker/version", Retain: true}, packets.NotAuthorized, packets.ConnRefusedNotAuthorized},
		{"$SYS itself", packets.Will{Topic: "$SYS"}, packets.NotAuthorized, packets.ConnRefusedNotAuthorized},
		{"$CONTROL", packets.Will{Topic: "$CONTROL/dynamic-security/v1"}, packets.NotAuthorized, packets.ConnRefusedNotAuthorized},
		{"$share", packets.Will{Topic: "$share/g/t"}, packets.NotAuthorized, packets.ConnRefusedNotAuthorized},
		{"ACL write", packets.Will{Topic: "forbidden/x"}, packets.NotAuthorized, packets.ConnRefusedNotAuthorized},
		// A wildcard is malformed to the decoder, which closes the
		// connection at every level, as Mosquitto does.
		{"MQTT-3.3.2-2 wildcard", packets.Will{Topic: "a/+"}, 0, 0},
		{"MQTT-3.1.3-11 too deep", packets.Will{Topic: strings.Repeat("a/", 201) + "a"}, packets.TopicNameInvalid, 0},
		{"max_qos", packets.Will{Topic: "ok/q", QoS: 2}, packets.QoSNotSupported, 0},
		{"message_size_limit", packets.Will{Topic: "ok/s", Payload: make([]byte, 101)}, packets.PacketTooLarge, packets.ConnRefusedNotAuthorized},
		{"max_packet_size", packets.Will{Topic: "ok/" + strings.Repeat("p", 250), Payload: make([]byte, 60)}, packets.PacketTooLarge, 0},
	} {
		for _, version := range []byte{packets.V31, packets.V311, packets.V5} {
			t.Run(fmt.Sprintf("%s/v%d", tc.name, version), func(t *testing.T) {
				w := tc.will
				got := connectWill(t, b.Addr, version, &w)
				want := tc.v3
				if version == packets.V5 {
					want = tc.v5
				}
				if want == 0 {
					if got != nil {
						t.Fatalf("got %+v, want the connection closed without CONNACK", got)
					}
					return
				}
				if ack, ok := got.(*packets.Connack); !ok || ack.ReasonCode != want {
					t.Fatalf("got %+v, want CONNACK 0x%02X", got, byte(want))
				}
			})
		}
	}
	// Within every bound, a will is accepted.
	for _, version := range []byte{packets.V31, packets.V311, packets.V5} {
		c := brokertest.Dial(t, b.Addr, version)
		c.Send(&packets.Connect{ProtocolName: protocolName(version), Version: version, CleanStart: true, KeepAlive: 60, ClientID: "fine",
			Will: &packets.Will{Topic: "ok/" + strings.Repeat("p", 150), QoS: 1, Retain: true, Payload: make([]byte, 100)}})
		if ack, ok := c.Expect().(*packets.Connack); !ok || ack.ReasonCode != 0 {
			t.Fatalf("v%d: got %+v, want CONNACK 0", version, ack)
		}
	}

	rb := brokertest.Start(t, broker.Options{RetainUnavailable: true})
	for _, version := range []byte{packets.V31, packets.V311} {
		if got := connectWill(t, rb.Addr, version, &packets.Will{Topic: "r", Retain: true}); got != nil {
			t.Fatalf("v%d retained will with retain_available false: got %+v, want closed", version, got)
		}
	}
}

func protocolName(version byte) string {
	if version == packets.V31 {
		return "MQIsdp"
	}
	return "MQTT"
}

// A client that gives a will to $SYS is refused, and a $SYS/# subscriber
// never sees the forged message, live or retained; the log says why. A
// will elsewhere still goes out when its client drops.
func TestForgedSysWillRefused(t *testing.T) {
	t.Parallel()
	var log syncBuffer
	b := brokertest.Start(t, broker.Options{Logger: slog.New(slog.NewTextHandler(&log, nil))})
	watcher := brokertest.Connect(t, b.Addr, packets.V311, "watcher", true)
	subscribe(t, watcher, "wills/#", 0)
	subscribe(t, watcher, "$SYS/#", 0) // last: retained $SYS messages follow its SUBACK
	for _, version := range []byte{packets.V311, packets.V5} {
		got := connectWill(t, b.Addr, version, &packets.Will{Topic: "$SYS/broker/version", Retain: true, Payload: []byte("forged")})
		if ack, ok := got.(*packets.Connack); !ok || ack.ReasonCode != notAuthorized(version) {
			t.Fatalf("v%d: got %+v, want CONNACK not authorized", version, got)
		}
	}
	if line := log.String(); !strings.Contains(line, "will to '$SYS/broker/version' not authorised: only the broker publishes to $SYS") {
		t.Errorf("the log does not say why:\n%s", line)
	}

	c := brokertest.Dial(t, b.Addr, packets.V311)
	c.Send(&packets.Connect{ProtocolName: "MQTT", Version: packets.V311, CleanStart: true, KeepAlive: 60, ClientID: "honest",
		Will: &packets.Will{Topic: "wills/honest", Payload: []byte("gone")}})
	if ack, ok := c.Expect().(*packets.Connack); !ok || ack.ReasonCode != 0 {
		t.Fatalf("got %+v, want CONNACK 0", ack)
	}
	c.Net.Close()
	// The broker's $SYS messages may come first; no forged one may.
	for {
		p := expectPublish(t, watcher)
		if string(p.Payload) == "forged" {
			t.Fatalf("forged will delivered: %+v", p)
		}
		if p.Topic == "wills/honest" {
			break
		}
	}
	late := brokertest.Connect(t, b.Addr, packets.V311, "late", true)
	subscribe(t, late, "$SYS/broker/version", 0)
	if p := expectPublish(t, late); string(p.Payload) == "forged" {
		t.Fatalf("forged will retained: %+v", p)
	}
}

func notAuthorized(version byte) packets.ReasonCode {
	if version == packets.V5 {
		return packets.NotAuthorized
	}
	return packets.ConnRefusedNotAuthorized
}

// The will's access is checked once the client has authenticated: a bad
// password keeps its own refusal, not the will's.
func TestWillAccessAfterPassword(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{
		Authenticator: broker.AuthenticatorFunc(func(_ context.Context, info broker.ConnectInfo) error {
			if string(info.Password) != "right" {
				return broker.ErrBadCredentials
			}
			return nil
		}),
	})
	for _, tc := range []struct{ password, want string }{
		{"wrong", "bad user name or password"},
		{"right", "will to '$SYS/x' not authorised"},
	} {
		c := brokertest.Dial(t, b.Addr, packets.V5)
		c.Send(&packets.Connect{ProtocolName: "MQTT", Version: packets.V5, CleanStart: true, KeepAlive: 60, ClientID: "w",
			Username: "u", UsernameFlag: true, Password: []byte(tc.password), PasswordFlag: true,
			Will: &packets.Will{Topic: "$SYS/x", Payload: []byte("forged")}})
		ack, ok := c.ExpectClosed().(*packets.Connack)
		if !ok || ack.ReasonCode != packets.NotAuthorized || !strings.HasPrefix(ack.Properties.ReasonString, tc.want) {
			t.Fatalf("password %q: got %+v, want CONNACK 0x87 %q", tc.password, ack, tc.want)
		}
	}
}

// The listener's mount_point applies to the will topic before it is
// checked, as in Mosquitto; the $ rules hold for the topic as the client
// wrote it too, as for its PUBLISHes.
func TestWillCheckedUnderMountPoint(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts := broker.Options{Authorizer: broker.AuthorizerFunc(func(broker.ConnectInfo) broker.TopicAccess { return denyWrite{"tenant/no/"} })}
	b := brokertest.Serve(t, opts, l, broker.ListenerOptions{MountPoint: "tenant/"})
	for _, tc := range []struct {
		topic string
		want  packets.ReasonCode
	}{
		{"$SYS/broker/version", packets.NotAuthorized},
		{"no/x", packets.NotAuthorized},                                             // the ACL sees tenant/no/x
		{strings.Repeat("a/", 200) + "a", packets.TopicNameInvalid},                 // 200 separators, 201 under the mount
		{strings.Repeat("a", 65535-len("tenant/")) + "b", packets.TopicNameInvalid}, // too long once mounted
	} {
		if ack, ok := connectWill(t, b.Addr, packets.V5, &packets.Will{Topic: tc.topic}).(*packets.Connack); !ok || ack.ReasonCode != tc.want {
			t.Errorf("will to %.40q: got %+v, want CONNACK 0x%02X", tc.topic, ack, byte(tc.want))
		}
	}
}

// One $SYS topic is open to clients, as in Mosquitto:
// $SYS/broker/connection/NAME/state, where a Mosquitto bridge publishes
// its state on the remote broker and leaves a will saying it is gone.
// Nothing else under $SYS is.
func TestBridgeStateTopicWritable(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{SysInterval: -1})
	watcher := brokertest.Connect(t, b.Addr, packets.V311, "watcher", true)
	subscribe(t, watcher, "$SYS/#", 0)

	c := brokertest.Dial(t, b.Addr, packets.V311)
	c.Send(&packets.Connect{ProtocolName: "MQTT", Version: packets.V311, CleanStart: true, KeepAlive: 60, ClientID: "bridge",
		Will: &packets.Will{Topic: "$SYS/broker/connection/pi/state", Retain: true, Payload: []byte("0")}})
	if ack, ok := c.Expect().(*packets.Connack); !ok || ack.ReasonCode != 0 {
		t.Fatalf("got %+v, want CONNACK 0 for a will to the bridge state topic", ack)
	}
	for _, name := range []string{"$SYS/broker/connection/pi/other", "$SYS/broker/connection/a/b/state", "$SYS/broker/connection//x/state", "$SYS/broker/version"} {
		c.Send(&packets.Publish{Topic: name, Payload: []byte("forged")})
	}
	c.Send(&packets.Publish{Topic: "$SYS/broker/connection/pi/state", Retain: true, Payload: []byte("1")})
	if p := expectPublish(t, watcher); p.Topic != "$SYS/broker/connection/pi/state" || string(p.Payload) != "1" {
		t.Fatalf("watcher got %q %q, want the bridge's state 1 and nothing forged before it", p.Topic, p.Payload)
	}
	c.Net.Close()
	if p := expectPublish(t, watcher); p.Topic != "$SYS/broker/connection/pi/state" || string(p.Payload) != "0" {
		t.Fatalf("watcher got %q %q, want the bridge's will, state 0", p.Topic, p.Payload)
	}
}
