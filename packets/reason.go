package packets

import (
	"fmt"
	"strings"
)

// ReasonCode is an MQTT 5 reason code, or a 3.1.1 CONNACK return code or
// SUBACK return code (which share the low values).
type ReasonCode byte

// MQTT 5 reason codes.
const (
	Success                    ReasonCode = 0x00 // also Normal disconnection, Granted QoS 0
	GrantedQoS1                ReasonCode = 0x01
	GrantedQoS2                ReasonCode = 0x02
	DisconnectWithWill         ReasonCode = 0x04
	NoMatchingSubscribers      ReasonCode = 0x10
	NoSubscriptionExisted      ReasonCode = 0x11
	ContinueAuthentication     ReasonCode = 0x18
	ReAuthenticate             ReasonCode = 0x19
	UnspecifiedError           ReasonCode = 0x80
	MalformedPacket            ReasonCode = 0x81
	ProtocolError              ReasonCode = 0x82
	ImplementationError        ReasonCode = 0x83
	UnsupportedProtocolVersion ReasonCode = 0x84
	ClientIDNotValid           ReasonCode = 0x85
	BadUsernameOrPassword      ReasonCode = 0x86
	NotAuthorized              ReasonCode = 0x87
	ServerUnavailable          ReasonCode = 0x88
	ServerBusy                 ReasonCode = 0x89
	Banned                     ReasonCode = 0x8A
	ServerShuttingDown         ReasonCode = 0x8B
	BadAuthenticationMethod    ReasonCode = 0x8C
	KeepAliveTimeout           ReasonCode = 0x8D
	SessionTakenOver           ReasonCode = 0x8E
	TopicFilterInvalid         ReasonCode = 0x8F
	TopicNameInvalid           ReasonCode = 0x90
	PacketIDInUse              ReasonCode = 0x91
	PacketIDNotFound           ReasonCode = 0x92
	ReceiveMaximumExceeded     ReasonCode = 0x93
	TopicAliasInvalid          ReasonCode = 0x94
	PacketTooLarge             ReasonCode = 0x95
	MessageRateTooHigh         ReasonCode = 0x96
	QuotaExceeded              ReasonCode = 0x97
	AdministrativeAction       ReasonCode = 0x98
	PayloadFormatInvalid       ReasonCode = 0x99
	RetainNotSupported         ReasonCode = 0x9A
	QoSNotSupported            ReasonCode = 0x9B
	UseAnotherServer           ReasonCode = 0x9C
	ServerMoved                ReasonCode = 0x9D
	SharedSubNotSupported      ReasonCode = 0x9E
	ConnectionRateExceeded     ReasonCode = 0x9F
	MaximumConnectTime         ReasonCode = 0xA0
	SubIDsNotSupported         ReasonCode = 0xA1
	WildcardSubsNotSupported   ReasonCode = 0xA2
)

// MQTT 3.1 and 3.1.1 CONNACK return codes.
const (
	ConnAccepted              ReasonCode = 0x00
	ConnRefusedVersion        ReasonCode = 0x01
	ConnRefusedIdentifier     ReasonCode = 0x02
	ConnRefusedUnavailable    ReasonCode = 0x03
	ConnRefusedBadCredentials ReasonCode = 0x04
	ConnRefusedNotAuthorized  ReasonCode = 0x05
	SubackFailure             ReasonCode = 0x80 // 3.1.1 SUBACK failure
)

// IsError reports whether the code signals failure (0x80 and above).
func (c ReasonCode) IsError() bool { return c >= 0x80 }

// Error is a decoding or protocol failure. Code is the MQTT 5 reason code
// a server sends in DISCONNECT or CONNACK before closing the connection.
type Error struct {
	Code ReasonCode
	Msg  string
}

// Error returns the message with the reason code, prefixed "packets: ".
func (e *Error) Error() string {
	return fmt.Sprintf("packets: %s (reason 0x%02X)", e.Msg, byte(e.Code))
}

// Is lets errors.Is match two Errors with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && (t.Msg == "" || t.Msg == e.Msg)
}

// Sentinel errors for errors.Is: ErrMalformed matches any *Error whose Code is
// MalformedPacket, ErrProtocol any with ProtocolError, ErrTooLarge any with
// PacketTooLarge, and ErrUnsupportedVersion any with
// UnsupportedProtocolVersion.
var (
	ErrMalformed          = &Error{Code: MalformedPacket}
	ErrProtocol           = &Error{Code: ProtocolError}
	ErrTooLarge           = &Error{Code: PacketTooLarge}
	ErrUnsupportedVersion = &Error{Code: UnsupportedProtocolVersion}
)

func malformed(msg string) error   { return &Error{Code: MalformedPacket, Msg: msg} }
func protocolErr(msg string) error { return &Error{Code: ProtocolError, Msg: msg} }

