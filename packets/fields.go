package packets

import (
	"encoding/binary"
	"strconv"
)

// maxFieldLength is the longest string or binary field: its length is a
// two-byte integer.
const maxFieldLength = 0xFFFF

// decoder reads the fields of one packet body in order. It lives on the
// caller's stack; every method reports a truncated field as a malformed
// packet, naming the field.
type decoder struct {
	buf []byte
	pos int
}

// remaining returns the number of unread bytes.
func (d *decoder) remaining() int { return len(d.buf) - d.pos }

// truncated returns the error for a field that runs past the end of the body.
func truncated(field string) error {
	return malformed("truncated packet: " + field + " runs past the remaining length")
}

// end rejects unread bytes after the last field of a packet whose end the
// specification defines.
func (d *decoder) end(t Type) error {
	if n := d.remaining(); n != 0 {
		return malformed(strconv.Itoa(n) + " unexpected bytes after the end of " + t.String())
	}
	return nil
}

func (d *decoder) readByte(field string) (byte, error) {
	if d.remaining() < 1 {
		return 0, truncated(field)
	}
	c := d.buf[d.pos]
	d.pos++
	return c, nil
}

func (d *decoder) readUint16(field string) (uint16, error) {
	if d.remaining() < 2 {
		return 0, truncated(field)
	}
	v := binary.BigEndian.Uint16(d.buf[d.pos:])
	d.pos += 2
	return v, nil
}

func (d *decoder) readUint32(field string) (uint32, error) {
	if d.remaining() < 4 {
		return 0, truncated(field)
	}
	v := binary.BigEndian.Uint32(d.buf[d.pos:])
	d.pos += 4
	return v, nil
}

func (d *decoder) readVarint(field string) (int, error) {
	v, n, err := decodeVarint(d.buf[d.pos:])
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, truncated(field)
	}
	d.pos += n
	return v, nil
}

// readPacketID reads a packet identifier, which must not be 0
// [MQTT-2.3.1-1] (5.0: [MQTT-2.2.1-3]).
func (d *decoder) readPacketID() (uint16, error) {
	id, err := d.readUint16("packet identifier")
	if err == nil && id == 0 {
		return 0, protocolErr("[MQTT-2.3.1-1] packet identifier 0")
	}
	return id, err
}

// readBinary reads two-byte length-prefixed bytes. The result aliases the
// body; it is nil when the length is 0.
func (d *decoder) readBinary(field string) ([]byte, error) {
	if d.remaining() < 2 {
		return nil, truncated(field + " length")
	}
	n := int(binary.BigEndian.Uint16(d.buf[d.pos:]))
	d.pos += 2
	if d.remaining() < n {
		return nil, truncated(field)
	}
	if n == 0 {
		return nil, nil
	}
	b := d.buf[d.pos : d.pos+n : d.pos+n]
	d.pos += n
	return b, nil
}

// readStringBytes reads a UTF-8 string field without copying it.
func (d *decoder) readStringBytes(field string) ([]byte, error) {
	b, err := d.readBinary(field)
	if err != nil {
		return nil, err
	}
	return b, checkUTF8(field, b)
}

// readString reads a UTF-8 string field and copies it, except that it
// returns old when the bytes equal it: a reused value decoding the same
// topic again allocates nothing.
func (d *decoder) readString(field, old string) (string, error) {
	b, err := d.readStringBytes(field)
	if err != nil {
		return "", err
	}
	return copyString(b, old), nil
}

// copyString returns b as a string, reusing old when it holds the same bytes.
func copyString(b []byte, old string) string {
	if string(b) == old {
		return old
	}
	return string(b)
}

// fieldSize returns the encoded size of a length-prefixed field of n bytes,
// or an error when n does not fit the two-byte length.
func fieldSize(field string, n int) (int, error) {
	if n > maxFieldLength {
		return 0, encodeErr(field + " longer than 65535 bytes")
	}
	return 2 + n, nil
}

func appendUint16(dst []byte, v uint16) []byte {
	return append(dst, byte(v>>8), byte(v))
}

