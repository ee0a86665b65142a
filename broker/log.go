package broker

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/midge-mqtt/midge/packets"
)

// logTypeKey marks the Mosquitto log_type of a line its slog level cannot
// tell: "subscribe", "unsubscribe", "websockets", "information", or
// "connection" for the connect and disconnect lines that
// connection_messages false drops. midge's command line filters on it
// (internal/logging.TypeKey); mark Info lines, and leave Warn and Error
// lines unmarked.
const logTypeKey = "log_type"

// logConnection is the log_type of the connect and disconnect lines.
const logConnection = "connection"

// newConnectionLine is Mosquitto's line for an accepted connection, before
// anything is read from it: "New connection from 127.0.0.1:45076 on port
// 1883." A Unix socket's connection names the socket's path.
func newConnectionLine(nc net.Conn) string {
	switch a := nc.LocalAddr().(type) {
	case *net.TCPAddr:
		return fmt.Sprintf("New connection from %s on port %d.", nc.RemoteAddr(), a.Port)
	case *net.UnixAddr:
		return fmt.Sprintf("New connection on %s.", a.Name)
	}
	return fmt.Sprintf("New connection from %s.", nc.RemoteAddr())
}

// endLine words the end of a connection the way Mosquitto logs it, since
// people grep their logs for these lines: "Client ID disconnected.",
// "Client ID closed its connection.", "Client ID disconnected due to
// protocol error: WHY." A client that ends before it has an identifier is
// "<unknown>", as in Mosquitto.
func endLine(clientID string, err error) string {
	name := cmp.Or(clientID, "<unknown>")
	var (
		nm *badStart
		lr *loginRefused
		pe *packets.Error
		cr *closeReason
	)
	switch {
	case err == errNormalDisconnect:
		return fmt.Sprintf("Client %s disconnected.", name)
	case err == errKeepAlive || errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Sprintf("Client %s has exceeded timeout, disconnecting.", name)
	case err == errTakenOver || err == errTakenOverResumed:
		return fmt.Sprintf("Client %s already connected, closing old connection.", name)
	case errors.As(err, &nm):
		return fmt.Sprintf("Client %s disconnected: %s", name, nm.why)
	case errors.As(err, &lr):
		return lr.line(name)
	case closedByPeer(err):
		return fmt.Sprintf("Client %s closed its connection.", name)
	case errors.As(err, &pe):
		return fmt.Sprintf("Client %s disconnected%s: %s.", name, codeWords(pe.Code), pe.Msg)
	case errors.As(err, &cr):
		return fmt.Sprintf("Client %s disconnected%s: %s.", name, codeWords(cr.code), cr.msg)
	}
	return fmt.Sprintf("Client %s disconnected: %s.", name, strings.TrimSuffix(err.Error(), "."))
}

// closedByPeer reports whether err is the client going away: the
// connection closed or reset by its side.
func closedByPeer(err error) bool {
	var cr *closeReason
	if errors.As(err, &cr) && cr == errClosedByClient {
		return true
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed)
}

// codeWords is Mosquitto's wording for the kinds of bad input that end a
// connection.
func codeWords(code packets.ReasonCode) string {
	switch code {
	case packets.MalformedPacket:
		return " due to malformed packet"
	case packets.ProtocolError:
		return " due to protocol error"
	case packets.PacketTooLarge:
		return " due to oversize packet"
	}
	return ""
}
