package broker

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"strconv"
	"time"
)

// Restored counts what Open restored from the Store, for the log.
type Restored struct {
	Sessions int // persistent sessions, offline until their clients return
	Retained int // retained messages
	Queued   int // messages queued or in flight toward those sessions, one for each session
}

// Restored returns what Open restored from Options.Store; zero without a
// Store.
func (s *Server) Restored() Restored { return s.restored }

// restore loads the store's records into the broker before it serves:
// retained messages, and persistent sessions offline with their
// subscriptions, queued and in-flight messages, QoS 2 state and held
// wills, and counts them in s.restored. A session whose expiry passed
// while the broker was down is removed, with what belongs to it. A record
// it cannot read stops the start. As Mosquitto's persist_read.c, it reads
// each kind of record with a function of its own (restoration's methods),
// then ties the records of a session to it.
func (s *Server) restore() error {
	r := &restoration{
		s:        s,
		now:      s.o().Clock.Now(),
		sessions: make(map[string]*session),
		messages: make(map[uint64]*Message),
		sources:  make(map[identity]restoredPublisher),
	}
	if err := s.o().Store.Load(r.record); err != nil {
		return err
	}
	for _, step := range []func() error{r.attachEntries, r.attachReceived, r.attachWills} {
		if err := step(); err != nil {
			return err
		}
	}
	r.dropUnheldMessages()
	r.installSessions()
	r.finish()
	return nil
}

// restoration is the state of one restore: what was read so far, and what
// is to be removed from the store because it expired while the broker was
// down.
type restoration struct {
	s   *Server
	now time.Time

	// sessions holds every session record read, nil for one that
	// expired; messages the messages that entries refer to.
	sessions map[string]*session
	messages map[uint64]*Message
	entries  []restoredEntry // queued and in-flight messages, tied to sessions after the load
	received []restoredEntry // QoS 2 packet identifiers awaiting PUBREL
	wills    []heldWill
	expired  [][]byte   // keys to delete
	due      []*Message // wills whose sessions ended while the broker was down

	// sources are the publishers of retained messages and wills, for
	// check_retain_source; unsourced counts retained messages whose
	// records name none.
	sources   map[identity]restoredPublisher
	unsourced int
	restored  Restored
}

// restoredEntry is a session's message entry, or (seq a packet
// identifier) its QoS 2 state.
type restoredEntry struct {
	client string
	seq    uint64
	rec    entryRecord
	key    []byte
}

type heldWill struct {
	client string
	due    int64
	msg    *Message
	key    []byte
}

// record reads one record, by its kind.
func (r *restoration) record(key, value []byte) error {
	kind, names, ok := splitKey(key)
	if !ok {
		return fmt.Errorf("%w: key %q", ErrStoreDamaged, key)
	}
	switch {
	case kind == kindRetained && len(names) == 1:
		return r.retainedRecord(names[0], key, value)
	case kind == kindSession && len(names) == 1:
		return r.sessionRecord(names[0], key, value)
	case kind == kindMessage && len(names) == 1:
		return r.messageRecord(names[0], value)
	case kind == kindEntry && len(names) == 2:
		return r.entryRecord(names[0], names[1], key, value)
	case kind == kindReceived && len(names) == 2:
		return r.receivedRecord(names[0], names[1], key, value)
	case kind == kindWill && len(names) == 1:
		return r.willRecord(names[0], key, value)
	case kind == kindSubscription && len(names) == 2:
		return r.subscriptionRecord(names[0], names[1], key, value)
	}
	return fmt.Errorf("%w: key %q", ErrStoreDamaged, key)
}

// retainedRecord stores a retained message again, unless it expired.
func (r *restoration) retainedRecord(topic string, key, value []byte) error {
	m, err := decodeSourced(value, topic)
	if err != nil {
		return fmt.Errorf("%w: retained message %q: %v", ErrStoreDamaged, topic, err)
	}
	if r.s.expired(m) {
		r.expired = append(r.expired, bytes.Clone(key))
		return nil
	}
	m.Retain = true
	if m.source == nil {
		r.unsourced++
	}
	r.restored.Retained++
	r.s.retained.set(m, r.s.restoredSource(m, r.sources))
	return nil
}