func appendUint32(dst []byte, v uint32) []byte {
	return append(dst, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// appendString appends a length-prefixed string; its length was checked.
func appendString(dst []byte, s string) []byte {
	dst = appendUint16(dst, uint16(len(s)))
	return append(dst, s...)
}

// appendBinary appends length-prefixed bytes; their length was checked.
func appendBinary(dst []byte, b []byte) []byte {
	dst = appendUint16(dst, uint16(len(b)))
	return append(dst, b...)
}

// checkRemaining rejects a packet too long for the remaining length field.
func checkRemaining(t Type, remaining int) error {
	if remaining > MaxRemainingLength {
		return &Error{Code: PacketTooLarge, Msg: t.String() + " remaining length " + strconv.Itoa(remaining) + " exceeds 268435455"}
	}
	return nil
}

// decodeReasonTail reads the optional Reason Code and properties that end
// MQTT 5 acknowledgements, DISCONNECT and AUTH: when the body ends before
// them the code is Success and there are no properties (5.0 §3.4.2.1,
// §3.14.2.1, §3.15.2.1). The code must be in allowed.
func decodeReasonTail(d *decoder, t Type, allowed string, code *ReasonCode, props *Properties) error {
	if d.remaining() == 0 {
		*code, *props = Success, Properties{}
		return nil
	}
	c, err := d.readByte("reason code")
	if err != nil {
		return err
	}
	*code = ReasonCode(c)
	if err := checkReason(t, allowed, *code); err != nil {
		return err
	}
	if d.remaining() == 0 {
		*props = Properties{}
		return nil
	}
	if err := props.decode(d, propContext(t)); err != nil {
		return err
	}
	return d.end(t)
}

// reasonTailSize returns the size of the Reason Code and properties that
// end an MQTT 5 packet with propLen bytes of properties: nothing when the
// code is Success and there are none, the code alone when there are none.
func reasonTailSize(code ReasonCode, propLen int) int {
	switch {
	case propLen > 0:
		return 1 + VarintSize(propLen) + propLen
	case code != Success:
		return 1
	default:
		return 0
	}
}

// appendReasonTail appends what reasonTailSize counted.
func appendReasonTail(dst []byte, code ReasonCode, props *Properties, propLen int) []byte {
	if propLen > 0 {
		return props.appendTo(append(dst, byte(code)), propLen)
	}
	if code != Success {
		return append(dst, byte(code))
	}
	return dst
}

// sizer adds up the encoded size of a packet's fields and keeps the first
// error, so an Encode method can size its fields in a straight line.
type sizer struct {
	n   int
	err error
}

// add counts n bytes of fixed-size fields.
func (s *sizer) add(n int) { s.n += n }

// field counts a length-prefixed field of n bytes.
func (s *sizer) field(name string, n int) {
	size, err := fieldSize(name, n)
	s.n += size
	if s.err == nil {
		s.err = err
	}
}

// properties counts a Property Length and the properties, and returns the
// length to pass to appendTo.
func (s *sizer) properties(p *Properties, ctx propContext) int {
	n, err := p.length(ctx)
	s.n += VarintSize(n) + n
	if s.err == nil {
		s.err = err
	}
	return n
}

// remaining returns the total, or the first error, or a PacketTooLarge
// error when the total does not fit the remaining length.
func (s *sizer) remaining(t Type) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	return s.n, checkRemaining(t, s.n)
}

// encodeReasonTail appends a DISCONNECT or AUTH: a fixed header and the
// optional Reason Code and properties.
func encodeReasonTail(dst []byte, t Type, code ReasonCode, props *Properties) ([]byte, error) {
	propLen, err := props.length(propContext(t))
	if err != nil {
		return dst, err
	}
	remaining := reasonTailSize(code, propLen)
	if err := checkRemaining(t, remaining); err != nil {
		return dst, err
	}
	dst = AppendFixedHeader(dst, t, 0, remaining)
	return appendReasonTail(dst, code, props, propLen), nil
}
