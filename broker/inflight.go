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