// sessionRecord makes an offline session, or marks one whose expiry
// passed while the broker was down as gone, with its subscriptions.
func (r *restoration) sessionRecord(client string, key, value []byte) error {
	rec, err := decodeSession(value)
	if err != nil {
		return fmt.Errorf("%w: session %q: %v", ErrStoreDamaged, client, err)
	}
	if rec.expiry != neverExpires && r.now.Sub(time.Unix(0, rec.offlineSince)) >= time.Duration(rec.expiry)*time.Second {
		r.expired = append(r.expired, bytes.Clone(key))
		r.sessions[client] = nil
		return nil
	}
	ss := newSession(client, rec.expiry, rec.owner, rec.hasOwner)
	ss.persisted, ss.offlineSince = true, rec.offlineSince
	r.sessions[client] = ss
	return nil
}

// messageRecord reads a message that sessions' entries refer to.
func (r *restoration) messageRecord(name string, value []byte) error {
	id, err := strconv.ParseUint(name, 16, 64)
	m, err2 := decodeMessage(value, "")
	if err != nil || err2 != nil || id == 0 {
		return fmt.Errorf("%w: message %q: %v", ErrStoreDamaged, name, cmp.Or(err, err2))
	}
	m.storeID = id
	r.messages[id] = m
	r.s.lastStoreID = max(r.s.lastStoreID, id)
	return nil
}

// entryRecord keeps a session's queued or in-flight message for
// attachEntries: its session and message may come later in the load.
func (r *restoration) entryRecord(client, seqName string, key, value []byte) error {
	seq, err := strconv.ParseUint(seqName, 16, 64)
	rec, err2 := decodeEntry(value)
	if err != nil || err2 != nil {
		return fmt.Errorf("%w: message entry %q of session %q: %v", ErrStoreDamaged, seqName, client, cmp.Or(err, err2))
	}
	r.entries = append(r.entries, restoredEntry{client: client, seq: seq, rec: rec, key: bytes.Clone(key)})
	return nil
}

// receivedRecord keeps a QoS 2 packet identifier awaiting PUBREL.
func (r *restoration) receivedRecord(client, idName string, key, value []byte) error {
	id, err := strconv.ParseUint(idName, 16, 16)
	if err != nil || len(value) != 1 || value[0] != recordFormat {
		return fmt.Errorf("%w: QoS 2 state %q of session %q", ErrStoreDamaged, idName, client)
	}
	r.received = append(r.received, restoredEntry{client: client, seq: id, key: bytes.Clone(key)})
	return nil
}

// willRecord keeps a will waiting for its delay.
func (r *restoration) willRecord(client string, key, value []byte) error {
	if len(value) < 9 {
		return fmt.Errorf("%w: will of session %q", ErrStoreDamaged, client)
	}
	m, err := decodeSourced(value[8:], "")
	if err != nil {
		return fmt.Errorf("%w: will of session %q: %v", ErrStoreDamaged, client, err)
	}
	r.wills = append(r.wills, heldWill{client: client, due: int64(binary.BigEndian.Uint64(value)), msg: m, key: bytes.Clone(key)})
	return nil
}

// subscriptionRecord subscribes its session again. Keys sort a session's
// subscriptions after the session's own record.
func (r *restoration) subscriptionRecord(client, filter string, key, value []byte) error {
	ss, seen := r.sessions[client]
	if !seen {
		return fmt.Errorf("%w: subscription %q of session %q, which has no record", ErrStoreDamaged, filter, client)
	}
	if ss == nil {
		r.expired = append(r.expired, bytes.Clone(key))
		return nil
	}
	sub, ids, err := decodeSubscription(filter, value)
	if err != nil {
		return fmt.Errorf("%w: subscription %q of session %q: %v", ErrStoreDamaged, filter, client, err)
	}
	ss.mu.Lock()
	ss.indexLocked(r.s, sub, ids)
	ss.mu.Unlock()
	return nil
}

