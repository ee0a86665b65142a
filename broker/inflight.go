package broker

// This file holds the QoS 1 and 2 bookkeeping of a session beyond delivery:
// the receiver state of incoming QoS 2 messages and lookups used to check
// acknowledgements.

// beginReceive records an incoming QoS 2 PUBLISH. fresh reports whether it
// is new, that is, whether it must be delivered; full reports that it is
// new and limit messages already await PUBREL, which ends the connection
// (MQTT 5: DISCONNECT 0x93). The limit is at most every possible packet
// identifier, so a client cannot grow the state by repeating identifiers
// (CVE-2023-28366).
func (ss *session) beginReceive(s *Server, id uint16, limit int) (fresh, full bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if _, dup := ss.awaitingRel[id]; dup {
		return false, false
	}
	if len(ss.awaitingRel) >= limit {
		return false, true
	}
	if ss.awaitingRel == nil {
		ss.awaitingRel = make(map[uint16]struct{})
	}
	ss.awaitingRel[id] = struct{}{}
	s.persistReceivedLocked(ss, id, true)
	return true, false
}

// awaitingRelease reports whether an incoming QoS 2 message with the
// identifier awaits PUBREL, and how many do.
func (ss *session) awaitingRelease(id uint16) (inUse bool, awaiting int) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	_, inUse = ss.awaitingRel[id]
	return inUse, len(ss.awaitingRel)
}

// release handles PUBREL: the identifier may be used again. It reports
// whether the identifier was awaiting release.
func (ss *session) release(s *Server, id uint16) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if _, ok := ss.awaitingRel[id]; !ok {
		return false
	}
	delete(ss.awaitingRel, id)
	s.persistReceivedLocked(ss, id, false)
	return true
}

// abandon drops an outgoing message the receiver refused.
func (ss *session) abandon(s *Server, id uint16) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.dropInflightLocked(s, id)
	ss.fillLocked()
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

// dropInflightLocked removes a message from flight.
func (ss *session) dropInflightLocked(s *Server, id uint16) {
	if f, ok := ss.inflight[id]; ok {
		ss.inflightSize -= len(f.msg.Payload)
		delete(ss.inflight, id)
		s.unpersistEntryLocked(ss, f.sequence, f.msg)
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
