package bench

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/midge-mqtt/midge/packets"
)

// maxBatchBytes caps one write of a publisher (or one flush of
// acknowledgements) so that a batch of large payloads stays reasonable.
const maxBatchBytes = 256 << 10

// publishPlan is what every publisher of a run does.
type publishPlan struct {
	qos    byte
	retain bool
	count  int     // messages per publisher; 0 means until stopped
	rate   float64 // messages per second per publisher; 0 means flat out
	window int     // QoS 1 and 2 messages in flight per publisher
	batch  int     // most messages per write
}

// publisher is one publishing client. Its writer goroutine owns the batch
// buffer and the sequence; its acknowledgement reader (QoS 1 and 2) owns
// the reader. They share the counters and the in-flight bits, atomically.
type publisher struct {
	index  uint32
	conn   *rawConn
	plan   publishPlan
	window int // plan.window, no larger than the broker's Receive Maximum
	// refill is how much of the window must be free before the writer
	// writes again (unless all of it is): half the window or a batch,
	// so that acknowledgements trickling in one at a time do not turn
	// into one write per message.
	refill   int
	template []byte // one encoded PUBLISH with a zeroed header
	idAt     int    // offset of the packet identifier in template; -1 at QoS 0
	headerAt int    // offset of the payload header in template
	buf      []byte
	// topicOf, when set, gives each message its own topic (by sequence
	// number), as retained mode needs; each is then encoded afresh.
	topicOf func(seq int) string
	header  bool // write the payload header (not in empty payloads)
	seq     uint32
	nextID  uint16

	sent     atomic.Uint64 // PUBLISH packets written
	done     atomic.Uint64 // acknowledged (QoS 1: PUBACK, QoS 2: PUBCOMP); QoS 0: written
	refused  atomic.Uint64 // acknowledgements with an MQTT 5 failure reason code
	stray    atomic.Uint64 // acknowledgements for an identifier not in flight
	lastSend atomic.Int64  // Unix nanoseconds of the last write
	lastAck  atomic.Int64  // Unix nanoseconds of the last acknowledgement batch
	inflight [65536 / 64]atomic.Uint64
	wake     chan struct{} // the reader's nudge when the window opens
}

// newPublisher prepares the encoded template of client index's messages on
// topic with payloadSize bytes.
func newPublisher(index int, conn *rawConn, topic string, payloadSize int, plan publishPlan) (*publisher, error) {
	msg := packets.Publish{QoS: plan.qos, Retain: plan.retain, Topic: topic, Payload: make([]byte, payloadSize)}
	if plan.qos > 0 {
		msg.PacketID = 1
	}
	template, err := msg.Encode(nil, conn.version)
	if err != nil {
		return nil, err
	}
	p := &publisher{
		index:    uint32(index),
		conn:     conn,
		plan:     plan,
		window:   max(1, min(plan.window, conn.receiveMax)),
		template: template,
		idAt:     packets.PacketIDOffset(template),
		headerAt: len(template) - payloadSize,
		nextID:   1,
		header:   payloadSize >= HeaderSize,
		wake:     make(chan struct{}, 1),
	}
	batch := max(1, min(plan.batch, maxBatchBytes/len(template)))
	if plan.qos > 0 {
		batch = min(batch, p.window)
	}
	p.plan.batch = batch
	p.refill = max(1, min(batch, p.window/2))
	p.buf = make([]byte, 0, batch*len(template))
	return p, nil
}

// appendBatch appends n messages stamped with now to p.buf. It allocates
// nothing once p.buf has grown to a full batch, unless topicOf is set.
// It fails only when a topic from topicOf cannot be encoded.
func (p *publisher) appendBatch(n int, now int64) error {
	for range n {
		at := len(p.buf)
		var id uint16
		if p.idAt >= 0 {
			id = p.nextID
			p.nextID++
			if p.nextID == 0 {
				p.nextID = 1
			}
			p.inflight[id/64].Or(1 << (id % 64))
		}
		if p.topicOf != nil {
			if err := p.appendOwnTopic(id); err != nil {
				return err
			}
		} else {
			p.buf = append(p.buf, p.template...)
			if p.idAt >= 0 {
				binary.BigEndian.PutUint16(p.buf[at+p.idAt:], id)
			}
		}
		if p.header {
			payloadAt := len(p.buf) - (len(p.template) - p.headerAt)
			Header{Publisher: p.index, Sequence: p.seq, SentAt: now}.Put(p.buf[payloadAt:])
		}
		p.seq++
	}
	return nil
}

