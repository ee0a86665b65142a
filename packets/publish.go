package packets

import (
	"encoding/binary"
	"slices"
)

// Flag bits of a PUBLISH fixed header.
const (
	publishRetain = 0b0001
	publishQoS    = 0b0110
	publishDup    = 0b1000
)

// Type returns TypePublish.
func (p *Publish) Type() Type { return TypePublish }

// Decode replaces p with the PUBLISH whose fixed-header flags and body are
// given, in the form of protocol level version. Payload and
// Properties.CorrelationData alias body. Topic is a copy, but when it equals
// the topic p held before the old string is kept, so decoding a stream into
// one reused value allocates nothing for a repeated topic and at most the
// topic string otherwise (plus any User Property and Subscription Identifier
// lists). On error p holds a partial result.
func (p *Publish) Decode(flags byte, body []byte, version byte) error {
	oldTopic := p.Topic
	// Reset every field but Properties, which decodeProperties resets
	// (reusing equal strings), without copying the whole struct.
	p.Dup = flags&publishDup != 0
	p.QoS = flags & publishQoS >> 1
	p.Retain = flags&publishRetain != 0
	p.Topic, p.PacketID, p.Payload = "", 0, nil
	if p.QoS == 3 {
		return malformed("[MQTT-3.3.1-4] PUBLISH with QoS 3")
	}
	if p.QoS == 0 && p.Dup {
		return malformed("[MQTT-3.3.1-2] PUBLISH with QoS 0 and DUP set")
	}
	d := decoder{buf: body}
	topic, err := d.readStringBytes("topic name")
	if err != nil {
		return err
	}
	if hasWildcard(topic) {
		return malformed("[MQTT-3.3.2-2] PUBLISH topic name contains a wildcard")
	}
	p.Topic = copyString(topic, oldTopic)
	if p.QoS > 0 {
		if p.PacketID, err = d.readPacketID(); err != nil {
			return err
		}
	}
	if err := p.decodeProperties(&d, version); err != nil {
		return err
	}
	if d.remaining() > 0 {
		p.Payload = d.buf[d.pos:]
	}
	return nil
}

// decodeProperties reads the MQTT 5 properties, or clears them before
// MQTT 5, and then checks that an empty topic comes with a Topic Alias.
func (p *Publish) decodeProperties(d *decoder, version byte) error {
	if version < V5 {
		p.Properties = Properties{}
		if p.Topic == "" {
			return malformed("[MQTT-4.7.3-1] PUBLISH with an empty topic name")
		}
		return nil
	}
	if err := p.Properties.decode(d, propContext(TypePublish)); err != nil {
		return err
	}
	if p.Topic == "" && !p.Properties.decoded(PropTopicAlias) {
		return protocolErr("[MQTT-4.7.3-1] PUBLISH with an empty topic name and no Topic Alias")
	}
	return nil
}

// flags returns the fixed-header flag nibble.
func (p *Publish) flags() byte {
	f := p.QoS << 1
	if p.Dup {
		f |= publishDup
	}
	if p.Retain {
		f |= publishRetain
	}
	return f
}

// Encode appends the PUBLISH in the form of protocol level version. It
// allocates nothing when dst has room for the packet. A QoS 1 or 2 packet
// may carry PacketID 0 for SetPacketID to fill in later. It fails when QoS
// is above 2, a field is too long, or a property is not allowed in PUBLISH.
func (p *Publish) Encode(dst []byte, version byte) ([]byte, error) {
	if p.QoS > 2 {
		return dst, encodeErr("PUBLISH QoS above 2")
	}
	remaining, err := fieldSize("topic name", len(p.Topic))
	if err != nil {
		return dst, err
	}
	if p.QoS > 0 {
		remaining += 2
	}
	propLen := 0
	if version >= V5 {
		if propLen, err = p.Properties.length(propContext(TypePublish)); err != nil {
			return dst, err
		}
		remaining += VarintSize(propLen) + propLen
	}
	remaining += len(p.Payload)
	if err := checkRemaining(TypePublish, remaining); err != nil {
		return dst, err
	}
	dst = slices.Grow(dst, 1+VarintSize(remaining)+remaining)
	dst = AppendFixedHeader(dst, TypePublish, p.flags(), remaining)
	dst = appendString(dst, p.Topic)
	if p.QoS > 0 {
		dst = appendUint16(dst, p.PacketID)
	}
	if version >= V5 {
		dst = p.Properties.appendTo(dst, propLen)
	}
	return append(dst, p.Payload...), nil
}

