package broker

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/midge-mqtt/midge/packets"
)

// The broker's state as keys and values in a Store. A key is a one-byte
// kind, then the names that identify the record, separated by 0 bytes
// (client identifiers, topic names and filters never hold U+0000):
//
//	r 0 TOPIC              a retained message, with its publisher
//	s 0 CLIENTID           a persistent session: expiry, owner, when it went offline
//	u 0 CLIENTID 0 FILTER  one of its subscriptions
//	q 0 CLIENTID 0 SEQ     a message queued or in flight toward it (SEQ: 16 hex digits)
//	m 0 ID                 a message such entries refer to (ID: 16 hex digits)
//	p 0 CLIENTID 0 PID     a QoS 2 message it sent, awaiting PUBREL (PID: 4 hex digits)
//	w 0 CLIENTID           its MQTT 5 will, waiting for its delay, with its publisher
//
// Each value starts with a format byte, so that a later format can tell
// old records apart. A retained message or a will published by a client
// is in sourcedFormat (see encodeSourced); the broker's own are in
// recordFormat, as every message was before publishers were kept.
const (
	kindRetained     = 'r'
	kindSession      = 's'
	kindSubscription = 'u'
	kindEntry        = 'q'
	kindMessage      = 'm'
	kindReceived     = 'p'
	kindWill         = 'w'
	recordFormat     = 1
	sourcedFormat    = 2
)

// ErrStoreDamaged wraps what Open found wrong in a store's records.
var ErrStoreDamaged = errors.New("broker: store damaged")

func storeKey(kind byte, names ...string) []byte {
	n := 1
	for _, s := range names {
		n += 1 + len(s)
	}
	k := make([]byte, 0, n)
	k = append(k, kind)
	for _, s := range names {
		k = append(k, 0)
		k = append(k, s...)
	}
	return k
}

// splitKey takes a key apart into its kind and names.
func splitKey(key []byte) (kind byte, names []string, ok bool) {
	if len(key) < 2 || key[1] != 0 {
		return 0, nil, false
	}
	rest := key[2:]
	names = make([]string, 0, 1+bytes.Count(rest, []byte{0}))
	for {
		i := bytes.IndexByte(rest, 0)
		if i < 0 {
			return key[0], append(names, string(rest)), true
		}
		names = append(names, string(rest[:i]))
		rest = rest[i+1:]
	}
}

func hex16(n uint64) string { return fmt.Sprintf("%016x", n) }

// encodeMessage is a message as a record: its expiry time, then the MQTT 5
// PUBLISH that carries its QoS, RETAIN flag, topic, properties and
// payload.
func encodeMessage(m *Message) []byte {
	p := packets.Publish{QoS: m.QoS, Retain: m.Retain, Topic: m.Topic, Payload: m.Payload}
	if m.Properties != nil {
		p.Properties = *m.Properties
	}
	if p.QoS > 0 {
		p.PacketID = 1
	}
	b := make([]byte, 9, 9+len(m.Topic)+len(m.Payload)+16)
	b[0] = recordFormat
	binary.BigEndian.PutUint64(b[1:], uint64(m.expiresAt))
	b, err := p.Encode(b, packets.V5)
	if err != nil {
		return nil
	}
	return b
}

// decodeMessage reads a message record; topic, when it equals the record's
// topic name (a retained message's key holds it), is kept instead of a copy.
func decodeMessage(v []byte, topic string) (*Message, error) {
	if len(v) < 10 || v[0] != recordFormat {
		return nil, errors.New("message record: unknown format")
	}
	// The record's PUBLISH becomes the message's first wire form, as
	// newMessage would have made it, and its payload the tail of that.
	first := bytes.Clone(v[9:])
	h, body, err := packets.SplitFrame(first)
	if err != nil || h.Type != packets.TypePublish {
		return nil, fmt.Errorf("message record: %v", cmp.Or(err, errors.New("not a PUBLISH")))
	}
	p := packets.Publish{Topic: topic} // Decode keeps an equal topic name
	if err := p.Decode(h.Flags, body, packets.V5); err != nil {
		return nil, fmt.Errorf("message record: %w", err)
	}
	return &Message{
		Topic:      p.Topic,
		Payload:    p.Payload,
		QoS:        p.QoS,
		Retain:     p.Retain,
		Properties: forwardedProperties(&p.Properties),
		expiresAt:  int64(binary.BigEndian.Uint64(v[1:])),
		first:      first,
		firstKey:   keyOf(packets.V5, p.QoS, p.Retain),
	}, nil
}

