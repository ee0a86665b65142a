package bridge

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/packets"
)

// How a message crosses the bridge.
//
// Each side's client runs with client.Options.DeferAck: a QoS 1 or 2
// message it receives is not acknowledged until the other side has
// acknowledged it in turn. The receiving client's reader only copies the
// message into a relay, never waits, so the two readers never wait for
// each other (they did, with `both`, when each callback published to the
// other side and waited there). A pump per direction takes the messages
// in order, publishes them on the other side with several in flight, and
// acknowledges each to its source once the other side has it.
//
// Nothing is acknowledged to a source before the other side has the
// message, so a message is lost with neither connection: the source sends
// it again when its session resumes (the broker keeps the bridge's local
// session; the remote keeps the remote one, with cleansession false).
// Held QoS 1 and 2 messages are bounded by the source's in-flight window,
// since the source sends no more until some are acknowledged. QoS 0
// messages, which need no acknowledgement, are bounded by
// Options.MaxHeldQoS0 and dropped (counted) beyond it or while the other
// side is down.

// defaultMaxHeldQoS0 bounds the QoS 0 messages a relay holds when
// Options.MaxHeldQoS0 is zero: Mosquitto's max_queued_messages default.
const defaultMaxHeldQoS0 = 1000

// side is one connection of the bridge as a source of messages: its
// client, set once Dial has returned (its reader may deliver a message
// before that).
type side struct {
	ready chan struct{}
	c     *client.Client // set before ready is closed; nil when Dial failed
}

func newSide() *side { return &side{ready: make(chan struct{})} }

func (s *side) set(c *client.Client) {
	s.c = c
	close(s.ready)
}

// ack acknowledges m to the side it came from; an ended connection
// ignores it (its session, if kept, sends m again).
func (s *side) ack(m *packets.Publish) {
	if m.QoS == 0 {
		return
	}
	<-s.ready
	if s.c != nil {
		s.c.Ack(m.QoS, m.PacketID)
	}
}

// held is a message received on one side, waiting to cross.
type held struct {
	from *side
	msg  *packets.Publish // the bridge's own copy; PacketID is the source's
}

// relay holds one direction's messages in the order they arrived.
type relay struct {
	mu    sync.Mutex
	held  []held // guarded by mu
	qos0  int    // QoS 0 messages in held; guarded by mu
	max0  int    // the most QoS 0 messages held; 0 for no bound
	open  bool   // the other side is connected, so QoS 0 is taken; guarded by mu
	wake  chan struct{}
	count atomic.Int64 // messages that crossed
	bytes atomic.Int64 // their payload bytes
	drops atomic.Int64 // QoS 0 messages dropped
}

// newRelay returns a relay holding at most max0 QoS 0 messages (0: the
// default; broker.Unlimited or less: no bound).
func newRelay(max0 int) *relay {
	switch {
	case max0 == 0:
		max0 = defaultMaxHeldQoS0
	case max0 < 0:
		max0 = 0
	}
	return &relay{wake: make(chan struct{}, 1), max0: max0}
}

// receive takes a copy of p, from the side from. It never waits.
func (r *relay) receive(from *side, p *packets.Publish) {
	m := &packets.Publish{Topic: p.Topic, QoS: p.QoS, Retain: p.Retain, PacketID: p.PacketID,
		Payload: append([]byte(nil), p.Payload...), Properties: carried(&p.Properties)}
	r.mu.Lock()
	if m.QoS == 0 && (!r.open || (r.max0 > 0 && r.qos0 >= r.max0)) {
		r.mu.Unlock()
		r.drops.Add(1)
		return
	}
	if m.QoS == 0 {
		r.qos0++
	}
	r.held = append(r.held, held{from: from, msg: m})
	r.mu.Unlock()
	r.signal()
}

func (r *relay) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// setOpen says whether the other side is connected; closing drops the
// QoS 0 messages held.
func (r *relay) setOpen(open bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.open = open
	if open || r.qos0 == 0 {
		return
	}
	kept := r.held[:0]
	for _, h := range r.held {
		if h.msg.QoS > 0 {
			kept = append(kept, h)
		}
	}
	r.drops.Add(int64(r.qos0))
	clear(r.held[len(kept):])
	r.held, r.qos0 = kept, 0
}

