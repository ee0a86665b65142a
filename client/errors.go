package client

import (
	"errors"
	"fmt"

	"github.com/midge-mqtt/midge/packets"
)

// Sentinel errors. Compare with errors.Is: the client wraps them with detail.
var (
	// ErrClosed is returned by calls made after Close or Disconnect, and is
	// what Err reports once the client itself ended the connection.
	ErrClosed = errors.New("client: connection closed")
	// ErrConnectionLost means the network connection failed or the server
	// closed it; the error that caused it is wrapped alongside.
	ErrConnectionLost = errors.New("client: connection lost")
	// ErrPingTimeout means no PINGRESP arrived within the keepalive after a
	// PINGREQ, so the client closed the connection.
	ErrPingTimeout = errors.New("client: no PINGRESP within the keepalive")
	// ErrProtocol means the server sent something the protocol does not
	// allow at that point, such as a second CONNACK or a SUBACK that does
	// not answer the SUBSCRIBE.
	ErrProtocol = errors.New("client: protocol violation by the server")
	// ErrNoPacketID means all 65535 packet identifiers are in use.
	ErrNoPacketID = errors.New("client: no packet identifier free")
	// ErrInvalidOptions means Options or a call's arguments are unusable.
	ErrInvalidOptions = errors.New("client: invalid options")
	// ErrPacketTooLarge means a packet would exceed the Maximum Packet Size
	// the MQTT 5 server announced in CONNACK; it was not sent
	// [MQTT-3.2.2-15].
	ErrPacketTooLarge = errors.New("client: packet larger than the server's Maximum Packet Size")
	// ErrQoSNotSupported means a PUBLISH asked for a QoS above the Maximum
	// QoS the MQTT 5 server announced; it was not sent [MQTT-3.2.2-11].
	ErrQoSNotSupported = errors.New("client: QoS above the server's Maximum QoS")
	// ErrRetainNotSupported means a PUBLISH asked for RETAIN from an MQTT 5
	// server that announced Retain Available 0; it was not sent
	// [MQTT-3.2.2-14].
	ErrRetainNotSupported = errors.New("client: the server does not support retained messages")
	// ErrAuthentication means the client side of an enhanced
	// authentication (Options.Auth) failed: the method returned an error,
	// or could not verify the server. The method's error is wrapped
	// alongside.
	ErrAuthentication = errors.New("client: enhanced authentication failed")
)

// ConnectError is returned by Dial when the server refuses the connection
// with a CONNACK whose return code (MQTT 3.1/3.1.1) or reason code (MQTT 5)
// is not success.
type ConnectError struct {
	// Code is the CONNACK return or reason code. mosquitto_pub and
	// mosquitto_sub exit with it, and so do midge pub and midge sub.
	Code packets.ReasonCode
	// Version is the protocol level of the refused CONNECT: it tells how
	// Code reads (3.1.1 return codes 1..5, or MQTT 5 reason codes).
	Version byte
	// Reason is the MQTT 5 Reason String property, if the server sent one.
	Reason string
}

