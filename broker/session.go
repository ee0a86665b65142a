package broker

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/midge-mqtt/midge/packets"
)

// session is the state of one client identifier that outlives a connection:
// its subscriptions, the messages in flight toward it, the messages queued
// for it, and the QoS 2 messages it sent that await PUBREL. Its maps are
// made on first use, so an idle client that never subscribed costs little.
type session struct {
	id string
	// owner is the user name of the session's client (hasOwner false for a
	// client without one), kept in the store with the session. Another
	// user connecting with the same client identifier is refused (see
	// Server.attachSession). Guarded by mu.
	owner    string
	hasOwner bool

	// online is set while a connection is attached, for choosing among the
	// members of a shared subscription without taking mu.
	online atomic.Bool

	// subCount is the number of subscriptions, read without mu by routing
	// to know whether a client can match one message more than once.
	subCount atomic.Int32

	mu           sync.Mutex
	conn         *conn                  // guarded by mu; nil while offline
	expiry       uint32                 // guarded by mu: seconds kept offline; 0 ends with the connection
	pendingWill  *pendingWill           // guarded by mu: an MQTT 5 will waiting for its delay
	expiryTimer  Timer                  // guarded by mu: ends the session while it is offline
	expiryGen    uint64                 // guarded by mu: names the current expiryTimer, so a stale one does nothing
	subs         map[string]sessionSub  // guarded by mu; filter as subscribed -> options
	inflight     map[uint16]inflightMsg // guarded by mu; outgoing QoS 1/2 not yet complete
	inflightSize int                    // guarded by mu: payload bytes in inflight
	queue        messageQueue           // guarded by mu; waiting for room in flight
	awaitingRel  map[uint16]struct{}    // guarded by mu; incoming QoS 2 ids before PUBREL
	nextID       uint16                 // guarded by mu
	sequence     uint64                 // guarded by mu: orders inflight for resend
	maxInflight  int                    // guarded by mu: window toward the live connection
	access       TopicAccess            // guarded by mu: what the client may read; nil allows all
	maxPacketOut uint32                 // guarded by mu: the live connection's Maximum Packet Size; 0 for none
	ended        bool                   // guarded by mu: removed from the broker
	mounted      bool                   // guarded by mu: the live connection's listener has a mount point
	persisted    bool                   // guarded by mu: the session has records in Options.Store
	offlineSince int64                  // guarded by mu: Unix nanoseconds it went offline; 0 while connected
}

// inflightMsg is an outgoing QoS 1 or 2 message sent and not yet complete.
type inflightMsg struct {
	msg      *Message
	qos      byte
	retain   bool
	subIDs   *subIDList // MQTT 5 subscription identifiers sent with it
	sequence uint64
	released bool // QoS 2: PUBREC received, PUBREL sent, awaiting PUBCOMP
}

// queuedMsg is a message waiting for room in the in-flight window.
type queuedMsg struct {
	msg      *Message
	qos      byte
	retain   bool
	subIDs   *subIDList
	sequence uint64 // its place in the session, kept when it goes in flight; the key of its store record
}

// neverExpires is the session expiry interval of a session that is kept
// until it is resumed with a clean start: MQTT 3.1.1 Clean Session 0, or
// MQTT 5 Session Expiry Interval 0xFFFFFFFF.
const neverExpires = 0xFFFFFFFF

func newSession(id string, expiry uint32, owner string, hasOwner bool) *session {
	return &session{
		id:       id,
		expiry:   expiry,
		owner:    owner,
		hasOwner: hasOwner,
	}
}

// ownedBy reports whether the session belongs to the given user.
func (ss *session) ownedBy(username string, hasUsername bool) bool {
	return ss.hasOwner == hasUsername && (!hasUsername || ss.owner == username)
}

// fitsLocked reports whether the message fits the Maximum Packet Size of
// the connected client; a message too large is dropped for that client as
// if delivered [MQTT-3.1.2-25], and so is one a mounted client has no name
// for. While offline everything is queued.
func (ss *session) fitsLocked(m *Message, qos byte, retain bool, subIDs *subIDList) bool {
	c := ss.conn
	if c == nil || !ss.mounted && ss.maxPacketOut == 0 {
		return true // the common case, decided on the session's own fields
	}
	if ss.mounted {
		mount := c.mountPoint()
		name, ok := unmount(m.Topic, mount)
		if !ok || ss.maxPacketOut == 0 {
			return ok
		}
		b, err := m.encodeFor(nil, name, c.version, qos, retain, 1, subIDs, 0) // the size does not depend on now
		return err == nil && uint32(len(b)) <= c.maxPacketOut
	}
	if ss.maxPacketOut == 0 {
		return true
	}
	size := len(m.encoded(c.version, qos, retain))
	if c.version == packets.V5 && subIDs != nil {
		// The delivery adds its subscription identifiers to that form
		// (the expiry property is in it already, with another value).
		// Bound the growth, the two length fields' included, and encode
		// only in the rare case the bound does not settle it.
		bound := size + 8
		for _, id := range subIDs.ids {
			bound += 1 + packets.VarintSize(int(id))
		}
		if uint32(bound) > c.maxPacketOut {
			b, err := m.encodeFor(nil, m.Topic, packets.V5, qos, retain, 1, subIDs, 0)
			return err == nil && uint32(len(b)) <= c.maxPacketOut
		}
	}
	return uint32(size) <= c.maxPacketOut
}

