package client_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/packets"
)

// fakeServer accepts one client and speaks raw packets to it, so a test can
// check exactly what the client sends and script what it receives.
type fakeServer struct {
	t       *testing.T
	conn    net.Conn
	reader  *packets.Reader
	version byte // the protocol level it speaks: the client's
}

// dialResult is what a Dial in the background returned.
type dialResult struct {
	c   *client.Client
	err error
}

// startFake starts a listener and a Dial with opts (Addr is filled in) in
// the background, accepts the connection and reads the CONNECT. The test
// answers it and collects the Dial's outcome from the channel.
func startFake(t *testing.T, opts client.Options) (*fakeServer, *packets.Connect, <-chan dialResult) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	opts.Addr = l.Addr().String()
	dialed := make(chan dialResult, 1)
	go func() {
		c, err := client.Dial(context.Background(), opts)
		dialed <- dialResult{c, err}
	}()
	l.(*net.TCPListener).SetDeadline(time.Now().Add(waitTimeout))
	conn, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	version := opts.Version
	if version == 0 {
		version = packets.V311
	}
	s := &fakeServer{t: t, conn: conn, reader: packets.NewReader(conn, 512), version: version}
	connect, ok := s.expect().(*packets.Connect)
	if !ok {
		t.Fatal("first packet is not CONNECT")
	}
	return s, connect, dialed
}

// dialFake starts a fake server, dials it with opts, answers the CONNECT
// with connack and returns both ends.
func dialFake(t *testing.T, opts client.Options, connack *packets.Connack) (*client.Client, *fakeServer) {
	t.Helper()
	s, _, dialed := startFake(t, opts)
	s.send(connack)
	return awaitDial(t, dialed), s
}

// awaitDial returns the client of a successful Dial, closed when the test
// ends.
func awaitDial(t *testing.T, dialed <-chan dialResult) *client.Client {
	t.Helper()
	var r dialResult
	select {
	case r = <-dialed:
	case <-time.After(waitTimeout):
		t.Fatal("Dial still running")
	}
	if r.err != nil {
		t.Fatalf("Dial: %v", r.err)
	}
	t.Cleanup(func() { r.c.Close() })
	return r.c
}

// awaitDialError returns the error of a failed Dial.
func awaitDialError(t *testing.T, dialed <-chan dialResult) error {
	t.Helper()
	var r dialResult
	select {
	case r = <-dialed:
	case <-time.After(waitTimeout):
		t.Fatal("Dial still running")
	}
	if r.err == nil {
		r.c.Close()
		t.Fatal("Dial succeeded")
	}
	return r.err
}

func (s *fakeServer) send(p packets.Packet) {
	s.t.Helper()
	b, err := p.Encode(nil, s.version)
	if err != nil {
		s.t.Fatal(err)
	}
	s.conn.SetWriteDeadline(time.Now().Add(waitTimeout))
	if _, err := s.conn.Write(b); err != nil {
		s.t.Fatal(err)
	}
}

// read returns the next packet or the error, waiting at most timeout.
func (s *fakeServer) read(timeout time.Duration) (packets.Packet, error) {
	s.conn.SetReadDeadline(time.Now().Add(timeout))
	h, body, err := s.reader.ReadFrame()
	if err != nil {
		return nil, err
	}
	return packets.Decode(h, body, s.version)
}

func (s *fakeServer) expect() packets.Packet {
	s.t.Helper()
	p, err := s.read(waitTimeout)
	if err != nil {
		s.t.Fatalf("fake server read: %v", err)
	}
	return p
}

func (s *fakeServer) expectAck(kind packets.Type, id uint16) {
	s.t.Helper()
	p := s.expect()
	if a, ok := p.(*packets.Ack); !ok || a.Kind != kind || a.PacketID != id {
		s.t.Fatalf("got %T %+v, want %v %d", p, p, kind, id)
	}
}

func (s *fakeServer) expectPublish() *packets.Publish {
	s.t.Helper()
	p := s.expect()
	pub, ok := p.(*packets.Publish)
	if !ok {
		s.t.Fatalf("got %T %+v, want PUBLISH", p, p)
	}
	return pub
}

// expectNothing checks the client sends nothing for a short while.
func (s *fakeServer) expectNothing(d time.Duration) {
	s.t.Helper()
	p, err := s.read(d)
	var ne net.Error
	if err == nil || !errors.As(err, &ne) || !ne.Timeout() {
		s.t.Fatalf("got %T %+v (%v), want nothing", p, p, err)
	}
}

var accepted = &packets.Connack{}

// TestQoS2DuplicateDeliveredOnce resends a QoS 2 PUBLISH with DUP before
// PUBREL: the client must acknowledge both and deliver once.
func TestQoS2DuplicateDeliveredOnce(t *testing.T) {
	in := newInbox()
	_, s := dialFake(t, client.Options{ClientID: "q2", OnMessage: in.onMessage}, accepted)
	pub := &packets.Publish{QoS: 2, Topic: "x", PacketID: 7, Payload: []byte("once")}
	s.send(pub)
	s.expectAck(packets.TypePubrec, 7)
	pub.Dup = true
	s.send(pub)
	s.expectAck(packets.TypePubrec, 7)
	s.send(&packets.Ack{Kind: packets.TypePubrel, PacketID: 7})
	s.expectAck(packets.TypePubcomp, 7)
	// After the release the identifier may carry a new message.
	s.send(&packets.Publish{QoS: 2, Topic: "x", PacketID: 7, Payload: []byte("again")})
	s.expectAck(packets.TypePubrec, 7)
	if got := in.next(t); got.Payload != "once" {
		t.Fatalf("first delivery %+v", got)
	}
	if got := in.next(t); got.Payload != "again" {
		t.Fatalf("second delivery %+v, want the new message (the DUP must not be delivered)", got)
	}
}