// encodeErr reports a value Encode cannot put on the wire; a peer would
// find the packet malformed.
func encodeErr(msg string) error { return &Error{Code: MalformedPacket, Msg: "encode: " + msg} }

// Reason codes each packet type may carry (5.0 §2.4 and the tables of
// §3.2.2.2, §3.4.2.1, §3.5.2.1, §3.6.2.1, §3.7.2.1, §3.9.3, §3.11.3,
// §3.14.2.1, §3.15.2.1), and the 3.1.1 return codes.
const (
	connackCodes    = "\x00\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8A\x8C\x90\x95\x97\x99\x9A\x9B\x9C\x9D\x9F"
	connackCodesV3  = "\x00\x01\x02\x03\x04\x05"
	pubackCodes     = "\x00\x10\x80\x83\x87\x90\x91\x97\x99" // PUBACK and PUBREC
	pubrelCodes     = "\x00\x92"                             // PUBREL and PUBCOMP
	subackCodes     = "\x00\x01\x02\x80\x83\x87\x8F\x91\x97\x9E\xA1\xA2"
	subackCodesV3   = "\x00\x01\x02\x80"
	unsubackCodes   = "\x00\x11\x80\x83\x87\x8F\x91"
	disconnectCodes = "\x00\x04\x80\x81\x82\x83\x87\x89\x8B\x8D\x8E\x8F\x90\x93\x94\x95\x96\x97\x98\x99\x9A\x9B\x9C\x9D\x9E\x9F\xA0\xA1\xA2"
	authCodes       = "\x00\x18\x19"
)

// checkReason rejects a reason code that is not in the list allowed for
// packet type t: a protocol error.
func checkReason(t Type, allowed string, c ReasonCode) error {
	if strings.IndexByte(allowed, byte(c)) < 0 {
		return protocolErr(fmt.Sprintf("reason code 0x%02X not allowed in %v", byte(c), t))
	}
	return nil
}

// reasonNames holds the MQTT 5 names of the reason codes.
var reasonNames = [...]string{
	Success:                    "Success",
	GrantedQoS1:                "Granted QoS 1",
	GrantedQoS2:                "Granted QoS 2",
	DisconnectWithWill:         "Disconnect with Will Message",
	NoMatchingSubscribers:      "No matching subscribers",
	NoSubscriptionExisted:      "No subscription existed",
	ContinueAuthentication:     "Continue authentication",
	ReAuthenticate:             "Re-authenticate",
	UnspecifiedError:           "Unspecified error",
	MalformedPacket:            "Malformed Packet",
	ProtocolError:              "Protocol Error",
	ImplementationError:        "Implementation specific error",
	UnsupportedProtocolVersion: "Unsupported Protocol Version",
	ClientIDNotValid:           "Client Identifier not valid",
	BadUsernameOrPassword:      "Bad User Name or Password",
	NotAuthorized:              "Not authorized",
	ServerUnavailable:          "Server unavailable",
	ServerBusy:                 "Server busy",
	Banned:                     "Banned",
	ServerShuttingDown:         "Server shutting down",
	BadAuthenticationMethod:    "Bad authentication method",
	KeepAliveTimeout:           "Keep Alive timeout",
	SessionTakenOver:           "Session taken over",
	TopicFilterInvalid:         "Topic Filter invalid",
	TopicNameInvalid:           "Topic Name invalid",
	PacketIDInUse:              "Packet Identifier in use",
	PacketIDNotFound:           "Packet Identifier not found",
	ReceiveMaximumExceeded:     "Receive Maximum exceeded",
	TopicAliasInvalid:          "Topic Alias invalid",
	PacketTooLarge:             "Packet too large",
	MessageRateTooHigh:         "Message rate too high",
	QuotaExceeded:              "Quota exceeded",
	AdministrativeAction:       "Administrative action",
	PayloadFormatInvalid:       "Payload format invalid",
	RetainNotSupported:         "Retain not supported",
	QoSNotSupported:            "QoS not supported",
	UseAnotherServer:           "Use another server",
	ServerMoved:                "Server moved",
	SharedSubNotSupported:      "Shared Subscriptions not supported",
	ConnectionRateExceeded:     "Connection rate exceeded",
	MaximumConnectTime:         "Maximum connect time",
	SubIDsNotSupported:         "Subscription Identifiers not supported",
	WildcardSubsNotSupported:   "Wildcard Subscriptions not supported",
}

// String returns the MQTT 5 name of the code ("Malformed Packet"), or its
// value in hex when it has none. The 3.1.1 return codes 3 to 5 share values
// with no MQTT 5 name and print in hex.
func (c ReasonCode) String() string {
	if int(c) < len(reasonNames) && reasonNames[c] != "" {
		return reasonNames[c]
	}
	return fmt.Sprintf("ReasonCode(0x%02X)", byte(c))
}
