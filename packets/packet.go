// Package packets is the MQTT 3.1, 3.1.1 and 5.0 wire format: one type per
// control packet, MQTT 5 properties and reason codes, and a Reader that frames
// packets from a byte stream without reserving memory for bytes that have not
// arrived. It uses the standard library only.
package packets

// Protocol levels as carried in CONNECT.
const (
	V31  byte = 3 // MQTT 3.1, protocol name "MQIsdp"
	V311 byte = 4 // MQTT 3.1.1, protocol name "MQTT"
	V5   byte = 5 // MQTT 5.0, protocol name "MQTT"
)

// Type is the control packet type, the high nibble of the first byte.
type Type byte

// Control packet types.
const (
	TypeReserved Type = iota
	TypeConnect
	TypeConnack
	TypePublish
	TypePuback
	TypePubrec
	TypePubrel
	TypePubcomp
	TypeSubscribe
	TypeSuback
	TypeUnsubscribe
	TypeUnsuback
	TypePingreq
	TypePingresp
	TypeDisconnect
	TypeAuth
)

// MaxRemainingLength is the largest remaining length a variable byte integer
// can carry (268,435,455).
const MaxRemainingLength = 268435455

// Packet is a decoded control packet.
type Packet interface {
	// Type reports the control packet type.
	Type() Type
	// Encode appends the whole packet, fixed header included, to dst in the
	// form of protocol level version and returns the extended slice.
	Encode(dst []byte, version byte) ([]byte, error)
}

// FixedHeader is the first part of every packet.
type FixedHeader struct {
	Type      Type
	Flags     byte // low nibble of the first byte
	Remaining int  // remaining length: bytes that follow the fixed header
}
