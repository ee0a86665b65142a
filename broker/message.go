package broker

import (
	"bytes"
	"slices"
	"sync/atomic"
	"time"

	"github.com/midge-mqtt/midge/packets"
)

// Message is an application message as the broker keeps it: once accepted it
// is immutable, shared by every session that delivers it and by the retained
// store. Its PUBLISH encodings are made once per wire form, on first use, and
// the same bytes are written to every recipient that needs that form.
type Message struct {
	Topic      string
	Payload    []byte
	QoS        byte
	Retain     bool
	Properties *packets.Properties // MQTT 5 properties, forwarded as published; nil when none

	// expiresAt is when the message's expiry interval ends (Unix
	// nanoseconds); 0 when it has none.
	expiresAt int64

	// source is the client that published the message; nil for the
	// broker's own. A Store keeps it with a retained message, for
	// check_retain_source after a restart.
	source *identity

	// first is the encoding made when the message was accepted, for the form
	// most recipients need (the publisher's protocol family and QoS, RETAIN
	// clear); Payload aliases its tail, so accepting a message copies the
	// payload once. firstKey is its index in forms.
	first    []byte
	firstKey formKey

	// forms caches other encodings, indexed by [v5][qos][retain]. A QoS 1 or
	// 2 form carries a placeholder packet identifier; the writer patches in
	// the recipient's identifier as it copies the bytes out.
	forms [2][3][2]atomic.Pointer[[]byte]

	// storeID names the message's record in the Store while persistent
	// sessions hold it (queued or in flight); storeRefs counts them. Both
	// are guarded by Server.persistMu; 0 while it has no record.
	storeID   uint64
	storeRefs int32
}

// formKey names one wire form of a message.
type formKey struct {
	v5, qos, retain uint8
}

func keyOf(version, qos byte, retain bool) formKey {
	k := formKey{qos: qos}
	if version == packets.V5 {
		k.v5 = 1
	}
	if retain {
		k.retain = 1
	}
	return k
}

// newMessage copies a decoded PUBLISH (whose payload aliases a read buffer)
// into a Message the broker can keep, encoding it once in the form of the
// connection it came from.
func newMessage(p *packets.Publish, version byte, clock Clock) *Message {
	m := &Message{
		Topic:      p.Topic,
		QoS:        p.QoS,
		Retain:     p.Retain,
		Properties: forwardedProperties(&p.Properties),
	}
	if p.Properties.Has(packets.PropMessageExpiry) {
		m.expiresAt = clock.Now().Add(time.Duration(p.Properties.MessageExpiry) * time.Second).UnixNano()
	}
	if version != packets.V5 {
		version = packets.V311 // 3.1 and 3.1.1 share the PUBLISH form
	}
	m.firstKey = keyOf(version, p.QoS, false)
	m.first = m.encode(version, p.QoS, false, p.Payload)
	if len(m.first) >= len(p.Payload) {
		m.Payload = m.first[len(m.first)-len(p.Payload):]
	} else {
		m.Payload = bytes.Clone(p.Payload)
	}
	return m
}

// forwardedProperties copies the properties a message keeps on its way to
// subscribers, or returns nil when there are none. Per-hop properties
// (topic alias, subscription identifiers) never travel onward.
func forwardedProperties(in *packets.Properties) *packets.Properties {
	if in.Present == 0 && len(in.User) == 0 && len(in.CorrelationData) == 0 &&
		in.ContentType == "" && in.ResponseTopic == "" {
		return nil
	}
	out := *in
	// The decoder's slices alias its read buffer and its reused value.
	out.User = slices.Clone(in.User)
	out.CorrelationData = bytes.Clone(in.CorrelationData)
	out.Clear(packets.PropTopicAlias)
	out.TopicAlias = 0
	out.Clear(packets.PropSubscriptionID)
	out.SubscriptionIDs = nil
	out.Clear(packets.PropWillDelay)
	out.WillDelay = 0
	if out.Present == 0 && len(out.User) == 0 && len(out.CorrelationData) == 0 &&
		out.ContentType == "" && out.ResponseTopic == "" {
		return nil
	}
	return &out
}

// encoded returns the PUBLISH bytes of m for a protocol level, QoS and
// retain flag; a QoS 1 or 2 form carries a placeholder packet identifier.
func (m *Message) encoded(version byte, qos byte, retain bool) []byte {
	k := keyOf(version, qos, retain)
	if m.first != nil && m.firstKey == k {
		return m.first
	}
	slot := &m.forms[k.v5][k.qos][k.retain]
	if b := slot.Load(); b != nil {
		return *b
	}
	b := m.encode(version, qos, retain, m.Payload)
	slot.Store(&b)
	return b
}

// encode makes one wire form of the message.
func (m *Message) encode(version byte, qos byte, retain bool, payload []byte) []byte {
	p := packets.Publish{
		QoS:     qos,
		Retain:  retain,
		Topic:   m.Topic,
		Payload: payload,
	}
	if m.Properties != nil {
		p.Properties = *m.Properties
	}
	if qos > 0 {
		p.PacketID = 1 // placeholder, replaced at write time
	}
	b, err := p.Encode(nil, version)
	if err != nil {
		// The message was decoded from valid input, so encoding can only fail
		// on a broken invariant; send nothing rather than garbage.
		return nil
	}
	return b
}

// expired reports whether m's expiry interval has passed. The clock is read
// only for a message that has one.
func (s *Server) expired(m *Message) bool {
	return m.expiresAt != 0 && s.o().Clock.Now().UnixNano() >= m.expiresAt
}

// needsOwnEncoding reports whether a delivery to an MQTT 5 client must be
// encoded for that client alone: it carries subscription identifiers, or
// the message's expiry interval counted down [MQTT-3.3.2-6].
func (m *Message) needsOwnEncoding(subIDs *subIDList) bool {
	return subIDs != nil || m.expiresAt != 0
}

// encodeFor encodes a delivery of its own into dst, under the topic name
// the recipient sees (the message's own, or stripped of a mount point), at
// the recipient's protocol level. MQTT 5 deliveries carry the forwarded
// properties, the remaining expiry interval and the subscription
// identifiers; earlier levels have no properties.
//
// now is the time (Unix nanoseconds) the remaining expiry is counted from;
// it matters only for a message with an expiry interval.
func (m *Message) encodeFor(dst []byte, name string, version byte, qos byte, retain bool, id uint16, subIDs *subIDList, now int64) ([]byte, error) {
	p := packets.Publish{QoS: qos, Retain: retain, Topic: name, Payload: m.Payload, PacketID: id}
	if version != packets.V5 {
		return p.Encode(dst, version)
	}
	if m.Properties != nil {
		p.Properties = *m.Properties // a copy; the shared slices are only read
	}
	if m.expiresAt != 0 {
		left := (m.expiresAt - now + int64(time.Second) - 1) / int64(time.Second)
		p.Properties.MessageExpiry = uint32(max(left, 0))
		p.Properties.Set(packets.PropMessageExpiry)
	}
	if subIDs != nil {
		p.Properties.SubscriptionIDs = subIDs.ids
		p.Properties.Set(packets.PropSubscriptionID)
	}
	return p.Encode(dst, packets.V5)
}

// subIDList is the subscription identifiers one delivery carries. A
// subscription holds its own (one identifier, made at SUBSCRIBE), so
// routing passes a pointer and allocates nothing; only a client whose
// several subscriptions with identifiers match one message gets a merged
// list.
type subIDList struct {
	ids []uint32
}
