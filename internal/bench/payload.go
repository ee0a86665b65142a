// Package bench is the load generator and the statistics behind
// `midge bench`: lean raw MQTT connections that publish and subscribe
// without allocating per message, a latency histogram, and per-publisher
// sequence tracking that finds lost, duplicated and reordered messages.
// It speaks to any MQTT broker; it uses the packets package for the wire
// format and nothing of the broker.
package bench

import (
	"encoding/binary"
	"errors"
)

// HeaderSize is the size of the header every benchmark payload starts with:
// the publisher's id (4 bytes), its sequence number (4 bytes) and the send
// time in Unix nanoseconds (8 bytes), all big-endian. It is the smallest
// payload the generator sends.
const HeaderSize = 16

// ErrShortPayload is returned by DecodeHeader for a payload shorter than
// HeaderSize, which a benchmark publisher did not send.
var ErrShortPayload = errors.New("bench: payload shorter than the 16-byte header")

// Header is what a benchmark payload carries in its first HeaderSize bytes.
type Header struct {
	Publisher uint32 // the publishing client's index
	Sequence  uint32 // 0 for a publisher's first message, then one more for each
	SentAt    int64  // Unix nanoseconds when the message was handed to the socket
}

// Put writes h into the first HeaderSize bytes of payload, which must be at
// least that long.
func (h Header) Put(payload []byte) {
	_ = payload[HeaderSize-1]
	binary.BigEndian.PutUint32(payload[0:], h.Publisher)
	binary.BigEndian.PutUint32(payload[4:], h.Sequence)
	binary.BigEndian.PutUint64(payload[8:], uint64(h.SentAt))
}

// DecodeHeader reads the header at the start of payload.
func DecodeHeader(payload []byte) (Header, error) {
	if len(payload) < HeaderSize {
		return Header{}, ErrShortPayload
	}
	return Header{
		Publisher: binary.BigEndian.Uint32(payload[0:]),
		Sequence:  binary.BigEndian.Uint32(payload[4:]),
		SentAt:    int64(binary.BigEndian.Uint64(payload[8:])),
	}, nil
}
