package client

import (
	"fmt"
	"io"
)

// NotMQTTError is a server that answered CONNECT in another protocol: a
// WebSocket listener's HTTP, or a TLS listener's alert. It is reported
// from the first bytes, at once, instead of reading them as packets.
type NotMQTTError struct {
	// Protocol is "HTTP" or "TLS".
	Protocol string
}

func (e *NotMQTTError) Error() string {
	switch e.Protocol {
	case "HTTP":
		return "client: the server answered with HTTP: is this a WebSocket listener?"
	case "TLS":
		return "client: the server seems to speak TLS: is this a TLS listener?"
	}
	return "client: the server answered with " + e.Protocol
}

// firstReply reads a connection, checking the first byte the server sends:
// an MQTT server's first packet is CONNACK or AUTH.
type firstReply struct {
	r       io.Reader
	checked bool
}

func (f *firstReply) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if !f.checked && n > 0 {
		f.checked = true
		if err := sniffReply(p[0]); err != nil {
			return 0, err
		}
	}
	return n, err
}

// sniffReply names the protocol of a first byte that starts no packet a
// server sends before CONNACK.
func sniffReply(b byte) error {
	switch {
	case b == 0x20 || b == 0xF0: // CONNACK, AUTH
		return nil
	case b == 'H': // "HTTP/1.1 400 Bad Request"
		return &NotMQTTError{Protocol: "HTTP"}
	case b == 0x15 || b == 0x16: // a TLS alert or handshake record
		return &NotMQTTError{Protocol: "TLS"}
	}
	return fmt.Errorf("%w: first byte 0x%02X is not CONNACK", ErrProtocol, b)
}
