package broker

// queuedMsg is a message waiting for room in the in-flight window.
type queuedMsg struct {
	msg      *Message
	qos      byte
	retain   bool
	subIDs   *subIDList
	sequence uint64 // its place in the session, kept when it goes in flight; the key of its store record
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

// queueLocked queues a message beyond the in-flight window or, when bounded,
// drops it (counted) if the queue is at max_queued_messages or
// max_queued_bytes.
func (ss *session) queueLocked(s *Server, q queuedMsg, bounded bool) {
	o := s.o()
	if bounded && (o.MaxQueued > 0 && ss.queue.len() >= o.MaxQueued ||
		o.MaxQueuedBytes > 0 && ss.queue.bytes+len(q.msg.Payload) > o.MaxQueuedBytes) {
		ss.dropLocked(s)
		return
	}
	ss.sequence++
	q.sequence = ss.sequence
	ss.queue.push(q)
	s.persistEntryLocked(ss, true, entryQueued, q.sequence, 0, q.msg, q.qos, q.retain, q.subIDs)
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
			ss.dropLocked(s)
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