// mayRead is mayReadLocked for callers that do not hold mu.
func (ss *session) mayRead(m *Message) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.mayReadLocked(m)
}

// mayReadLocked applies the client's read access to a message about to be
// delivered, queued or resent.
func (ss *session) mayReadLocked(m *Message) bool {
	return ss.access == nil || ss.access.CanRead(m.Topic)
}

// deliver hands a message to the session at the given QoS. Routing calls it
// for every recipient; it never blocks on the network.
func (ss *session) deliver(s *Server, m *Message, qos byte, retain bool, subIDs *subIDList) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.ended || !ss.mayReadLocked(m) || s.expired(m) {
		return
	}
	if !ss.fitsLocked(m, qos, retain, subIDs) {
		s.counters.publishDropped.Add(1)
		return
	}
	if qos == 0 {
		o := s.o()
		if ss.conn == nil && o.QueueQoS0 && ss.expiry != 0 {
			ss.queueLocked(s, queuedMsg{msg: m, retain: retain, subIDs: subIDs}, true)
			return
		}
		if ss.conn == nil || !ss.conn.out.pushQoS0(outItem{msg: m, retain: retain, subIDs: subIDs}, o.MaxQueued, o.MaxQueuedBytes) {
			s.counters.publishDropped.Add(1)
		}
		return
	}
	if ss.conn != nil && ss.queue.len() == 0 && ss.roomLocked(s) {
		ss.sendLocked(m, qos, retain, subIDs)
		return
	}
	ss.queueLocked(s, queuedMsg{msg: m, qos: qos, retain: retain, subIDs: subIDs}, true)
}

// deliverRetainedLocked hands the session a retained message as its
// subscription is made. Unlike deliver it holds none of them to
// max_queued_messages: the retained store bounds them already, and dropping
// some would leave the new subscriber without part of the state it
// subscribed for. ss.mu is held.
func (ss *session) deliverRetainedLocked(s *Server, m *Message, qos byte, subIDs *subIDList) {
	if ss.ended || ss.conn == nil || !ss.mayReadLocked(m) || s.expired(m) {
		return
	}
	if !ss.fitsLocked(m, qos, true, subIDs) {
		s.counters.publishDropped.Add(1)
		return
	}
	if qos == 0 {
		ss.conn.out.push(outItem{msg: m, retain: true, subIDs: subIDs})
		return
	}
	if ss.queue.len() == 0 && ss.roomLocked(s) {
		ss.sendLocked(m, qos, true, subIDs)
		return
	}
	ss.queueLocked(s, queuedMsg{msg: m, qos: qos, retain: true, subIDs: subIDs}, false)
}

// queueLocked queues a message beyond the in-flight window or, when bounded,
// drops it (counted) if the queue is at max_queued_messages or
// max_queued_bytes.
func (ss *session) queueLocked(s *Server, q queuedMsg, bounded bool) {
	o := s.o()
	if bounded && (o.MaxQueued > 0 && ss.queue.len() >= o.MaxQueued ||
		o.MaxQueuedBytes > 0 && ss.queue.bytes+len(q.msg.Payload) > o.MaxQueuedBytes) {
		s.counters.publishDropped.Add(1)
		return
	}
	ss.sequence++
	q.sequence = ss.sequence
	ss.queue.push(q)
	s.persistEntryLocked(ss, true, entryQueued, q.sequence, 0, q.msg, q.qos, q.retain, q.subIDs)
}

// roomLocked reports whether the in-flight window has room for one more
// message: fewer than its count, and (with max_inflight_bytes) fewer
// payload bytes than the bound, which the next message may then pass.
func (ss *session) roomLocked(s *Server) bool {
	if len(ss.inflight) >= ss.maxInflight {
		return false
	}
	limit := s.o().MaxInflightBytes
	return limit <= 0 || ss.inflightSize < limit
}

