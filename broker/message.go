package broker

import (
	"sync/atomic"

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
	Properties packets.Properties // MQTT 5 properties, forwarded as published

	// forms caches encodings, indexed by [v5][qos][retain]. A QoS 1 or 2 form
	// carries packet identifier 0 at packetIDOffset; the writer patches in the
	// recipient's identifier as it copies the bytes out.
	forms [2][3][2]atomic.Pointer[[]byte]
}

// newMessage copies a decoded PUBLISH (whose payload aliases a read buffer)
// into a Message the broker can keep.
func newMessage(p *packets.Publish) *Message {
	m := &Message{
		Topic:      p.Topic,
		QoS:        p.QoS,
		Retain:     p.Retain,
		Properties: p.Properties,
	}
	m.Payload = make([]byte, len(p.Payload))
	copy(m.Payload, p.Payload)
	// Per-hop properties never travel onward.
	m.Properties.Clear(packets.PropTopicAlias)
	m.Properties.TopicAlias = 0
	m.Properties.SubscriptionIDs = nil
	return m
}

// encoded returns the PUBLISH bytes of m for a protocol level, QoS and
// retain flag, with packet identifier 0 when qos > 0.
func (m *Message) encoded(version byte, qos byte, retain bool) []byte {
	v5 := 0
	if version == packets.V5 {
		v5 = 1
	}
	r := 0
	if retain {
		r = 1
	}
	slot := &m.forms[v5][qos][r]
	if b := slot.Load(); b != nil {
		return *b
	}
	p := packets.Publish{
		QoS:        qos,
		Retain:     retain,
		Topic:      m.Topic,
		Properties: m.Properties,
		Payload:    m.Payload,
	}
	if qos > 0 {
		p.PacketID = 1 // placeholder, replaced at write time
	}
	b, err := p.Encode(nil, version)
	if err != nil {
		// The message was decoded from valid input, so encoding can only fail
		// on a broken invariant; send nothing rather than garbage.
		b = nil
	}
	slot.Store(&b)
	return b
}
