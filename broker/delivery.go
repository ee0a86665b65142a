package broker

import "github.com/midge-mqtt/midge/packets"

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
		ss.dropLocked(s)
		return
	}
	if qos == 0 {
		o := s.o()
		if ss.conn == nil && o.QueueQoS0 && ss.expiry != 0 {
			ss.queueLocked(s, queuedMsg{msg: m, retain: retain, subIDs: subIDs}, true)
			return
		}
		if ss.conn == nil || !ss.conn.out.pushQoS0(outItem{msg: m, retain: retain, subIDs: subIDs}, o.MaxQueued, o.MaxQueuedBytes) {
			ss.dropLocked(s)
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
		ss.dropLocked(s)
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
