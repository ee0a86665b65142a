package packets

import "strconv"

// maxVarintBytes is the most bytes a Variable Byte Integer may take (3.1.1
// §2.2.3, 5.0 §1.5.5).
const maxVarintBytes = 4

// MaxPacketSize is the largest possible packet: a one-byte type and flags,
// a four-byte remaining length and MaxRemainingLength bytes.
const MaxPacketSize = 1 + maxVarintBytes + MaxRemainingLength

var typeNames = [...]string{
	TypeReserved:    "RESERVED",
	TypeConnect:     "CONNECT",
	TypeConnack:     "CONNACK",
	TypePublish:     "PUBLISH",
	TypePuback:      "PUBACK",
	TypePubrec:      "PUBREC",
	TypePubrel:      "PUBREL",
	TypePubcomp:     "PUBCOMP",
	TypeSubscribe:   "SUBSCRIBE",
	TypeSuback:      "SUBACK",
	TypeUnsubscribe: "UNSUBSCRIBE",
	TypeUnsuback:    "UNSUBACK",
	TypePingreq:     "PINGREQ",
	TypePingresp:    "PINGRESP",
	TypeDisconnect:  "DISCONNECT",
	TypeAuth:        "AUTH",
}

// String returns the packet type's name as the specification spells it
// ("PUBLISH"), or "Type(N)" for a value above 15.
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// VarintSize returns the number of bytes AppendVarint uses for v, which
// must lie between 0 and MaxRemainingLength.
func VarintSize(v int) int {
	switch {
	case v < 1<<7:
		return 1
	case v < 1<<14:
		return 2
	case v < 1<<21:
		return 3
	default:
		return 4
	}
}

// AppendVarint appends v as a Variable Byte Integer in its minimal form.
// v must lie between 0 and MaxRemainingLength; a larger value takes more
// than four bytes, which no MQTT peer accepts.
func AppendVarint(dst []byte, v int) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// decodeVarint reads a Variable Byte Integer from the start of b. It returns
// the value and the number of bytes used; n is 0 when b ends before the
// integer does. An integer longer than four bytes, or not in its minimal
// form [MQTT-1.5.5-1], is a malformed-packet error.
func decodeVarint(b []byte) (value, n int, err error) {
	shift := 0
	for i := 0; i < len(b); i++ {
		c := b[i]
		value |= int(c&0x7F) << shift
		if c&0x80 == 0 {
			if c == 0 && i > 0 {
				return 0, 0, malformed("[MQTT-1.5.5-1] variable byte integer not in its minimal form")
			}
			return value, i + 1, nil
		}
		if i == maxVarintBytes-1 {
			return 0, 0, malformed("variable byte integer longer than 4 bytes")
		}
		shift += 7
	}
	return 0, 0, nil
}

// SplitFrame splits one whole packet held in b into its fixed header and
// body; the body aliases b. Bytes missing or left over are an error, as is
// a malformed remaining length.
func SplitFrame(b []byte) (FixedHeader, []byte, error) {
	if len(b) < 2 {
		return FixedHeader{}, nil, malformed("packet shorter than a fixed header")
	}
	remaining, n, err := decodeVarint(b[1:])
	switch {
	case err != nil:
		return FixedHeader{}, nil, err
	case n == 0 || 1+n+remaining != len(b):
		return FixedHeader{}, nil, malformed("remaining length " + strconv.Itoa(remaining) + " does not match the " + strconv.Itoa(len(b)) + " bytes held")
	}
	return FixedHeader{Type: Type(b[0] >> 4), Flags: b[0] & 0x0F, Remaining: remaining}, b[1+n:], nil
}

// AppendFixedHeader appends the fixed header of a packet of type t with the
// given flag nibble and remaining length.
func AppendFixedHeader(dst []byte, t Type, flags byte, remaining int) []byte {
	dst = append(dst, byte(t)<<4|flags&0x0F)
	return AppendVarint(dst, remaining)
}

// fixedFlags returns the flag nibble the specification fixes for type t;
// PUBLISH has none.
func fixedFlags(t Type) byte {
	switch t {
	case TypePubrel, TypeSubscribe, TypeUnsubscribe:
		return 0b0010
	default:
		return 0
	}
}

// checkFlags rejects a reserved flag nibble that differs from the one the
// specification fixes for type t: [MQTT-2.2.2-1], [MQTT-2.2.2-2] in 3.1.1,
// [MQTT-2.1.3-1] in 5.0, and per type [MQTT-3.6.1-1] (PUBREL),
// [MQTT-3.8.1-1] (SUBSCRIBE), [MQTT-3.10.1-1] (UNSUBSCRIBE).
func checkFlags(t Type, flags byte) error {
	if flags != fixedFlags(t) {
		return malformed("[MQTT-2.2.2-2] invalid fixed header flags " + strconv.Itoa(int(flags)) + " on " + t.String())
	}
	return nil
}

// checkEmpty rejects a body that should have no bytes (PINGREQ, PINGRESP,
// and DISCONNECT before MQTT 5).
func checkEmpty(t Type, body []byte) error {
	if len(body) != 0 {
		return malformed(t.String() + " with remaining length " + strconv.Itoa(len(body)) + ", want 0")
	}
	return nil
}