// Error describes the refusal, e.g. "client: connection refused:
// Connection Refused: not authorised. (5)".
func (e *ConnectError) Error() string {
	s := fmt.Sprintf("client: connection refused: %s (%d)", ConnackString(e.Version, e.Code), byte(e.Code))
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// AckError is returned by Publish, Subscribe or Unsubscribe when an MQTT 5
// server answers with a failure reason code (0x80 or above).
type AckError struct {
	// Packet is the type of the acknowledgement that carried the code:
	// PUBACK, PUBREC, PUBCOMP, SUBACK or UNSUBACK.
	Packet packets.Type
	// PacketID is the packet identifier of the refused request.
	PacketID uint16
	// Code is the failure reason code.
	Code packets.ReasonCode
	// Reason is the Reason String property, if the server sent one.
	Reason string
}

// Error names the acknowledgement, the packet identifier and the code.
func (e *AckError) Error() string {
	s := fmt.Sprintf("client: %s for packet %d: reason 0x%02X", e.Packet.String(), e.PacketID, byte(e.Code))
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// DisconnectError is why the connection ended when the server sent
// DISCONNECT (MQTT 5; a 3.1.1 server has no DISCONNECT of its own). It
// wraps ErrConnectionLost.
type DisconnectError struct {
	// Code is the DISCONNECT reason code, e.g. packets.SessionTakenOver.
	Code packets.ReasonCode
	// Reason is the Reason String property, if the server sent one.
	Reason string
	// ServerReference is the Server Reference property, if any: another
	// server the client may use (with packets.UseAnotherServer or
	// packets.ServerMoved).
	ServerReference string
}

// Error names the code and the reason, e.g. "client: server sent
// DISCONNECT: Session taken over (0x8E)".
func (e *DisconnectError) Error() string {
	s := fmt.Sprintf("client: server sent DISCONNECT: %s (0x%02X)", e.Code.String(), byte(e.Code))
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// Unwrap returns ErrConnectionLost.
func (e *DisconnectError) Unwrap() error { return ErrConnectionLost }

// ConnackString describes a CONNACK code the way libmosquitto does
// (mosquitto_connack_string for MQTT 3.1/3.1.1, a reason description for
// MQTT 5), so tools built on this package print what users of mosquitto_pub
// expect.
func ConnackString(version byte, code packets.ReasonCode) string {
	if version == packets.V5 {
		return reasonString(code)
	}
	switch code {
	case packets.ConnAccepted:
		return "Connection Accepted."
	case packets.ConnRefusedVersion:
		return "Connection Refused: unacceptable protocol version."
	case packets.ConnRefusedIdentifier:
		return "Connection Refused: identifier rejected."
	case packets.ConnRefusedUnavailable:
		return "Connection Refused: broker unavailable."
	case packets.ConnRefusedBadCredentials:
		return "Connection Refused: bad user name or password."
	case packets.ConnRefusedNotAuthorized:
		return "Connection Refused: not authorised."
	}
	return "Connection Refused: unknown reason."
}

// reasonString is mosquitto_reason_string for the codes a CONNACK, PUBACK,
// PUBREC or PUBCOMP may carry.
func reasonString(code packets.ReasonCode) string {
	switch code {
	case packets.Success:
		return "Success"
	case packets.NoMatchingSubscribers:
		return "No matching subscribers"
	case packets.UnspecifiedError:
		return "Unspecified error"
	case packets.MalformedPacket:
		return "Malformed Packet"
	case packets.ProtocolError:
		return "Protocol Error"
	case packets.ImplementationError:
		return "Implementation specific error"
	case packets.UnsupportedProtocolVersion:
		return "Unsupported Protocol Version"
	case packets.ClientIDNotValid:
		return "Client Identifier not valid"
	case packets.BadUsernameOrPassword:
		return "Bad User Name or Password"
	case packets.NotAuthorized:
		return "Not authorized"
	case packets.ServerUnavailable:
		return "Server unavailable"
	case packets.ServerBusy:
		return "Server busy"
	case packets.Banned:
		return "Banned"
	case packets.BadAuthenticationMethod:
		return "Bad authentication method"
	case packets.TopicNameInvalid:
		return "Topic Name invalid"
	case packets.PacketIDInUse:
		return "Packet Identifier in use"
	case packets.PacketIDNotFound:
		return "Packet Identifier not found"
	case packets.PacketTooLarge:
		return "Packet too large"
	case packets.QuotaExceeded:
		return "Quota exceeded"
	case packets.PayloadFormatInvalid:
		return "Payload format invalid"
	case packets.RetainNotSupported:
		return "Retain not supported"
	case packets.QoSNotSupported:
		return "QoS not supported"
	case packets.UseAnotherServer:
		return "Use another server"
	case packets.ServerMoved:
		return "Server moved"
	case packets.ConnectionRateExceeded:
		return "Connection rate exceeded"
	}
	return "Unknown reason"
}
