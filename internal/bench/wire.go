package bench

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/midge-mqtt/midge/packets"
)

// Target says where the generator's clients connect and how.
type Target struct {
	Addr      string      // host:port of the broker
	Version   byte        // packets.V31, V311 (the default) or V5
	TLS       *tls.Config // nil for plain TCP
	KeepAlive time.Duration
	Username  string // sent when not empty
	Password  string // sent when not empty
	// ClientPrefix starts every client identifier; a random one when empty.
	ClientPrefix string
	// ConnectTimeout bounds dialling and the CONNECT/CONNACK exchange of
	// one client. Default 10 seconds.
	ConnectTimeout time.Duration
	// Persistent makes every client keep its session: clean session off
	// (MQTT 5: a session expiry of one hour), for brokers that persist
	// sessions.
	Persistent bool
}

func (t Target) version() byte {
	if t.Version == 0 {
		return packets.V311
	}
	return t.Version
}

func (t Target) connectTimeout() time.Duration {
	if t.ConnectTimeout <= 0 {
		return 10 * time.Second
	}
	return t.ConnectTimeout
}

// clientID returns the identifier of client index i in role ("p", "s",
// "c", "r"): short enough for MQTT 3.1's 23 bytes with the default prefix.
func (t Target) clientID(role string, i int) string {
	return fmt.Sprintf("%s%s%d", t.ClientPrefix, role, i)
}

// rawConn is one benchmark client's connection: the socket, a frame reader
// that stamps the arrival time of every read, and the CONNACK's limits.
// Writes may come from two goroutines (a publisher's writer and its
// acknowledgement reader); net.Conn and tls.Conn keep each Write whole.
type rawConn struct {
	nc         net.Conn
	version    byte
	stamp      *stampReader
	reader     *packets.Reader
	receiveMax int // the broker's Receive Maximum (MQTT 5), 65535 before
	lastWrite  atomic.Int64
}

// stampReader remembers when its last read returned, so frames can be
// timed by their arrival rather than by when they were handled.
type stampReader struct {
	src io.Reader
	at  int64 // Unix nanoseconds
}

func (s *stampReader) Read(p []byte) (int, error) {
	n, err := s.src.Read(p)
	s.at = time.Now().UnixNano()
	return n, err
}

// write writes b whole and notes the time for the keep-alive pinger.
func (c *rawConn) write(b []byte) error {
	_, err := c.nc.Write(b)
	c.lastWrite.Store(time.Now().UnixNano())
	return err
}

// close sends DISCONNECT, best effort, and closes the socket.
func (c *rawConn) close() {
	c.nc.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	c.nc.Write([]byte{byte(packets.TypeDisconnect) << 4, 0})
	c.nc.Close()
}

// dialOptions are the per-client parts of a dial.
type dialOptions struct {
	clientID string
	local    net.Addr // source address, nil for the system's choice
	readBuf  int      // size of the frame reader's buffer
}

// dial connects one client: TCP (and TLS), CONNECT with a clean session,
// and a successful CONNACK.
func dial(ctx context.Context, t Target, o dialOptions) (*rawConn, error) {
	ctx, cancel := context.WithTimeout(ctx, t.connectTimeout())
	defer cancel()
	d := net.Dialer{LocalAddr: o.local, Control: dialControl}
	nc, err := d.DialContext(ctx, "tcp", t.Addr)
	if err != nil {
		return nil, err
	}
	if t.TLS != nil {
		tc := tls.Client(nc, t.TLS)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("bench: TLS handshake: %w", err)
		}
		nc = tc
	}
	c := &rawConn{nc: nc, version: t.version(), receiveMax: 65535}
	c.stamp = &stampReader{src: nc}
	c.reader = packets.NewReader(c.stamp, o.readBuf)
	if deadline, ok := ctx.Deadline(); ok {
		nc.SetDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	err = c.handshake(t, o.clientID)
	stop()
	if err != nil {
		nc.Close()
		return nil, err
	}
	nc.SetDeadline(time.Time{})
	return c, nil
}

