package listener

import (
	"crypto/tls"
	"io"
	"net"
)

// plainMQTTRefuser hands the HTTP server the connections of its listener,
// each answering a plain MQTT client at once: a CONNECT where an HTTP
// request should be gets 400 Bad Request saying what this port is, instead
// of the HTTP server's wait for a request line that never comes (until
// its header timeout). A TLS connection is handed over as it is: the HTTP
// server needs the *tls.Conn, and a plain client there fails its TLS
// handshake at once anyway.
type plainMQTTRefuser struct{ net.Listener }

func (l plainMQTTRefuser) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if _, ok := c.(*tls.Conn); ok {
		return c, nil
	}
	return &refusingConn{Conn: c}, nil
}

// notWebSocket is what a plain MQTT client gets from a WebSocket port.
const notWebSocket = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n" +
	"This port takes MQTT over WebSockets; plain MQTT clients connect to an MQTT port.\n"

// refusingConn checks the first byte read: 0x10 starts an MQTT CONNECT.
type refusingConn struct {
	net.Conn
	checked bool
}

func (c *refusingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if !c.checked && n > 0 {
		c.checked = true
		if p[0] == 0x10 {
			c.Conn.Write([]byte(notWebSocket))
			return 0, io.EOF
		}
	}
	return n, err
}