// forget drops the messages held from a connection that ended whose
// session will send them again, so that they do not cross twice.
func (r *relay) forget(from *side) {
	r.mu.Lock()
	defer r.mu.Unlock()
	kept := r.held[:0]
	for _, h := range r.held {
		if h.from != from || h.msg.QoS == 0 {
			kept = append(kept, h)
		}
	}
	clear(r.held[len(kept):])
	r.held = kept
}

// len is the number of messages held.
func (r *relay) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.held)
}

// qos0Held is the number of QoS 0 messages held.
func (r *relay) qos0Held() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.qos0
}

// next waits for the first message held, or for ctx to end.
func (r *relay) next(ctx context.Context) (held, bool) {
	for {
		r.mu.Lock()
		if len(r.held) > 0 {
			h := r.held[0]
			r.held[0] = held{}
			r.held = r.held[1:]
			if h.msg.QoS == 0 {
				r.qos0--
			}
			r.mu.Unlock()
			return h, true
		}
		r.mu.Unlock()
		select {
		case <-r.wake:
		case <-ctx.Done():
			return held{}, false
		}
	}
}

// putBack returns messages that did not cross to the front, in order.
func (r *relay) putBack(hs []held) {
	if len(hs) == 0 {
		return
	}
	r.mu.Lock()
	r.held = append(hs, r.held...)
	for _, h := range hs {
		if h.msg.QoS == 0 {
			r.qos0++
		}
	}
	r.mu.Unlock()
	r.signal()
}

// sending is one message on its way: sent, its outcome to come.
type sending struct {
	h    held
	done <-chan error
}

// pump publishes the relay's messages on to until ctx ends or to's
// connection fails, each translated by cross (nil: not for this bridge,
// acknowledged and dropped); pace, when not nil, waits before each. A
// message the other side did not acknowledge goes back to the relay.
func (r *relay) pump(ctx context.Context, to *client.Client, cross func(*packets.Publish) *packets.Publish, pace func(context.Context) bool) {
	sent := make(chan sending, 256)
	left := make(chan []held, 1)
	go func() { left <- r.settle(sent) }()
	var failed []held
	for {
		if pace != nil && !pace(ctx) {
			break
		}
		h, ok := r.next(ctx)
		if !ok {
			break
		}
		out := cross(h.msg)
		if out == nil {
			h.from.ack(h.msg)
			continue
		}
		done, err := to.PublishAsync(ctx, out)
		if err != nil {
			failed = append(failed, h)
			break
		}
		sent <- sending{h, done}
	}
	close(sent)
	r.putBack(append(<-left, failed...))
}

// settle waits for each message sent, in order, and acknowledges it to
// its source once the other side has it; it returns those the other side
// did not take because its connection ended. One it refused (an MQTT 5
// reason code) is acknowledged and counted as dropped: sending it again
// would meet the same answer.
func (r *relay) settle(sent <-chan sending) []held {
	var left []held
	for s := range sent {
		err := <-s.done
		var refused *client.AckError
		switch {
		case err == nil:
			r.count.Add(1)
			r.bytes.Add(int64(len(s.h.msg.Payload)))
		case errors.As(err, &refused):
			r.drops.Add(1)
		default:
			left = append(left, s.h)
			continue
		}
		s.h.from.ack(s.h.msg)
	}
	return left
}

// carried are the properties a message keeps across the bridge (MQTT 5
// on both sides; at 3.1.1 there are none).
func carried(p *packets.Properties) packets.Properties {
	var f packets.Properties
	for _, id := range []packets.PropertyID{packets.PropPayloadFormat, packets.PropMessageExpiry, packets.PropContentType,
		packets.PropResponseTopic, packets.PropCorrelationData} {
		if p.Has(id) {
			f.Set(id)
		}
	}
	f.PayloadFormat, f.MessageExpiry, f.ContentType, f.ResponseTopic = p.PayloadFormat, p.MessageExpiry, p.ContentType, p.ResponseTopic
	if len(p.CorrelationData) > 0 {
		f.CorrelationData = append([]byte(nil), p.CorrelationData...)
	}
	if len(p.User) > 0 {
		f.User = append(f.User, p.User...)
	}
	return f
}