// PacketIDOffset returns the index of the two-byte packet identifier in an
// encoded QoS 1 or 2 PUBLISH, or -1 when encoded is not one. A broker that
// encodes a message once can copy the bytes and patch in each recipient's
// identifier there (see SetPacketID).
func PacketIDOffset(encoded []byte) int {
	if len(encoded) < 1 || Type(encoded[0]>>4) != TypePublish || encoded[0]&publishQoS == 0 {
		return -1
	}
	_, n, err := decodeVarint(encoded[1:])
	if err != nil || n == 0 {
		return -1
	}
	topicAt := 1 + n
	if len(encoded) < topicAt+2 {
		return -1
	}
	offset := topicAt + 2 + int(binary.BigEndian.Uint16(encoded[topicAt:]))
	if len(encoded) < offset+2 {
		return -1
	}
	return offset
}

// SetPacketID writes id into an encoded QoS 1 or 2 PUBLISH and reports
// whether encoded was one.
func SetPacketID(encoded []byte, id uint16) bool {
	offset := PacketIDOffset(encoded)
	if offset < 0 {
		return false
	}
	binary.BigEndian.PutUint16(encoded[offset:], id)
	return true
}

// SetPublishFlags rewrites the DUP, QoS and RETAIN flags of an encoded
// PUBLISH and reports whether encoded was one. QoS may change between 1
// and 2 only: whether a packet identifier is present depends on it, so
// changing to or from 0 needs a new encoding. qos above 2 is refused.
func SetPublishFlags(encoded []byte, dup bool, qos byte, retain bool) bool {
	if len(encoded) < 1 || Type(encoded[0]>>4) != TypePublish || qos > 2 {
		return false
	}
	if (qos == 0) != (encoded[0]&publishQoS == 0) {
		return false
	}
	p := Publish{Dup: dup, QoS: qos, Retain: retain}
	encoded[0] = byte(TypePublish)<<4 | p.flags()
	return true
}

// AliasPublish prepares an encoded MQTT 5 PUBLISH for sending with a Topic
// Alias, without encoding it again: it appends to dst the packet's new head
// (fixed header, the topic name when withTopic or else an empty one, the
// packet identifier, the property length and the Topic Alias property) and
// returns it with the tail of encoded that follows unchanged (the other
// properties and the payload). Writing head and then tail sends the aliased
// packet; the lengths in head count the tail. encoded must not carry a Topic
// Alias already. ok is false when encoded is not a whole MQTT 5 PUBLISH or
// alias is 0.
func AliasPublish(dst, encoded []byte, alias uint16, withTopic bool) (head, tail []byte, ok bool) {
	if alias == 0 || len(encoded) < 1 || Type(encoded[0]>>4) != TypePublish {
		return dst, nil, false
	}
	remaining, n, err := decodeVarint(encoded[1:])
	if err != nil || n == 0 || 1+n+remaining != len(encoded) {
		return dst, nil, false
	}
	at := 1 + n
	if len(encoded) < at+2 {
		return dst, nil, false
	}
	topicLen := int(binary.BigEndian.Uint16(encoded[at:]))
	topic := encoded[at+2 : min(at+2+topicLen, len(encoded))]
	at += 2 + topicLen
	if encoded[0]&publishQoS != 0 {
		at += 2
	}
	if len(encoded) < at {
		return dst, nil, false
	}
	propLen, m, err := decodeVarint(encoded[at:])
	if err != nil || m == 0 || len(encoded) < at+m+propLen {
		return dst, nil, false
	}
	tail = encoded[at+m:]
	aliasedProps := propLen + 3 // identifier and two-byte value
	// What stays of the variable header: the packet identifier, if any.
	idLen := at - (1 + n + 2 + topicLen)
	sentTopic := 0
	if withTopic {
		sentTopic = topicLen
	}
	newRemaining := 2 + sentTopic + idLen + VarintSize(aliasedProps) + aliasedProps + len(tail) - propLen
	if err := checkRemaining(TypePublish, newRemaining); err != nil {
		return dst, nil, false
	}
	head = append(dst, encoded[0])
	head = AppendVarint(head, newRemaining)
	head = appendUint16(head, uint16(sentTopic))
	if withTopic {
		head = append(head, topic...)
	}
	head = append(head, encoded[at-idLen:at]...)
	head = AppendVarint(head, aliasedProps)
	head = append(head, byte(PropTopicAlias))
	return appendUint16(head, alias), tail, true
}