// encodeSourced is a message record that names the client that published
// the message, for check_retain_source after a restart: sourcedFormat, a
// flag byte (1: the client had a user name), the client identifier and the
// user name, each after its length in two bytes, then the message record
// (encodeMessage). A message without a source is the message record
// alone.
func encodeSourced(m *Message) []byte {
	msg := encodeMessage(m)
	who := m.source
	if who == nil || msg == nil || len(who.clientID) > 0xFFFF || len(who.username) > 0xFFFF {
		return msg
	}
	b := make([]byte, 0, 6+len(who.clientID)+len(who.username)+len(msg))
	flags := byte(0)
	if who.hasUsername {
		flags = 1
	}
	b = append(b, sourcedFormat, flags)
	b = binary.BigEndian.AppendUint16(b, uint16(len(who.clientID)))
	b = append(b, who.clientID...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(who.username)))
	b = append(b, who.username...)
	return append(b, msg...)
}

// decodeSourced reads a record of encodeSourced, or a message record
// without a source (one written before sources were kept, or one of the
// broker's own messages); topic as for decodeMessage.
func decodeSourced(v []byte, topic string) (*Message, error) {
	if len(v) == 0 || v[0] != sourcedFormat {
		return decodeMessage(v, topic)
	}
	errShort := errors.New("message record: publisher cut short")
	if len(v) < 2 || v[1] > 1 {
		return nil, errShort
	}
	who := &identity{hasUsername: v[1] == 1}
	rest := v[2:]
	for _, field := range []*string{&who.clientID, &who.username} {
		if len(rest) < 2 || len(rest) < 2+int(binary.BigEndian.Uint16(rest)) {
			return nil, errShort
		}
		n := int(binary.BigEndian.Uint16(rest))
		*field, rest = string(rest[2:2+n]), rest[2+n:]
	}
	m, err := decodeMessage(rest, topic)
	if err != nil {
		return nil, err
	}
	m.source = who
	return m, nil
}

// encodeSession is a session record: expiry interval, owner, and when it
// went offline (Unix nanoseconds; 0 while connected).
func encodeSession(ss *session) []byte {
	b := []byte{recordFormat}
	b = binary.BigEndian.AppendUint32(b, ss.expiry)
	b = binary.BigEndian.AppendUint64(b, uint64(ss.offlineSince))
	owner := byte(0)
	if ss.hasOwner {
		owner = 1
	}
	b = append(b, owner)
	return append(b, ss.owner...)
}

type sessionRecord struct {
	expiry       uint32
	offlineSince int64
	owner        string
	hasOwner     bool
}

func decodeSession(v []byte) (sessionRecord, error) {
	if len(v) < 14 || v[0] != recordFormat {
		return sessionRecord{}, errors.New("session record: unknown format")
	}
	return sessionRecord{
		expiry:       binary.BigEndian.Uint32(v[1:]),
		offlineSince: int64(binary.BigEndian.Uint64(v[5:])),
		hasOwner:     v[13] == 1,
		owner:        string(v[14:]),
	}, nil
}

// encodeSubscription is a subscription's options and identifier.
func encodeSubscription(sub *packets.Subscription, subIDs *subIDList) []byte {
	b := []byte{recordFormat, sub.QoS, sub.RetainHandling, 0}
	if sub.NoLocal {
		b[3] |= 1
	}
	if sub.RetainAsPublished {
		b[3] |= 2
	}
	id := uint32(0)
	if subIDs != nil && len(subIDs.ids) > 0 {
		id = subIDs.ids[0]
	}
	return binary.BigEndian.AppendUint32(b, id)
}

func decodeSubscription(filter string, v []byte) (packets.Subscription, *subIDList, error) {
	if len(v) != 8 || v[0] != recordFormat || v[1] > 2 || v[2] > 2 {
		return packets.Subscription{}, nil, errors.New("subscription record: unknown format")
	}
	sub := packets.Subscription{Filter: filter, QoS: v[1], RetainHandling: v[2], NoLocal: v[3]&1 != 0, RetainAsPublished: v[3]&2 != 0}
	var ids *subIDList
	if id := binary.BigEndian.Uint32(v[4:]); id != 0 {
		ids = &subIDList{ids: []uint32{id}}
	}
	return sub, ids, nil
}

// The states of a session's message entry.
const (
	entryQueued   = 0 // waiting for room in flight
	entryInflight = 1 // sent with its packet identifier, not acknowledged
	entryReleased = 2 // QoS 2: PUBREC received, PUBREL sent
)

type entryRecord struct {
	state, qos byte
	retain     bool
	packetID   uint16
	subID      uint32
	messageID  uint64
}

func decodeEntry(v []byte) (entryRecord, error) {
	if len(v) != 18 || v[0] != recordFormat || v[1] > entryReleased || v[2] > 2 {
		return entryRecord{}, errors.New("message entry: unknown format")
	}
	return entryRecord{state: v[1], qos: v[2], retain: v[3]&1 != 0, packetID: binary.BigEndian.Uint16(v[4:]),
		subID: binary.BigEndian.Uint32(v[6:]), messageID: binary.BigEndian.Uint64(v[10:])}, nil
}
