package client_test

import (
	"errors"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/client"
)

// A server that answers CONNECT with HTTP (a WebSocket listener) or a TLS
// alert (a TLS listener) is named at once, not read as packets until the
// connect timeout.
func TestDialNamesAServerThatIsNotMQTT(t *testing.T) {
	for _, tc := range []struct {
		protocol string
		reply    string
	}{
		{"HTTP", "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"},
		{"TLS", "\x15\x03\x01\x00\x02\x02\x46"}, // alert: protocol version
	} {
		t.Run(tc.protocol, func(t *testing.T) {
			start := time.Now()
			s, _, dialed := startFake(t, client.Options{ClientID: "c", ConnectTimeout: 10 * time.Second})
			s.conn.Write([]byte(tc.reply)) // and the connection stays open, as such servers keep it a while
			var nm *client.NotMQTTError
			if err := awaitDialError(t, dialed); !errors.As(err, &nm) || nm.Protocol != tc.protocol {
				t.Fatalf("Dial: %v, want a NotMQTTError for %s", err, tc.protocol)
			}
			if waited := time.Since(start); waited > 2*time.Second {
				t.Errorf("reported after %v, want at once", waited)
			}
		})
	}
}