// sendLocked puts a message in flight and queues it on the connection.
func (ss *session) sendLocked(m *Message, qos byte, retain bool, subIDs *subIDList) {
	ss.sequence++
	ss.sendQueuedLocked(queuedMsg{msg: m, qos: qos, retain: retain, subIDs: subIDs, sequence: ss.sequence}, true)
}

// sendQueuedLocked puts a message that has its sequence number in flight;
// fresh says it has no store record yet.
func (ss *session) sendQueuedLocked(q queuedMsg, fresh bool) {
	m, qos, retain, subIDs := q.msg, q.qos, q.retain, q.subIDs
	id := ss.nextPacketIDLocked()
	if ss.inflight == nil {
		ss.inflight = make(map[uint16]inflightMsg, ss.maxInflight)
	}
	ss.inflight[id] = inflightMsg{msg: m, qos: qos, retain: retain, subIDs: subIDs, sequence: q.sequence}
	ss.inflightSize += len(m.Payload)
	ss.conn.s.persistEntryLocked(ss, fresh, entryInflight, q.sequence, id, m, qos, retain, subIDs)
	ss.conn.out.push(outItem{msg: m, qos: qos, retain: retain, subIDs: subIDs, id: id})
}

// dropInflightLocked removes a message from flight.
func (ss *session) dropInflightLocked(s *Server, id uint16) {
	if f, ok := ss.inflight[id]; ok {
		ss.inflightSize -= len(f.msg.Payload)
		delete(ss.inflight, id)
		s.unpersistEntryLocked(ss, f.sequence, f.msg)
	}
}

// fillLocked moves queued messages into flight while the window has room;
// queued QoS 0 messages (queue_qos0_messages) go out without taking any.
func (ss *session) fillLocked() {
	for ss.conn != nil && ss.queue.len() > 0 && ss.roomLocked(ss.conn.s) {
		q := ss.queue.pop()
		s := ss.conn.s
		if !ss.mayReadLocked(q.msg) || s.expired(q.msg) {
			// Access reloaded since it was queued, or the message's expiry
			// interval passed while it waited [MQTT-3.3.2-5].
			s.unpersistEntryLocked(ss, q.sequence, q.msg)
			continue
		}
		if !ss.fitsLocked(q.msg, q.qos, q.retain, q.subIDs) {
			s.counters.publishDropped.Add(1)
			s.unpersistEntryLocked(ss, q.sequence, q.msg)
			continue
		}
		if q.qos == 0 {
			ss.conn.out.push(outItem{msg: q.msg, retain: q.retain, subIDs: q.subIDs})
			s.unpersistEntryLocked(ss, q.sequence, q.msg)
			continue
		}
		ss.sendQueuedLocked(q, false)
	}
}

// nextPacketIDLocked returns an identifier not in use toward this client.
// The window is far smaller than 65535, so the loop ends quickly.
func (ss *session) nextPacketIDLocked() uint16 {
	for {
		ss.nextID++
		if ss.nextID == 0 {
			ss.nextID = 1
		}
		if _, used := ss.inflight[ss.nextID]; !used {
			return ss.nextID
		}
	}
}

// acknowledge completes a QoS 1 (PUBACK) or QoS 2 (PUBCOMP) delivery. An
// unknown identifier is ignored, as in Mosquitto: it may be a duplicate
// from before a reconnection. It reports outOfStep, a protocol violation
// on which Mosquitto disconnects, when the identifier is in flight at the
// other QoS or a PUBCOMP comes before its PUBREC.
func (ss *session) acknowledge(s *Server, id uint16, qos byte) (outOfStep bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	f, ok := ss.inflight[id]
	switch {
	case !ok:
		return false
	case f.qos != qos:
		return true
	case qos == 2 && !f.released:
		return true
	}
	ss.dropInflightLocked(s, id)
	ss.fillLocked()
	return false
}

// received records a PUBREC and reports whether the id is a QoS 2 message
// in flight; the caller answers with PUBREL either way.
func (ss *session) received(s *Server, id uint16) (known bool, wrongQoS bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	f, ok := ss.inflight[id]
	if !ok {
		return false, false
	}
	if f.qos != 2 {
		return true, true
	}
	f.released = true
	ss.inflight[id] = f
	s.persistEntryLocked(ss, false, entryReleased, f.sequence, id, f.msg, f.qos, f.retain, f.subIDs)
	return true, false
}

