package bench

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sync/atomic"

	"github.com/midge-mqtt/midge/packets"
)

// subscriber is one subscribing client. Its goroutine owns everything but
// the counters the progress line reads (atomic).
type subscriber struct {
	index    int
	filter   string
	conn     *rawConn
	latency  bool // record latency (not for retained messages)
	hist     Histogram
	trackers trackerSet
	out      []byte // acknowledgements waiting to be written

	received atomic.Uint64 // deliveries with a benchmark header
	foreign  atomic.Uint64 // deliveries without one
	lastAt   atomic.Int64  // arrival of the latest delivery, Unix nanoseconds
	firstAt  atomic.Int64  // arrival of the first delivery

	expect uint64        // stop after this many deliveries; 0 for never
	full   chan struct{} // closed when expect is reached
}

func newSubscriber(index int, filter string, conn *rawConn, expect uint64) *subscriber {
	return &subscriber{
		index:   index,
		filter:  filter,
		conn:    conn,
		latency: true,
		out:     make([]byte, 0, 4096),
		expect:  expect,
		full:    make(chan struct{}),
	}
}

// run reads deliveries until the connection fails or is closed.
func (s *subscriber) run() error {
	reader := s.conn.reader
	for {
		h, body, err := reader.ReadFrame()
		if err != nil {
			return err
		}
		if err := s.handle(h, body, s.conn.stamp.at); err != nil {
			return err
		}
		// No complete frame is left once fewer than 2 bytes (the smallest
		// packet) are buffered: write the acknowledgements before blocking.
		if reader.Buffered() < 2 || len(s.out) >= maxBatchBytes {
			if err := s.flush(); err != nil {
				return err
			}
			// Let the other clients run before the next read, so that
			// under load more bytes wait in the socket and one read
			// takes many messages. Alone, this returns at once.
			runtime.Gosched()
		}
	}
}

// handle processes one frame that arrived at now (Unix nanoseconds). It
// allocates nothing for a PUBLISH from a publisher already seen.
func (s *subscriber) handle(h packets.FixedHeader, body []byte, now int64) error {
	switch h.Type {
	case packets.TypePublish:
		id, payload, err := parsePublish(h.Flags, body, s.conn.version)
		if err != nil {
			return err
		}
		s.record(payload, now)
		switch h.Flags >> 1 & 3 {
		case 1:
			s.out = appendAck(s.out, packets.TypePuback, id, s.conn.version)
		case 2:
			s.out = appendAck(s.out, packets.TypePubrec, id, s.conn.version)
		}
	case packets.TypePubrel:
		if len(body) < 2 {
			return fmt.Errorf("bench: PUBREL too short")
		}
		s.out = appendAck(s.out, packets.TypePubcomp, binary.BigEndian.Uint16(body), s.conn.version)
	case packets.TypeSuback:
		// One filter per SUBSCRIBE: its code is the last byte.
		if len(body) < 3 || packets.ReasonCode(body[len(body)-1]).IsError() {
			return fmt.Errorf("bench: subscription to %q refused", s.filter)
		}
	case packets.TypePingresp:
	case packets.TypeDisconnect:
		return disconnectError(body)
	default:
		return fmt.Errorf("bench: unexpected %v sent to a subscriber", h.Type)
	}
	return nil
}

// record counts one delivered payload.
func (s *subscriber) record(payload []byte, now int64) {
	hdr, err := DecodeHeader(payload)
	if err != nil {
		s.foreign.Add(1)
		return
	}
	if s.latency {
		s.hist.Record(now - hdr.SentAt)
	}
	s.trackers.get(hdr.Publisher).Observe(hdr.Sequence)
	if s.firstAt.Load() == 0 {
		s.firstAt.Store(now)
	}
	s.lastAt.Store(now)
	if n := s.received.Add(1); n == s.expect {
		close(s.full)
	}
}

// flush writes the pending acknowledgements.
func (s *subscriber) flush() error {
	if len(s.out) == 0 {
		return nil
	}
	err := s.conn.write(s.out)
	s.out = s.out[:0]
	return err
}

// trackerSet holds one SequenceTracker per publisher, with the last one
// used at hand: consecutive messages usually come from the same publisher.
type trackerSet struct {
	byPublisher map[uint32]*SequenceTracker
	lastID      uint32
	last        *SequenceTracker
}

// get returns the tracker of publisher id, creating it on first use.
func (ts *trackerSet) get(id uint32) *SequenceTracker {
	if ts.last != nil && ts.lastID == id {
		return ts.last
	}
	t, ok := ts.byPublisher[id]
	if !ok {
		if ts.byPublisher == nil {
			ts.byPublisher = make(map[uint32]*SequenceTracker)
		}
		t = new(SequenceTracker)
		ts.byPublisher[id] = t
	}
	ts.lastID, ts.last = id, t
	return t
}