// appendOwnTopic encodes the next message on the topic topicOf gives it.
func (p *publisher) appendOwnTopic(id uint16) error {
	msg := packets.Publish{
		QoS:      p.plan.qos,
		Retain:   p.plan.retain,
		Topic:    p.topicOf(int(p.seq)),
		PacketID: id,
		Payload:  p.template[p.headerAt:],
	}
	var err error
	p.buf, err = msg.Encode(p.buf, p.conn.version)
	return err
}

// run writes the publisher's messages until its count is reached or stop
// is closed, in batches that respect the rate and the in-flight window.
// start is the common start time the rate is measured from.
func (p *publisher) run(start time.Time, stop <-chan struct{}) error {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for p.plan.count == 0 || int(p.seq) < p.plan.count {
		select {
		case <-stop:
			return nil
		default:
		}
		n := p.plan.batch
		if p.plan.count > 0 {
			n = min(n, p.plan.count-int(p.seq))
		}
		if p.plan.qos > 0 {
			free := p.freeWindow()
			if free < p.refill && free < p.window {
				select {
				case <-p.wake:
				case <-stop:
					return nil
				}
				continue
			}
			n = min(n, free)
		}
		now := time.Now()
		if p.plan.rate > 0 {
			due := int(now.Sub(start).Seconds()*p.plan.rate) + 1 - int(p.seq)
			if due <= 0 {
				next := start.Add(time.Duration(float64(p.seq) / p.plan.rate * float64(time.Second)))
				timer.Reset(next.Sub(now))
				select {
				case <-timer.C:
				case <-stop:
					return nil
				}
				continue
			}
			n = min(n, due)
		}
		p.buf = p.buf[:0]
		if err := p.appendBatch(n, now.UnixNano()); err != nil {
			return err
		}
		if err := p.conn.write(p.buf); err != nil {
			return err
		}
		p.lastSend.Store(time.Now().UnixNano())
		p.sent.Add(uint64(n))
		if p.plan.qos == 0 {
			p.done.Add(uint64(n))
		}
	}
	return nil
}

// freeWindow returns how many more messages may be in flight now.
func (p *publisher) freeWindow() int {
	return p.window - int(p.sent.Load()-p.done.Load())
}

// readAcks completes the QoS 1 and 2 flows of the publisher's messages
// until the connection fails or closes: PUBACK, or PUBREC answered with
// PUBREL and then PUBCOMP. PUBRELs are written in batches.
func (p *publisher) readAcks() error {
	out := make([]byte, 0, 4096)
	reader := p.conn.reader
	for {
		h, body, err := reader.ReadFrame()
		if err != nil {
			return err
		}
		switch h.Type {
		case packets.TypePuback, packets.TypePubcomp, packets.TypePubrec:
			if len(body) < 2 {
				return fmt.Errorf("bench: %v too short", h.Type)
			}
			id := binary.BigEndian.Uint16(body)
			failed := len(body) > 2 && packets.ReasonCode(body[2]).IsError()
			if failed {
				p.refused.Add(1)
			}
			if h.Type == packets.TypePubrec && !failed {
				out = appendAck(out, packets.TypePubrel, id, p.conn.version)
				break
			}
			if p.inflight[id/64].And(^(1<<(id%64)))&(1<<(id%64)) == 0 {
				p.stray.Add(1)
				break
			}
			p.done.Add(1)
		case packets.TypePingresp:
		case packets.TypeDisconnect:
			return disconnectError(body)
		default:
			return fmt.Errorf("bench: unexpected %v sent to a publisher", h.Type)
		}
		// Fewer than 4 bytes cannot hold another acknowledgement: flush
		// the PUBRELs and tell the writer before blocking in a read.
		if reader.Buffered() < 4 || len(out) >= maxBatchBytes {
			if len(out) > 0 {
				if err := p.conn.write(out); err != nil {
					return err
				}
				out = out[:0]
			}
			p.lastAck.Store(time.Now().UnixNano())
			if free := p.freeWindow(); free >= p.refill || free >= p.window {
				select {
				case p.wake <- struct{}{}:
				default:
				}
			}
		}
	}
}

// disconnectError describes a DISCONNECT from the broker.
func disconnectError(body []byte) error {
	if len(body) > 0 {
		code := packets.ReasonCode(body[0])
		return fmt.Errorf("bench: the broker disconnected the client: %v (0x%02X)", code, byte(code))
	}
	return errors.New("bench: the broker disconnected the client")
}
