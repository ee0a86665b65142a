package broker

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/midge-mqtt/midge/packets"
)

// closeReason is why the broker ends a connection. Code is the MQTT 5
// reason code sent in DISCONNECT where the protocol allows one; will says
// whether the connection's will is published.
type closeReason struct {
	msg  string
	code packets.ReasonCode
	will bool
}

func (r *closeReason) Error() string { return "broker: " + r.msg }

// Reasons a connection ends, other than errors decoding its packets.
var (
	errNormalDisconnect   = &closeReason{msg: "client disconnected", code: packets.Success}
	errClosedByClient     = &closeReason{msg: "connection closed by client", code: packets.UnspecifiedError, will: true}
	errDisconnectWithWill = &closeReason{msg: "client disconnected with will", code: packets.Success, will: true}
	errShuttingDown       = &closeReason{msg: "server shutting down", code: packets.ServerShuttingDown, will: true}
	errTakenOver          = &closeReason{msg: "session taken over", code: packets.SessionTakenOver, will: true}
	errKeepAlive          = &closeReason{msg: "keep alive timeout", code: packets.KeepAliveTimeout, will: true}
	errSecondConnect      = &closeReason{msg: "second CONNECT [MQTT-3.1.0-2]", code: packets.ProtocolError, will: true}
	errServerPacket       = &closeReason{msg: "client sent a packet only a server sends", code: packets.ProtocolError, will: true}
	errWrongAckQoS        = &closeReason{msg: "acknowledgement out of step with the delivery (wrong QoS, or PUBCOMP before PUBREC)", code: packets.ProtocolError, will: true}
	errExpiryAfterZero    = &closeReason{msg: "DISCONNECT sets a session expiry on a session opened with none [MQTT-3.14.2-2]", code: packets.ProtocolError, will: true}
	errReceiveMaximum     = &closeReason{msg: "more QoS 2 messages awaiting PUBREL than the receive maximum", code: packets.ReceiveMaximumExceeded, will: true}
	errTopicAliasInvalid  = &closeReason{msg: "topic alias 0 or above the topic alias maximum", code: packets.TopicAliasInvalid, will: true}
	errPublishSubID       = &closeReason{msg: "PUBLISH from a client with a subscription identifier [MQTT-3.3.4-6]", code: packets.ProtocolError, will: true}
	errTopicAliasUnknown  = &closeReason{msg: "PUBLISH with an empty topic and a topic alias never defined", code: packets.ProtocolError, will: true}
	errReauthFailed       = &closeReason{msg: "re-authentication failed", code: packets.NotAuthorized, will: true}
	errQoSNotSupported    = &closeReason{msg: "PUBLISH above the listener's max_qos", code: packets.QoSNotSupported, will: true}
	errRetainNotSupported = &closeReason{msg: "retained PUBLISH while retain_available is false", code: packets.RetainNotSupported, will: true}
	errMemoryLimit        = &closeReason{msg: "broker memory limit reached; message dropped", code: packets.QuotaExceeded, will: true}
)

var errTooManyFiles = syscall.EMFILE

// protocolReason maps an error that ended a connection to the MQTT 5
// DISCONNECT reason code and whether the will is published.
func protocolReason(err error) (packets.ReasonCode, bool) {
	var cr *closeReason
	if errors.As(err, &cr) {
		return cr.code, cr.will
	}
	var pe *packets.Error
	if errors.As(err, &pe) {
		return pe.Code, true
	}
	return packets.UnspecifiedError, true
}

// badStart is a connection that failed before its CONNECT: another
// protocol's bytes, where the line says which and what the user probably
// did wrong, or a failed TLS handshake. why is a whole sentence.
type badStart struct{ why string }

func (e *badStart) Error() string { return e.why }

// sniff names the protocol of a connection's first byte when it is not
// MQTT's CONNECT.
func sniff(first byte) error {
	switch {
	case first == 0x16: // a TLS handshake record: ClientHello
		return &badStart{"looks like TLS: is this a TLS client on a plain port?"}
	case startsHTTP(first):
		return &badStart{"looks like HTTP: is this a WebSocket or web client on a plain MQTT port?"}
	}
	return &packets.Error{Code: packets.ProtocolError,
		Msg: fmt.Sprintf("first packet is not CONNECT (byte 0x%02X) [MQTT-3.1.0-1]", first)}
}

// startsHTTP reports whether b can start an HTTP request: GET, POST, PUT,
// HEAD, OPTIONS, DELETE.
func startsHTTP(b byte) bool {
	return b == 'G' || b == 'P' || b == 'H' || b == 'O' || b == 'D'
}

// tlsFailure is the reason of a failed TLS handshake, naming a client that
// speaks plain MQTT or HTTP to a TLS listener.
func tlsFailure(err error) error {
	var rh tls.RecordHeaderError
	if errors.As(err, &rh) {
		switch first := rh.RecordHeader[0]; {
		case first == firstByte:
			return &badStart{"looks like MQTT without TLS: is this a plain MQTT client on a TLS port?"}
		case startsHTTP(first):
			return &badStart{"looks like HTTP without TLS: is this a plain HTTP or WebSocket client on a TLS port?"}
		}
	}
	return &badStart{"TLS handshake failed: " + err.Error() + "."}
}

// loginRefused is a CONNECT refused for who the client is: its user name,
// password, certificate or authentication exchange. The line reads as
// Mosquitto's, "Client ID disconnected, not authorised.", with the reason
// when there is more to say than that.
type loginRefused struct {
	user string // connectingUser's words, for bad credentials
	err  error
}

func (e *loginRefused) Error() string { return "not authorised: " + e.err.Error() }
func (e *loginRefused) Unwrap() error { return e.err }

func (e *loginRefused) line(name string) string {
	switch {
	case errors.Is(e.err, ErrNotAuthorized):
		return fmt.Sprintf("Client %s disconnected, not authorised.", name)
	case errors.Is(e.err, ErrBadCredentials):
		return fmt.Sprintf("Client %s disconnected, not authorised: bad user name or password%s.", name, e.user)
	}
	return fmt.Sprintf("Client %s disconnected, not authorised: %s.", name, strings.TrimSuffix(e.err.Error(), "."))
}
