package broker

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/midge-mqtt/midge/packets"
)

// storeWrite hands one batch to the store, if there is one.
func (s *Server) storeWrite(keys, values [][]byte) {
	if st := s.o().Store; st != nil {
		st.Write(keys, values, false, s.storeFailed)
	}
}

// storeFailed logs a write the store could not make: the first of a run
// of failures, not each (a full disk or a stopped store fails every
// write), and that writes succeed again after one.
func (s *Server) storeFailed(err error) {
	if err == nil {
		if s.storeFailing.CompareAndSwap(true, false) {
			s.log.Info("Store writes succeed again.")
		}
		return
	}
	if s.storeFailing.CompareAndSwap(false, true) {
		s.log.Error(fmt.Sprintf("Store write failed (%v): state since the last good write may be lost at restart; "+
			"later failures are not logged until a write succeeds.", err))
	}
}

// persistRetained records the retained message of topic, or its removal.
func (s *Server) persistRetained(m *Message) {
	if s.o().Store == nil || strings.HasPrefix(m.Topic, "$SYS/") {
		return // $SYS is the broker's own, made afresh at each start
	}
	var v []byte
	if len(m.Payload) > 0 {
		v = encodeSourced(m)
	}
	s.storeWrite([][]byte{storeKey(kindRetained, m.Topic)}, [][]byte{v})
}

// persistSessionLocked records a persistent session as it is now, or
// removes it once it is no longer persistent. ss.mu is held.
func (s *Server) persistSessionLocked(ss *session) {
	if s.o().Store == nil || !ss.persisted && ss.expiry == 0 {
		return
	}
	if ss.expiry == 0 || ss.ended {
		s.unpersistSessionLocked(ss)
		return
	}
	ss.persisted = true
	s.storeWrite([][]byte{storeKey(kindSession, ss.id)}, [][]byte{encodeSession(ss)})
}

// unpersistSessionLocked removes a session and its subscriptions from the
// store.
func (s *Server) unpersistSessionLocked(ss *session) {
	if !ss.persisted {
		return
	}
	ss.persisted = false
	keys := [][]byte{storeKey(kindSession, ss.id)}
	for filter := range ss.subs {
		keys = append(keys, storeKey(kindSubscription, ss.id, filter))
	}
	for id := range ss.awaitingRel {
		keys = append(keys, storeKey(kindReceived, ss.id, fmt.Sprintf("%04x", id)))
	}
	keys = append(keys, storeKey(kindWill, ss.id))
	for i := ss.queue.head; i < len(ss.queue.items); i++ {
		q := ss.queue.items[i]
		keys = s.appendEntryRemoval(keys, ss, q.sequence, q.msg)
	}
	for _, f := range ss.inflight {
		keys = s.appendEntryRemoval(keys, ss, f.sequence, f.msg)
	}
	s.storeWrite(keys, make([][]byte, len(keys)))
}

// persistSubscriptionLocked records or (sub nil) removes one subscription
// of a persistent session.
func (s *Server) persistSubscriptionLocked(ss *session, filter string, sub *packets.Subscription, subIDs *subIDList) {
	if !ss.persisted {
		return
	}
	var v []byte
	if sub != nil {
		v = encodeSubscription(sub, subIDs)
	}
	s.storeWrite([][]byte{storeKey(kindSubscription, ss.id, filter)}, [][]byte{v})
}

// persistEntryLocked records a message queued or in flight toward a
// persistent session (and the message itself, the first time a session
// holds it); fresh is false for a change of state of an entry already
// recorded. ss.mu is held.
func (s *Server) persistEntryLocked(ss *session, fresh bool, state byte, seq uint64, packetID uint16, m *Message, qos byte, retain bool, subIDs *subIDList) {
	if !ss.persisted {
		return
	}
	keys, values := s.refMessage(m, fresh)
	v := []byte{recordFormat, state, qos, 0}
	if retain {
		v[3] = 1
	}
	v = binary.BigEndian.AppendUint16(v, packetID)
	id := uint32(0)
	if subIDs != nil && len(subIDs.ids) > 0 {
		id = subIDs.ids[0]
	}
	v = binary.BigEndian.AppendUint32(v, id)
	v = binary.BigEndian.AppendUint64(v, m.storeID)
	keys = append(keys, storeKey(kindEntry, ss.id, hex16(seq)))
	values = append(values, v)
	s.storeWrite(keys, values)
}

// refMessage counts one more entry holding m when fresh (a new entry, not a
// change of state), and returns the write of its record when it has none
// yet. The record is written before any entry naming it: the store applies
// batches in order.
func (s *Server) refMessage(m *Message, fresh bool) (keys, values [][]byte) {
	s.persistMu.Lock()
	defer s.persistMu.Unlock()
	if m.storeID == 0 {
		s.lastStoreID++
		m.storeID = s.lastStoreID
		keys, values = [][]byte{storeKey(kindMessage, hex16(m.storeID))}, [][]byte{encodeMessage(m)}
	}
	if fresh || m.storeRefs == 0 {
		m.storeRefs++
	}
	return keys, values
}

// unpersistEntryLocked removes a session's entry, and the message's record
// once no entry holds it.
func (s *Server) unpersistEntryLocked(ss *session, seq uint64, m *Message) {
	if !ss.persisted {
		return
	}
	keys := s.appendEntryRemoval(nil, ss, seq, m)
	s.storeWrite(keys, make([][]byte, len(keys)))
}

// appendEntryRemoval appends to keys the deletion of a session's entry, and
// of the message's record once no entry holds it.
func (s *Server) appendEntryRemoval(keys [][]byte, ss *session, seq uint64, m *Message) [][]byte {
	keys = append(keys, storeKey(kindEntry, ss.id, hex16(seq)))
	s.persistMu.Lock()
	defer s.persistMu.Unlock()
	if m.storeID != 0 {
		if m.storeRefs--; m.storeRefs <= 0 {
			keys = append(keys, storeKey(kindMessage, hex16(m.storeID)))
			m.storeID, m.storeRefs = 0, 0
		}
	}
	return keys
}

// persistReceivedLocked records (or, with awaiting false, removes) an
// incoming QoS 2 message awaiting PUBREL, so that a restarted broker still
// knows not to deliver it twice.
func (s *Server) persistReceivedLocked(ss *session, id uint16, awaiting bool) {
	if !ss.persisted {
		return
	}
	var v []byte
	if awaiting {
		v = []byte{recordFormat}
	}
	s.storeWrite([][]byte{storeKey(kindReceived, ss.id, fmt.Sprintf("%04x", id))}, [][]byte{v})
}

// persistWillLocked records a session's will waiting for its delay, or
// (pw nil) its removal: published, dropped on resuming, or gone with its
// session. The record names the will's client, whose access a restored
// will is retained with, for check_retain_source.
func (s *Server) persistWillLocked(ss *session, pw *pendingWill) {
	if !ss.persisted {
		return
	}
	var v []byte
	if pw != nil {
		v = binary.BigEndian.AppendUint64(nil, uint64(pw.due.UnixNano()))
		v = append(v, encodeSourced(pw.msg)...)
	}
	s.storeWrite([][]byte{storeKey(kindWill, ss.id)}, [][]byte{v})
}
