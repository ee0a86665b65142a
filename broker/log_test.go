package broker_test

import (
	"context"
	"log/slog"
	"net"
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/packets"
)

// A connection that speaks another protocol is named in its line.
func TestNotMQTTNamed(t *testing.T) {
	t.Parallel()
	logger, log := brokertest.NewLog(slog.LevelInfo)
	b := brokertest.Start(t, broker.Options{Logger: logger})
	for _, tc := range []struct{ send, line string }{
		{"\x16\x03\x01\x00\x05hello", "Client <unknown> disconnected: looks like TLS: is this a TLS client on a plain port?"},
		{"GET /mqtt HTTP/1.1\r\n\r\n", "Client <unknown> disconnected: looks like HTTP: is this a WebSocket or web client on a plain MQTT port?"},
		{"", "Client <unknown> closed its connection."},
		{"\x20\x02\x00\x00", "Client <unknown> disconnected due to protocol error: first packet is not CONNECT (byte 0x20) [MQTT-3.1.0-1]."},
	} {
		nc, err := net.Dial("tcp", b.Addr)
		if err != nil {
			t.Fatal(err)
		}
		nc.Write([]byte(tc.send))
		nc.Close()
		log.WaitFor(t, tc.line)
	}
}

// A refused login reads as Mosquitto's line, with the reason after it and
// the client identifier once.
func TestLoginRefusedLine(t *testing.T) {
	t.Parallel()
	logger, log := brokertest.NewLog(slog.LevelInfo)
	b := brokertest.Start(t, broker.Options{Logger: logger, Authenticator: broker.AuthenticatorFunc(
		func(_ context.Context, info broker.ConnectInfo) error {
			if info.HasUsername {
				return broker.ErrBadCredentials
			}
			return broker.ErrNotAuthorized
		})})
	for _, tc := range []struct {
		connect *packets.Connect
		line    string
	}{
		{&packets.Connect{ClientID: "c1", Username: "bob", UsernameFlag: true, Password: []byte("x"), PasswordFlag: true},
			"Client c1 disconnected, not authorised: bad user name or password (user 'bob')."},
		{&packets.Connect{ClientID: "c2"}, "Client c2 disconnected, not authorised."},
	} {
		c := brokertest.Dial(t, b.Addr, packets.V311)
		tc.connect.ProtocolName, tc.connect.Version, tc.connect.CleanStart = "MQTT", packets.V311, true
		c.Send(tc.connect)
		if ack, ok := c.Expect().(*packets.Connack); !ok || ack.ReasonCode == 0 {
			t.Fatalf("CONNACK %+v", ack)
		}
		log.WaitFor(t, tc.line)
	}
}
