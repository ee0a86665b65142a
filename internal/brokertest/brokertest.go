// Package brokertest runs an in-process broker on 127.0.0.1:0 for tests and
// drives it with raw packets, so a test can send exactly the bytes it means
// and check exactly the bytes that come back.
package brokertest

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/packets"
)

// Broker is a running in-process broker.
type Broker struct {
	Addr   string // "127.0.0.1:PORT"
	Server *broker.Server
	stop   func()
}

// Stop shuts the broker down now rather than when the test ends, as a
// restart test needs; it waits until the broker is down.
func (b *Broker) Stop() { b.stop() }

// Start runs a broker with opts on a fresh loopback port and stops it when
// the test ends. With MIDGE_TEST_GOROUTINE_PER_CONNECTION=1 in the
// environment it runs without the event-driven reader, so CI covers both
// ways of reading connections.
func Start(t testing.TB, opts broker.Options) *Broker {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("brokertest: %v", err)
	}
	return Serve(t, opts, l, broker.ListenerOptions{})
}

// Serve runs a broker with opts on l, a listener the test made (TLS, for
// one), with the listener's own options, and stops it when the test ends.
func Serve(t testing.TB, opts broker.Options, l net.Listener, lo broker.ListenerOptions) *Broker {
	t.Helper()
	if os.Getenv("MIDGE_TEST_GOROUTINE_PER_CONNECTION") == "1" {
		opts.GoroutinePerConnection = true
	}
	srv, err := broker.Open(opts)
	if err != nil {
		l.Close()
		t.Fatalf("brokertest: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.ServeWith(l, lo)
	}()
	b := &Broker{Addr: l.Addr().String(), Server: srv}
	b.stop = sync.OnceFunc(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("brokertest: shutdown: %v", err)
		}
		<-done
	})
	t.Cleanup(b.stop)
	return b
}

// Conn is a raw connection to a broker with a read deadline on every read.
type Conn struct {
	t       testing.TB
	Net     net.Conn
	Version byte
	reader  *packets.Reader
	Timeout time.Duration
}

// Dial opens a raw TCP connection to addr speaking protocol level version.
func Dial(t testing.TB, addr string, version byte) *Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("brokertest: dial: %v", err)
	}
	t.Cleanup(func() { nc.Close() })
	return Wrap(t, nc, version)
}

// Wrap makes a Conn of a connection the test opened itself (TLS, for one).
func Wrap(t testing.TB, nc net.Conn, version byte) *Conn {
	return &Conn{t: t, Net: nc, Version: version, reader: packets.NewReader(nc, 512), Timeout: 5 * time.Second}
}

// Connect dials addr and completes a CONNECT with the given client id and
// clean flag, failing the test unless CONNACK accepts it.
func Connect(t testing.TB, addr string, version byte, clientID string, clean bool) *Conn {
	t.Helper()
	c := Dial(t, addr, version)
	c.Send(&packets.Connect{ProtocolName: protocolName(version), Version: version, CleanStart: clean, KeepAlive: 60, ClientID: clientID})
	ack, ok := c.Expect().(*packets.Connack)
	if !ok || ack.ReasonCode != 0 {
		t.Fatalf("brokertest: CONNACK = %+v", ack)
	}
	return c
}

// ConnectUser is Connect with a user name (and that name as password).
func ConnectUser(t testing.TB, addr string, version byte, clientID, username string, clean bool) *Conn {
	t.Helper()
	c := Dial(t, addr, version)
	c.Send(&packets.Connect{ProtocolName: protocolName(version), Version: version, CleanStart: clean, KeepAlive: 60,
		ClientID: clientID, Username: username, UsernameFlag: true, Password: []byte(username), PasswordFlag: true})
	ack, ok := c.Expect().(*packets.Connack)
	if !ok || ack.ReasonCode != 0 {
		t.Fatalf("brokertest: CONNACK = %+v", ack)
	}
	return c
}

func protocolName(version byte) string {
	if version == packets.V31 {
		return "MQIsdp"
	}
	return "MQTT"
}

// Send encodes and writes p.
func (c *Conn) Send(p packets.Packet) {
	c.t.Helper()
	b, err := p.Encode(nil, c.Version)
	if err != nil {
		c.t.Fatalf("brokertest: encode %T: %v", p, err)
	}
	c.Write(b)
}

// Write writes raw bytes.
func (c *Conn) Write(b []byte) {
	c.t.Helper()
	c.Net.SetWriteDeadline(time.Now().Add(c.Timeout))
	if _, err := c.Net.Write(b); err != nil {
		c.t.Fatalf("brokertest: write: %v", err)
	}
}

// Read reads one packet or returns the error.
func (c *Conn) Read() (packets.Packet, error) {
	c.Net.SetReadDeadline(time.Now().Add(c.Timeout))
	h, body, err := c.reader.ReadFrame()
	if err != nil {
		return nil, err
	}
	return packets.Decode(h, body, c.Version)
}

// Expect reads one packet, failing the test on error.
func (c *Conn) Expect() packets.Packet {
	c.t.Helper()
	p, err := c.Read()
	if err != nil {
		c.t.Fatalf("brokertest: read: %v", err)
	}
	return p
}

// ExpectClosed fails the test unless the broker closes the connection
// within the timeout, without sending anything but (for MQTT 5) a
// DISCONNECT or a refusing CONNACK. It returns that packet, if any.
func (c *Conn) ExpectClosed() packets.Packet {
	c.t.Helper()
	var last packets.Packet
	for {
		p, err := c.Read()
		if err == nil {
			switch p.(type) {
			case *packets.Disconnect, *packets.Connack:
				last = p
				continue
			}
			c.t.Fatalf("brokertest: expected the connection to close, got %T %+v", p, p)
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.t.Fatalf("brokertest: connection still open after %v", c.Timeout)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || isReset(err) {
			return last
		}
		c.t.Fatalf("brokertest: expected close, got error %v", err)
	}
}

func isReset(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "read"
}
