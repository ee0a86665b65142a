package interop

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/mosquittotest"
)

// v5Connect is an MQTT 5 CONNECT with a clean start, written from the
// specification: the client identifier, the keep alive, and the property
// bytes as given.
func v5Connect(clientID string, keepAlive uint16, props []byte) []byte {
	body := appendString(nil, "MQTT")
	body = append(body, 5, 0x02)
	body = binary.BigEndian.AppendUint16(body, keepAlive)
	body = append(body, byte(len(props)))
	body = append(body, props...)
	body = appendString(body, clientID)
	return appendPacket(nil, 0x10, body)
}

// connackBytes sends connect to addr and returns the whole CONNACK,
// fixed header included, as hex.
func connackBytes(t *testing.T, addr string, connect []byte) string {
	t.Helper()
	c := dialRaw(t, addr)
	c.write(t, connect)
	first, body, err := c.readPacket(time.Now().Add(5 * time.Second))
	if err != nil {
		t.Fatalf("%s: reading CONNACK: %v", addr, err)
	}
	if first != typeConnack {
		t.Fatalf("%s: got packet 0x%02X, want CONNACK", addr, first)
	}
	return hex.EncodeToString(append([]byte{first, byte(len(body))}, body...))
}

// assignedID matches an assigned client identifier inside CONNACK hex:
// "auto-" and a 36-character UUID in upper case, as Mosquitto writes it.
var assignedID = regexp.MustCompile(hex.EncodeToString([]byte("auto-")) + `((3[0-9])|(4[1-6])|2d){36}`)

// The same mosquitto.conf gives the same MQTT 5 CONNACK, byte for byte,
// from midge as from Debian's mosquitto: the properties, their values and
// their order. Only the value of an assigned client identifier differs,
// and its form does not.
func TestConnackBytesMatchMosquitto(t *testing.T) {
	for _, tc := range []struct {
		name, conf string
	}{
		{"defaults", ""},
		{"limits", "max_keepalive 60\nmax_packet_size 1000\nmax_inflight_messages 5\nretain_available false\nmax_qos 1\nmax_topic_alias 3\n"},
		{"unlimited in-flight, no aliases", "max_inflight_messages 0\nmax_topic_alias 0\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mosquitto := mosquittotest.Start(t, tc.conf)
			midge := startSecureBroker(t, t.TempDir(), "listener {port} 127.0.0.1\nallow_anonymous true\n"+tc.conf).addr
			for _, connect := range []struct {
				what  string
				bytes []byte
			}{
				{"client id, keep alive 60", v5Connect("same", 60, nil)},
				{"client id, keep alive 0", v5Connect("same", 0, nil)},
				{"keep alive 65535", v5Connect("same", 65535, nil)},
				{"assigned id", v5Connect("", 30, nil)},
				{"session expiry, receive maximum", v5Connect("same", 60, []byte{0x11, 0, 0, 0, 60, 0x21, 0, 7})},
			} {
				want := assignedID.ReplaceAllString(connackBytes(t, mosquitto, connect.bytes), "<id>")
				got := assignedID.ReplaceAllString(connackBytes(t, midge, connect.bytes), "<id>")
				if got != want {
					t.Errorf("%s: CONNACK\n midge     %s\n mosquitto %s", connect.what, got, want)
				}
				if strings.Contains(want, "auto") != strings.Contains(got, "auto") {
					t.Errorf("%s: only one broker assigned an identifier in the expected form", connect.what)
				}
			}
		})
	}
}

// An MQTT 3.1 CONNACK has no Session Present flag, in midge as in
// Mosquitto: resuming a session, both send 0x20 0x02 0x00 0x00.
func TestConnackMQTT31ResumedSession(t *testing.T) {
	mosquitto := mosquittotest.Start(t, "")
	midge := startBroker(t)
	for _, addr := range []string{mosquitto, midge} {
		p := rawConnect{level: 3, clientID: fmt.Sprintf("resume31-%d", time.Now().UnixNano()), keepAlive: 60}
		connectRaw(t, addr, p).closeWrite(t)
		var got []byte
		mosquittotest.WaitFor(t, 5*time.Second, "the session to be resumable", func() bool {
			c := dialRaw(t, addr)
			c.write(t, p.encode())
			first, body, err := c.readPacket(time.Now().Add(5 * time.Second))
			got = append([]byte{first}, body...)
			return err == nil && first == typeConnack
		})
		if !bytes.Equal(got, []byte{typeConnack, 0, 0}) {
			t.Errorf("%s: MQTT 3.1 CONNACK resuming a session: % x, want 20 00 00", addr, got)
		}
	}
}
