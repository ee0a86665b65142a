package interop

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

// Raw MQTT packets built by hand, for the cases paho cannot express: a client
// that goes silent, a will followed by a socket close, a CONNACK's return code.
// The packets package is not used on purpose: these tests check the broker
// against bytes written from the specification, not against our own codec.

// Fixed header first bytes (packet type << 4 | flags).
const (
	typeConnack  = 0x20
	typePingreq  = 0xC0
	typePingresp = 0xD0
	typeDisconn  = 0xE0
)

// CONNACK return codes (MQTT 3.1.1 table 3.1).
const (
	connackAccepted           = 0x00
	connackIdentifierRejected = 0x02
)

// rawConnect describes a CONNECT packet. A will is included when willTopic
// is not empty.
type rawConnect struct {
	level       uint // 4 (MQTT 3.1.1, "MQTT") or 3 (MQTT 3.1, "MQIsdp")
	clientID    string
	clean       bool
	keepAlive   uint16 // seconds; 0 turns keepalive off
	willTopic   string
	willPayload string
	willQoS     byte
	willRetain  bool
}

// encode returns the CONNECT packet's bytes.
func (c rawConnect) encode() []byte {
	var body []byte
	name := "MQTT"
	if c.level == 3 {
		name = "MQIsdp"
	}
	body = appendString(body, name)
	body = append(body, byte(c.level))
	var flags byte
	if c.clean {
		flags |= 0x02
	}
	if c.willTopic != "" {
		flags |= 0x04 | c.willQoS<<3
		if c.willRetain {
			flags |= 0x20
		}
	}
	body = append(body, flags)
	body = binary.BigEndian.AppendUint16(body, c.keepAlive)
	body = appendString(body, c.clientID)
	if c.willTopic != "" {
		body = appendString(body, c.willTopic)
		body = appendString(body, c.willPayload)
	}
	return appendPacket(nil, 0x10, body)
}

// appendString appends an MQTT UTF-8 string: a two-byte length, then the bytes.
func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// appendPacket appends a fixed header (first byte, variable length remaining
// length) and body.
func appendPacket(b []byte, first byte, body []byte) []byte {
	b = append(b, first)
	n := len(body)
	for {
		digit := byte(n % 128)
		n /= 128
		if n > 0 {
			digit |= 0x80
		}
		b = append(b, digit)
		if n == 0 {
			break
		}
	}
	return append(b, body...)
}

// rawConn is a hand-driven MQTT connection, used only from the test goroutine.
type rawConn struct {
	conn   net.Conn
	reader *bufio.Reader
}

// dialRaw opens a TCP connection to the broker; it is closed when the test ends.
func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, waitTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawConn{conn: conn, reader: bufio.NewReader(conn)}
}

// write sends b, failing the test if it cannot within waitTimeout.
func (c *rawConn) write(t *testing.T, b []byte) {
	t.Helper()
	if err := c.conn.SetWriteDeadline(time.Now().Add(waitTimeout)); err != nil {
		t.Fatalf("set write deadline: %v", err)
	}
	if _, err := c.conn.Write(b); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// readPacket reads one whole packet and returns its first byte and body.
func (c *rawConn) readPacket(deadline time.Time) (first byte, body []byte, err error) {
	if err := c.conn.SetReadDeadline(deadline); err != nil {
		return 0, nil, err
	}
	first, err = c.reader.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	length, multiplier := 0, 1
	for i := 0; ; i++ {
		if i == 4 {
			return 0, nil, errors.New("malformed remaining length")
		}
		digit, err := c.reader.ReadByte()
		if err != nil {
			return 0, nil, err
		}
		length += int(digit&0x7F) * multiplier
		multiplier *= 128
		if digit&0x80 == 0 {
			break
		}
	}
	body = make([]byte, length)
	if _, err := io.ReadFull(c.reader, body); err != nil {
		return 0, nil, err
	}
	return first, body, nil
}

// expectPacket reads one packet and fails the test unless its first byte is
// first; it returns the body.
func (c *rawConn) expectPacket(t *testing.T, first byte, what string) []byte {
	t.Helper()
	got, body, err := c.readPacket(time.Now().Add(waitTimeout))
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
	if got != first {
		t.Fatalf("waiting for %s: got packet 0x%02X % X", what, got, body)
	}
	return body
}

// connect sends a CONNECT and returns the CONNACK's session-present flag and
// return code.
func (c *rawConn) connect(t *testing.T, p rawConnect) (sessionPresent bool, returnCode byte) {
	t.Helper()
	c.write(t, p.encode())
	body := c.expectPacket(t, typeConnack, "CONNACK")
	if len(body) != 2 {
		t.Fatalf("CONNACK body % X: want 2 bytes", body)
	}
	return body[0]&0x01 != 0, body[1]
}

// connectRaw dials the broker, sends p and fails the test unless the
// connection is accepted.
func connectRaw(t *testing.T, addr string, p rawConnect) *rawConn {
	t.Helper()
	c := dialRaw(t, addr)
	if _, code := c.connect(t, p); code != connackAccepted {
		t.Fatalf("CONNECT %+v: return code %d", p, code)
	}
	return c
}

// waitClosed reads until the broker closes the connection and returns how
// long that took, or an error when it is still open at the deadline or sends
// something other than a close.
func (c *rawConn) waitClosed(deadline time.Time) (time.Duration, error) {
	start := time.Now()
	first, body, err := c.readPacket(deadline)
	if err == nil {
		return 0, fmt.Errorf("got packet 0x%02X % X while waiting for the close", first, body)
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return 0, fmt.Errorf("still open after %v", time.Since(start).Round(time.Millisecond))
	}
	return time.Since(start), nil // EOF or reset: closed by the broker
}

// closeWrite half-closes the connection: the broker reads EOF after what was
// sent, and the socket can still read.
func (c *rawConn) closeWrite(t *testing.T) {
	t.Helper()
	tcp, ok := c.conn.(*net.TCPConn)
	if !ok {
		t.Fatalf("closeWrite: %T is not a TCP connection", c.conn)
	}
	if err := tcp.CloseWrite(); err != nil {
		t.Fatalf("closeWrite: %v", err)
	}
}
