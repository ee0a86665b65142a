package client_test

import (
	"context"
	"errors"
	"net"
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
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			go func() {
				nc, err := l.Accept()
				if err != nil {
					return
				}
				defer nc.Close()
				nc.Read(make([]byte, 512)) // the CONNECT
				nc.Write([]byte(tc.reply))
				nc.Read(make([]byte, 1)) // and keep it open until the client goes, as such servers do
			}()
			start := time.Now()
			_, err = client.Dial(context.Background(), client.Options{Addr: l.Addr().String(), ClientID: "c", ConnectTimeout: 10 * time.Second})
			var nm *client.NotMQTTError
			if !errors.As(err, &nm) || nm.Protocol != tc.protocol {
				t.Fatalf("Dial: %v, want a NotMQTTError for %s", err, tc.protocol)
			}
			if waited := time.Since(start); waited > 2*time.Second {
				t.Errorf("reported after %v, want at once", waited)
			}
		})
	}
}
