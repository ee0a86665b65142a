package broker_test

import (
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/internal/mosquittotest"
	"github.com/midge-mqtt/midge/packets"
)

// tlsBroker serves a TLS listener with a certificate for 127.0.0.1 and
// returns it, its CA pool and its log.
func tlsBroker(t *testing.T, opts broker.Options) (*brokertest.Broker, *x509.CertPool, *mosquittotest.SyncBuffer) {
	t.Helper()
	ca, caKey := newTestCA(t)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := tls.NewListener(inner, &tls.Config{Certificates: []tls.Certificate{leafCert(t, ca, caKey, "127.0.0.1", true)}})
	log := &mosquittotest.SyncBuffer{}
	opts.Logger = slog.New(slog.NewTextHandler(log, nil))
	return brokertest.Serve(t, opts, l, broker.ListenerOptions{}), pool, log
}

// A TLS handshake that never completes is closed after the CONNECT
// timeout, and the log says why; other clients are served meanwhile.
func TestTLSHandshakeTimeout(t *testing.T) {
	t.Parallel()
	b, pool, log := tlsBroker(t, broker.Options{ConnectTimeout: 300 * time.Millisecond})
	stalled, err := net.Dial("tcp", b.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	stalled.Write([]byte{0x16, 0x03, 0x01}) // the start of a ClientHello, and nothing more

	good, err := tls.Dial("tcp", b.Addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("a good client during the stall: %v", err)
	}
	defer good.Close()

	start := time.Now()
	stalled.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := stalled.Read(make([]byte, 64)); err == nil {
		t.Fatal("the stalled handshake got an answer")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the stalled handshake was not closed within 5s")
	}
	if waited := time.Since(start); waited > 3*time.Second {
		t.Errorf("closed after %v, want about the 300ms CONNECT timeout", waited)
	}
	mosquittotest.WaitFor(t, 2*time.Second, "log line", func() bool {
		return strings.Contains(log.String(), "TLS handshake failed")
	})
}

// Plain MQTT sent to a TLS port is closed with a log line; the broker goes
// on serving TLS clients.
func TestPlainMQTTOnTLSPort(t *testing.T) {
	t.Parallel()
	b, pool, log := tlsBroker(t, broker.Options{})
	plain := brokertest.Dial(t, b.Addr, packets.V311)
	plain.Send(&packets.Connect{ProtocolName: "MQTT", Version: packets.V311, CleanStart: true, ClientID: "plain"})
	plain.Net.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 256)
	for {
		if _, err := plain.Net.Read(buf); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("plain MQTT on the TLS port was not closed")
			}
			break // a TLS alert may come first; then the close
		}
	}
	mosquittotest.WaitFor(t, 2*time.Second, "log line", func() bool {
		return strings.Contains(log.String(), "Client <unknown> disconnected: looks like MQTT without TLS: is this a plain MQTT client on a TLS port?")
	})
	nc, err := tls.Dial("tcp", b.Addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := brokertest.Wrap(t, nc, packets.V311)
	c.Send(&packets.Connect{ProtocolName: "MQTT", Version: packets.V311, CleanStart: true, ClientID: "tls"})
	if ack, ok := c.Expect().(*packets.Connack); !ok || ack.ReasonCode != 0 {
		t.Fatalf("CONNACK over TLS = %+v", ack)
	}
}