// TestQoS1AckAfterOnMessage checks PUBACK leaves only once OnMessage has
// returned.
func TestQoS1AckAfterOnMessage(t *testing.T) {
	release := make(chan struct{})
	_, s := dialFake(t, client.Options{ClientID: "q1", OnMessage: func(*packets.Publish) { <-release }}, accepted)
	s.send(&packets.Publish{QoS: 1, Topic: "x", PacketID: 3})
	s.expectNothing(100 * time.Millisecond)
	close(release)
	s.expectAck(packets.TypePuback, 3)
}

// TestInflightBound checks that a QoS 1 publish waits for a slot once
// MaxInflight publishes await PUBACK, and that identifiers in use are not
// handed out again.
func TestInflightBound(t *testing.T) {
	c, s := dialFake(t, client.Options{ClientID: "inflight", MaxInflight: 2}, accepted)
	ctx := context.Background()
	first, err := c.PublishAsync(ctx, &packets.Publish{Topic: "a", QoS: 1})
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.PublishAsync(ctx, &packets.Publish{Topic: "a", QoS: 2})
	if err != nil {
		t.Fatal(err)
	}
	id1, id2 := s.expectPublish().PacketID, s.expectPublish().PacketID
	if id1 == 0 || id2 == 0 || id1 == id2 {
		t.Fatalf("packet ids %d and %d", id1, id2)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := c.PublishAsync(short, &packets.Publish{Topic: "a", QoS: 1}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("third publish with a full window = %v, want DeadlineExceeded", err)
	}
	s.expectNothing(50 * time.Millisecond)

	s.send(&packets.Ack{Kind: packets.TypePuback, PacketID: id1})
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	third := make(chan error, 1)
	go func() { third <- c.Publish(ctx, &packets.Publish{Topic: "a", QoS: 1}) }()
	id3 := s.expectPublish().PacketID
	if id3 == 0 || id3 == id2 {
		t.Fatalf("third id %d while %d is in flight", id3, id2)
	}
	s.send(&packets.Ack{Kind: packets.TypePuback, PacketID: id3})
	if err := <-third; err != nil {
		t.Fatal(err)
	}
	// The QoS 2 flow: PUBREC -> PUBREL -> PUBCOMP.
	s.send(&packets.Ack{Kind: packets.TypePubrec, PacketID: id2})
	s.expectAck(packets.TypePubrel, id2)
	s.send(&packets.Ack{Kind: packets.TypePubcomp, PacketID: id2})
	if err := <-second; err != nil {
		t.Fatal(err)
	}
}

// TestPingTimeout: the server never answers PINGREQ.
func TestPingTimeout(t *testing.T) {
	c, s := dialFake(t, client.Options{ClientID: "ping", KeepAlive: time.Second}, accepted)
	if _, ok := s.expect().(*packets.Pingreq); !ok {
		t.Fatal("no PINGREQ")
	}
	select {
	case <-c.Done():
	case <-time.After(waitTimeout):
		t.Fatal("connection still up without PINGRESP")
	}
	if !errors.Is(c.Err(), client.ErrPingTimeout) {
		t.Fatalf("Err = %v, want ErrPingTimeout", c.Err())
	}
}

func TestDisconnectAndClose(t *testing.T) {
	c, s := dialFake(t, client.Options{ClientID: "bye"}, accepted)
	if err := c.Disconnect(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.expect().(*packets.Disconnect); !ok {
		t.Fatal("no DISCONNECT")
	}
	if _, err := s.read(waitTimeout); err == nil {
		t.Fatal("connection still open after Disconnect")
	}

	c, s = dialFake(t, client.Options{ClientID: "drop"}, accepted)
	c.Close()
	if p, err := s.read(waitTimeout); err == nil {
		t.Fatalf("got %T after Close, want the connection closed without DISCONNECT", p)
	}
}

// TestServerCloses checks that the end of the connection wakes waiters and
// is reported by Done and Err.
func TestServerCloses(t *testing.T) {
	c, s := dialFake(t, client.Options{ClientID: "lost"}, accepted)
	done := make(chan error, 1)
	go func() { done <- c.Publish(context.Background(), &packets.Publish{Topic: "a", QoS: 1}) }()
	s.expectPublish()
	s.conn.Close()
	if err := <-done; !errors.Is(err, client.ErrConnectionLost) {
		t.Fatalf("Publish = %v, want ErrConnectionLost", err)
	}
	<-c.Done()
	if !errors.Is(c.Err(), client.ErrConnectionLost) {
		t.Fatalf("Err = %v", c.Err())
	}
}

func TestConnectTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// The listener's backlog accepts the connection; nobody answers.
	start := time.Now()
	_, err = client.Dial(context.Background(), client.Options{Addr: l.Addr().String(), ConnectTimeout: 200 * time.Millisecond})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial = %v, want DeadlineExceeded", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("Dial took %v", elapsed)
	}
}

func TestRefusedByFake(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(waitTimeout))
		r := packets.NewReader(conn, 512)
		if _, _, err := r.ReadFrame(); err != nil {
			return
		}
		b, _ := (&packets.Connack{ReasonCode: packets.ConnRefusedIdentifier}).Encode(nil, packets.V311)
		conn.Write(b)
		r.ReadFrame() // until the client closes
	}()
	_, err = client.Dial(context.Background(), client.Options{Addr: l.Addr().String(), ClientID: "x"})
	var refused *client.ConnectError
	if !errors.As(err, &refused) || refused.Code != packets.ConnRefusedIdentifier {
		t.Fatalf("Dial = %v", err)
	}
	if got := err.Error(); got != "client: connection refused: Connection Refused: identifier rejected. (2)" {
		t.Errorf("Error() = %q", got)
	}
}