// attachEntries puts each queued or in-flight message back in its session.
func (r *restoration) attachEntries() error {
	for _, e := range r.entries {
		ss, seen := r.sessions[e.client]
		m := r.messages[e.rec.messageID]
		switch {
		case !seen:
			return fmt.Errorf("%w: message entry of session %q, which has no record", ErrStoreDamaged, e.client)
		case m == nil:
			return fmt.Errorf("%w: message entry of session %q names message %x, which has no record", ErrStoreDamaged, e.client, e.rec.messageID)
		case ss == nil: // the session expired
			r.expired = append(r.expired, e.key)
			continue
		}
		m.storeRefs++
		r.restored.Queued++
		var ids *subIDList
		if e.rec.subID != 0 {
			ids = &subIDList{ids: []uint32{e.rec.subID}}
		}
		ss.sequence = max(ss.sequence, e.seq)
		if e.rec.state == entryQueued {
			ss.queue.push(queuedMsg{msg: m, qos: e.rec.qos, retain: e.rec.retain, subIDs: ids, sequence: e.seq})
			continue
		}
		if ss.inflight == nil {
			ss.inflight = make(map[uint16]inflightMsg)
		}
		ss.inflight[e.rec.packetID] = inflightMsg{msg: m, qos: e.rec.qos, retain: e.rec.retain, subIDs: ids,
			sequence: e.seq, released: e.rec.state == entryReleased}
		ss.inflightSize += len(m.Payload)
		ss.nextID = max(ss.nextID, e.rec.packetID)
	}
	return nil
}

// attachReceived gives each session its QoS 2 messages awaiting PUBREL.
func (r *restoration) attachReceived() error {
	for _, e := range r.received {
		ss, seen := r.sessions[e.client]
		switch {
		case !seen:
			return fmt.Errorf("%w: QoS 2 state of session %q, which has no record", ErrStoreDamaged, e.client)
		case ss == nil:
			r.expired = append(r.expired, e.key)
			continue
		}
		if ss.awaitingRel == nil {
			ss.awaitingRel = make(map[uint16]struct{})
		}
		ss.awaitingRel[uint16(e.seq)] = struct{}{}
	}
	return nil
}

// attachWills holds each will again until its delay ends; the will of a
// session that ended while the broker was down was due then, and goes now.
func (r *restoration) attachWills() error {
	for _, w := range r.wills {
		ss, seen := r.sessions[w.client]
		if !seen {
			return fmt.Errorf("%w: will of session %q, which has no record", ErrStoreDamaged, w.client)
		}
		if ss == nil {
			r.expired = append(r.expired, w.key)
			r.due = append(r.due, w.msg)
			continue
		}
		s := r.s
		pw := &pendingWill{msg: w.msg, source: s.restoredSource(w.msg, r.sources), due: time.Unix(0, w.due)}
		pw.timer = s.o().Clock.AfterFunc(max(pw.due.Sub(r.now), 0), func() { s.releaseWill(ss, pw) })
		ss.pendingWill = pw
	}
	return nil
}

// dropUnheldMessages removes messages that only expired sessions held.
func (r *restoration) dropUnheldMessages() {
	for id, m := range r.messages {
		if m.storeRefs == 0 {
			r.expired = append(r.expired, storeKey(kindMessage, hex16(id)))
			m.storeID = 0
		}
	}
}

// installSessions makes the live sessions the broker's and starts their
// expiry.
func (r *restoration) installSessions() {
	for id, ss := range r.sessions {
		if ss == nil {
			continue
		}
		r.s.sessions.m[id] = ss
		r.restored.Sessions++
		ss.mu.Lock()
		ss.startExpiryLocked(r.s, r.now)
		ss.mu.Unlock()
	}
}

// finish deletes what expired, publishes the wills that fell due and
// records the counts.
func (r *restoration) finish() {
	s := r.s
	if len(r.expired) > 0 {
		s.counters.sessionsExpired.Add(int64(len(r.sessions) - len(s.sessions.m)))
		s.o().Store.Write(r.expired, make([][]byte, len(r.expired)), true, s.storeFailed)
	}
	for _, m := range r.due {
		s.publish(m, new(router), nil, s.restoredSource(m, r.sources))
	}
	if r.unsourced > 0 && s.o().Authorizer != nil && !s.o().NoRetainSourceCheck {
		s.log.Info(fmt.Sprintf("%d retained messages in the store have no recorded publisher (written by an earlier version): "+
			"check_retain_source does not apply to them", r.unsourced))
	}
	s.restored = r.restored
}