// handshake sends CONNECT and reads CONNACK.
func (c *rawConn) handshake(t Target, clientID string) error {
	connect := packets.Connect{
		Version:    c.version,
		CleanStart: !t.Persistent,
		KeepAlive:  uint16(min(t.KeepAlive/time.Second, 65535)),
		ClientID:   clientID,
		Username:   t.Username,
		Password:   []byte(t.Password),
	}
	if t.Persistent && c.version == packets.V5 {
		connect.Properties.SessionExpiry = 3600
		connect.Properties.Set(packets.PropSessionExpiry)
	}
	buf, err := connect.Encode(nil, c.version)
	if err != nil {
		return err
	}
	if err := c.write(buf); err != nil {
		return err
	}
	h, body, err := c.reader.ReadFrame()
	if err != nil {
		return fmt.Errorf("bench: waiting for CONNACK: %w", err)
	}
	if h.Type != packets.TypeConnack {
		return fmt.Errorf("bench: got %v instead of CONNACK", h.Type)
	}
	var ack packets.Connack
	if err := ack.Decode(h.Flags, body, c.version); err != nil {
		return err
	}
	if ack.ReasonCode != packets.Success {
		return &RefusedError{Code: ack.ReasonCode}
	}
	if ack.Properties.Has(packets.PropReceiveMaximum) {
		c.receiveMax = int(ack.Properties.ReceiveMaximum)
	}
	return nil
}

// RefusedError is a CONNACK that refused a benchmark client.
type RefusedError struct {
	Code packets.ReasonCode
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("bench: connection refused: %v (0x%02X)", e.Code, byte(e.Code))
}

// subscribe sends SUBSCRIBE for filter and waits for a SUBACK granting it.
func (c *rawConn) subscribe(filter string, qos byte, timeout time.Duration) error {
	sub := packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: filter, QoS: qos}}}
	buf, err := sub.Encode(nil, c.version)
	if err != nil {
		return err
	}
	c.nc.SetDeadline(time.Now().Add(timeout))
	defer c.nc.SetDeadline(time.Time{})
	if err := c.write(buf); err != nil {
		return err
	}
	for {
		h, body, err := c.reader.ReadFrame()
		if err != nil {
			return fmt.Errorf("bench: waiting for SUBACK: %w", err)
		}
		if h.Type != packets.TypeSuback {
			// A retained message may come first; benchmark topics should
			// have none, so it is simply skipped.
			continue
		}
		var ack packets.Suback
		if err := ack.Decode(h.Flags, body, c.version); err != nil {
			return err
		}
		if len(ack.ReasonCodes) != 1 || ack.ReasonCodes[0].IsError() {
			return fmt.Errorf("bench: subscription to %q refused: %v", filter, ack.ReasonCodes)
		}
		return nil
	}
}

// errBadPublish is a PUBLISH too short for its own fields.
var errBadPublish = errors.New("bench: malformed PUBLISH")

// parsePublish returns the packet identifier and payload of a PUBLISH body
// without allocating, which packets.Publish.Decode cannot promise when the
// topic changes from one message to the next (it copies the topic). The
// broker is trusted for the rest; the generator only needs these two.
func parsePublish(flags byte, body []byte, version byte) (id uint16, payload []byte, err error) {
	if len(body) < 2 {
		return 0, nil, errBadPublish
	}
	pos := 2 + int(binary.BigEndian.Uint16(body))
	if flags&0b0110 != 0 {
		if len(body) < pos+2 {
			return 0, nil, errBadPublish
		}
		id = binary.BigEndian.Uint16(body[pos:])
		pos += 2
	}
	if version >= packets.V5 {
		n, size := 0, 0
		for shift := 0; ; shift += 7 {
			if pos >= len(body) || shift > 21 {
				return 0, nil, errBadPublish
			}
			b := body[pos]
			pos++
			n |= int(b&0x7F) << shift
			if b&0x80 == 0 {
				break
			}
		}
		size = n
		pos += size
	}
	if pos > len(body) {
		return 0, nil, errBadPublish
	}
	return id, body[pos:], nil
}

// appendAck appends PUBACK, PUBREC, PUBREL or PUBCOMP for id.
func appendAck(dst []byte, kind packets.Type, id uint16, version byte) []byte {
	ack := packets.Ack{Kind: kind, PacketID: id}
	out, err := ack.Encode(dst, version)
	if err != nil { // only for a kind that is not an acknowledgement
		panic(err)
	}
	return out
}

// expand replaces %i in pattern with index i.
func expand(pattern string, i int) string {
	if !strings.Contains(pattern, "%i") {
		return pattern
	}
	return strings.ReplaceAll(pattern, "%i", fmt.Sprint(i))
}

// isLoopback reports whether addr's host is a loopback IP address or
// "localhost".
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