// attach binds a live connection to the session, queues its CONNACK, and resends what was in
// flight, in the order it was first sent, with DUP set; released QoS 2
// messages get their PUBREL again [MQTT-4.4.0-1].
//
// Read access is checked again for every message resent: the client's
// access may have changed since it was first sent (CVE-2021-34434). A
// message it may no longer read is dropped from flight.
func (ss *session) attach(c *conn, maxInflight int, connack *packets.Connack) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.conn = c
	ss.online.Store(true)
	ss.maxInflight = maxInflight
	ss.access = c.access
	ss.dropWillLocked(c.s) // resumed before the will delay passed [MQTT-3.1.3-9]
	ss.maxPacketOut = c.maxPacketOut
	ss.mounted = c.mountPoint() != ""
	ss.offlineSince = 0
	c.s.persistSessionLocked(ss)
	c.out.push(outItem{packet: connack})
	for _, id := range ss.inflightOrderLocked() {
		f := ss.inflight[id]
		if f.released {
			c.out.push(outItem{ack: packets.TypePubrel, id: id})
			continue
		}
		if !ss.mayReadLocked(f.msg) || !c.carries(f.msg) {
			// Read access lost since, or no name under the mount point of
			// the listener the session was resumed through.
			ss.dropInflightLocked(c.s, id)
			continue
		}
		c.out.push(outItem{msg: f.msg, qos: f.qos, retain: f.retain, subIDs: f.subIDs, id: id, dup: true})
	}
	ss.fillLocked()
}

func (ss *session) inflightOrderLocked() []uint16 {
	ids := make([]uint16, 0, len(ss.inflight))
	for id := range ss.inflight {
		ids = append(ids, id)
	}
	for i := 1; i < len(ids); i++ { // insertion sort: the window is small
		for j := i; j > 0 && ss.inflight[ids[j]].sequence < ss.inflight[ids[j-1]].sequence; j-- {
			ids[j], ids[j-1] = ids[j-1], ids[j]
		}
	}
	return ids
}

// detach unbinds c if it is still the session's connection. It reports
// whether the session should now end (session expiry 0); a session with a
// finite expiry interval gets a timer that ends it unless it is resumed
// first.
func (ss *session) detach(s *Server, c *conn) (end bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.conn != c {
		return false
	}
	ss.conn = nil
	ss.online.Store(false)
	if ss.expiry == 0 {
		return true
	}
	now := s.o().Clock.Now()
	ss.offlineSince = now.UnixNano()
	s.persistSessionLocked(ss)
	ss.startExpiryLocked(s, now)
	return false
}

// startExpiryLocked starts the timer that ends an offline session once its
// expiry interval, counted from when it went offline, has passed.
func (ss *session) startExpiryLocked(s *Server, now time.Time) {
	expiry, ends := ss.expiryLocked(s)
	if !ends {
		return
	}
	ss.expiryGen++
	gen := ss.expiryGen
	left := time.Unix(0, ss.offlineSince).Add(time.Duration(expiry) * time.Second).Sub(now)
	ss.expiryTimer = s.o().Clock.AfterFunc(max(left, 0), func() { s.expireSession(ss, gen) })
}

// expiryLocked is how many seconds the session outlives its connection,
// and false for one kept until it is resumed: a session that would never
// expire gets Options.PersistentClientExpiration when that is set.
func (ss *session) expiryLocked(s *Server) (seconds uint32, ends bool) {
	if ss.expiry != neverExpires {
		return ss.expiry, true
	}
	if d := s.o().PersistentClientExpiration; d > 0 {
		return uint32(min(d.Seconds(), neverExpires-1)), true
	}
	return 0, false
}

// setExpiry changes the session's expiry interval from DISCONNECT. It
// refuses to turn a session opened with expiry 0 into a lasting one.
func (ss *session) setExpiry(s *Server, expiry uint32) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.expiry == 0 && expiry != 0 {
		return false
	}
	ss.expiry = expiry
	s.persistSessionLocked(ss)
	return true
}

// stopExpiryLocked cancels the expiry of a session being resumed.
func (ss *session) stopExpiryLocked() {
	ss.expiryGen++
	if ss.expiryTimer != nil {
		ss.expiryTimer.Stop()
		ss.expiryTimer = nil
	}
}

// messageQueue is a FIFO of queued messages on a slice.
type messageQueue struct {
	items []queuedMsg
	head  int
	bytes int // payload bytes queued
}

func (q *messageQueue) len() int { return len(q.items) - q.head }

func (q *messageQueue) push(m queuedMsg) {
	if q.head > 0 && q.head == len(q.items) {
		q.items = q.items[:0]
		q.head = 0
	}
	if q.head > 1024 && q.head*2 > len(q.items) {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items = q.items[:n]
		q.head = 0
	}
	q.items = append(q.items, m)
	q.bytes += len(m.msg.Payload)
}

func (q *messageQueue) pop() queuedMsg {
	m := q.items[q.head]
	q.items[q.head] = queuedMsg{}
	q.head++
	q.bytes -= len(m.msg.Payload)
	return m
}
