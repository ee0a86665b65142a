package broker

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/midge-mqtt/midge/packets"
)

// The broker's state as keys and values in a Store. A key is a one-byte
// kind, then the names that identify the record, separated by 0 bytes
// (client identifiers, topic names and filters never hold U+0000):
//
//	r 0 TOPIC              a retained message, with its publisher
//	s 0 CLIENTID           a persistent session: expiry, owner, when it went offline
//	u 0 CLIENTID 0 FILTER  one of its subscriptions
//	q 0 CLIENTID 0 SEQ     a message queued or in flight toward it (SEQ: 16 hex digits)
//	m 0 ID                 a message such entries refer to (ID: 16 hex digits)
//	p 0 CLIENTID 0 PID     a QoS 2 message it sent, awaiting PUBREL (PID: 4 hex digits)
//	w 0 CLIENTID           its MQTT 5 will, waiting for its delay, with its publisher
//
// Each value starts with a format byte, so that a later format can tell
// old records apart. A retained message or a will published by a client
// is in sourcedFormat (see encodeSourced); the broker's own are in
// recordFormat, as every message was before publishers were kept.
const (
	kindRetained     = 'r'
	kindSession      = 's'
	kindSubscription = 'u'
	kindEntry        = 'q'
	kindMessage      = 'm'
	kindReceived     = 'p'
	kindWill         = 'w'
	recordFormat     = 1
	sourcedFormat    = 2
)

// ErrStoreDamaged wraps what Open found wrong in a store's records.
var ErrStoreDamaged = errors.New("broker: store damaged")

func storeKey(kind byte, names ...string) []byte {
	n := 1
	for _, s := range names {
		n += 1 + len(s)
	}
	k := make([]byte, 0, n)
	k = append(k, kind)
	for _, s := range names {
		k = append(k, 0)
		k = append(k, s...)
	}
	return k
}

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

// encodeMessage is a message as a record: its expiry time, then the MQTT 5
// PUBLISH that carries its QoS, RETAIN flag, topic, properties and
// payload.
func encodeMessage(m *Message) []byte {
	p := packets.Publish{QoS: m.QoS, Retain: m.Retain, Topic: m.Topic, Payload: m.Payload}
	if m.Properties != nil {
		p.Properties = *m.Properties
	}
	if p.QoS > 0 {
		p.PacketID = 1
	}
	b := make([]byte, 9, 9+len(m.Topic)+len(m.Payload)+16)
	b[0] = recordFormat
	binary.BigEndian.PutUint64(b[1:], uint64(m.expiresAt))
	b, err := p.Encode(b, packets.V5)
	if err != nil {
		return nil
	}
	return b
}

// decodeMessage reads a message record; topic, when it equals the record's
// topic name (a retained message's key holds it), is kept instead of a copy.
func decodeMessage(v []byte, topic string) (*Message, error) {
	if len(v) < 10 || v[0] != recordFormat {
		return nil, errors.New("message record: unknown format")
	}
	// The record's PUBLISH becomes the message's first wire form, as
	// newMessage would have made it, and its payload the tail of that.
	first := bytes.Clone(v[9:])
	h, body, err := packets.SplitFrame(first)
	if err != nil || h.Type != packets.TypePublish {
		return nil, fmt.Errorf("message record: %v", cmp.Or(err, errors.New("not a PUBLISH")))
	}
	p := packets.Publish{Topic: topic} // Decode keeps an equal topic name
	if err := p.Decode(h.Flags, body, packets.V5); err != nil {
		return nil, fmt.Errorf("message record: %w", err)
	}
	return &Message{
		Topic:      p.Topic,
		Payload:    p.Payload,
		QoS:        p.QoS,
		Retain:     p.Retain,
		Properties: forwardedProperties(&p.Properties),
		expiresAt:  int64(binary.BigEndian.Uint64(v[1:])),
		first:      first,
		firstKey:   keyOf(packets.V5, p.QoS, p.Retain),
	}, nil
}

// encodeSourced is a message record that names the client that published
// the message, for check_retain_source after a restart: sourcedFormat, a
// flag byte (1: the client had a user name), the client identifier and the
// user name, each after its length in two bytes, then the message record
// (encodeMessage). A message without a source is the message record
// alone.
func encodeSourced(m *Message) []byte {
	msg := encodeMessage(m)
	who := m.source
	if who == nil || msg == nil || len(who.clientID) > 0xFFFF || len(who.username) > 0xFFFF {
		return msg
	}
	b := make([]byte, 0, 6+len(who.clientID)+len(who.username)+len(msg))
	flags := byte(0)
	if who.hasUsername {
		flags = 1
	}
	b = append(b, sourcedFormat, flags)
	b = binary.BigEndian.AppendUint16(b, uint16(len(who.clientID)))
	b = append(b, who.clientID...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(who.username)))
	b = append(b, who.username...)
	return append(b, msg...)
}

// decodeSourced reads a record of encodeSourced, or a message record
// without a source (one written before sources were kept, or one of the
// broker's own messages); topic as for decodeMessage.
func decodeSourced(v []byte, topic string) (*Message, error) {
	if len(v) == 0 || v[0] != sourcedFormat {
		return decodeMessage(v, topic)
	}
	errShort := errors.New("message record: publisher cut short")
	if len(v) < 2 || v[1] > 1 {
		return nil, errShort
	}
	who := &identity{hasUsername: v[1] == 1}
	rest := v[2:]
	for _, field := range []*string{&who.clientID, &who.username} {
		if len(rest) < 2 || len(rest) < 2+int(binary.BigEndian.Uint16(rest)) {
			return nil, errShort
		}
		n := int(binary.BigEndian.Uint16(rest))
		*field, rest = string(rest[2:2+n]), rest[2+n:]
	}
	m, err := decodeMessage(rest, topic)
	if err != nil {
		return nil, err
	}
	m.source = who
	return m, nil
}

// encodeSession is a session record: expiry interval, owner, and when it
// went offline (Unix nanoseconds; 0 while connected).
func encodeSession(ss *session) []byte {
	b := []byte{recordFormat}
	b = binary.BigEndian.AppendUint32(b, ss.expiry)
	b = binary.BigEndian.AppendUint64(b, uint64(ss.offlineSince))
	owner := byte(0)
	if ss.hasOwner {
		owner = 1
	}
	b = append(b, owner)
	return append(b, ss.owner...)
}

type sessionRecord struct {
	expiry       uint32
	offlineSince int64
	owner        string
	hasOwner     bool
}

func decodeSession(v []byte) (sessionRecord, error) {
	if len(v) < 14 || v[0] != recordFormat {
		return sessionRecord{}, errors.New("session record: unknown format")
	}
	return sessionRecord{
		expiry:       binary.BigEndian.Uint32(v[1:]),
		offlineSince: int64(binary.BigEndian.Uint64(v[5:])),
		hasOwner:     v[13] == 1,
		owner:        string(v[14:]),
	}, nil
}

// encodeSubscription is a subscription's options and identifier.
func encodeSubscription(sub *packets.Subscription, subIDs *subIDList) []byte {
	b := []byte{recordFormat, sub.QoS, sub.RetainHandling, 0}
	if sub.NoLocal {
		b[3] |= 1
	}
	if sub.RetainAsPublished {
		b[3] |= 2
	}
	id := uint32(0)
	if subIDs != nil && len(subIDs.ids) > 0 {
		id = subIDs.ids[0]
	}
	return binary.BigEndian.AppendUint32(b, id)
}

func decodeSubscription(filter string, v []byte) (packets.Subscription, *subIDList, error) {
	if len(v) != 8 || v[0] != recordFormat || v[1] > 2 || v[2] > 2 {
		return packets.Subscription{}, nil, errors.New("subscription record: unknown format")
	}
	sub := packets.Subscription{Filter: filter, QoS: v[1], RetainHandling: v[2], NoLocal: v[3]&1 != 0, RetainAsPublished: v[3]&2 != 0}
	var ids *subIDList
	if id := binary.BigEndian.Uint32(v[4:]); id != 0 {
		ids = &subIDList{ids: []uint32{id}}
	}
	return sub, ids, nil
}

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
// subscriptions, and counts them in s.restored. A session whose expiry
// passed while the broker was down is removed. A record it cannot read
// stops the start.
func (s *Server) restore() error {
	st := s.o().Store
	now := s.o().Clock.Now()
	var expired [][]byte
	sessions := make(map[string]*session)
	messages := make(map[uint64]*Message)
	type entry struct {
		client string
		seq    uint64
		rec    entryRecord
		key    []byte
	}
	var entries, received []entry
	type heldWill struct {
		client string
		due    int64
		msg    *Message
		key    []byte
	}
	var wills []heldWill
	var due []*Message // wills whose sessions ended while the broker was down

	// The access of the publishers of retained messages and wills, for
	// check_retain_source, and the count of retained messages whose
	// records name no publisher.
	sources := make(map[identity]restoredPublisher)
	unsourced := 0
	var restored Restored
	err := st.Load(func(key, value []byte) error {
		kind, names, ok := splitKey(key)
		if !ok {
			return fmt.Errorf("%w: key %q", ErrStoreDamaged, key)
		}
		switch {
		case kind == kindRetained && len(names) == 1:
			m, err := decodeSourced(value, names[0])
			if err != nil {
				return fmt.Errorf("%w: retained message %q: %v", ErrStoreDamaged, names[0], err)
			}
			if s.expired(m) {
				expired = append(expired, bytes.Clone(key))
				return nil
			}
			m.Retain = true
			if m.source == nil {
				unsourced++
			}
			restored.Retained++
			s.retained.set(m, s.restoredSource(m, sources))
		case kind == kindSession && len(names) == 1:
			rec, err := decodeSession(value)
			if err != nil {
				return fmt.Errorf("%w: session %q: %v", ErrStoreDamaged, names[0], err)
			}
			if rec.expiry != neverExpires && now.Sub(time.Unix(0, rec.offlineSince)) >= time.Duration(rec.expiry)*time.Second {
				expired = append(expired, bytes.Clone(key))
				sessions[names[0]] = nil // its subscriptions go too
				return nil
			}
			ss := newSession(names[0], rec.expiry, rec.owner, rec.hasOwner)
			ss.persisted, ss.offlineSince = true, rec.offlineSince
			sessions[names[0]] = ss
		case kind == kindMessage && len(names) == 1:
			id, err := strconv.ParseUint(names[0], 16, 64)
			m, err2 := decodeMessage(value, "")
			if err != nil || err2 != nil || id == 0 {
				return fmt.Errorf("%w: message %q: %v", ErrStoreDamaged, names[0], cmp.Or(err, err2))
			}
			m.storeID = id
			messages[id] = m
			s.lastStoreID = max(s.lastStoreID, id)
		case kind == kindEntry && len(names) == 2:
			seq, err := strconv.ParseUint(names[1], 16, 64)
			rec, err2 := decodeEntry(value)
			if err != nil || err2 != nil {
				return fmt.Errorf("%w: message entry %q of session %q: %v", ErrStoreDamaged, names[1], names[0], cmp.Or(err, err2))
			}
			entries = append(entries, entry{client: names[0], seq: seq, rec: rec, key: bytes.Clone(key)})
		case kind == kindReceived && len(names) == 2:
			id, err := strconv.ParseUint(names[1], 16, 16)
			if err != nil || len(value) != 1 || value[0] != recordFormat {
				return fmt.Errorf("%w: QoS 2 state %q of session %q", ErrStoreDamaged, names[1], names[0])
			}
			received = append(received, entry{client: names[0], seq: id, key: bytes.Clone(key)})
		case kind == kindWill && len(names) == 1:
			if len(value) < 9 {
				return fmt.Errorf("%w: will of session %q", ErrStoreDamaged, names[0])
			}
			m, err := decodeSourced(value[8:], "")
			if err != nil {
				return fmt.Errorf("%w: will of session %q: %v", ErrStoreDamaged, names[0], err)
			}
			wills = append(wills, heldWill{client: names[0], due: int64(binary.BigEndian.Uint64(value)), msg: m, key: bytes.Clone(key)})
		case kind == kindSubscription && len(names) == 2:
			ss, seen := sessions[names[0]]
			if !seen {
				return fmt.Errorf("%w: subscription %q of session %q, which has no record", ErrStoreDamaged, names[1], names[0])
			}
			if ss == nil {
				expired = append(expired, bytes.Clone(key))
				return nil
			}
			sub, ids, err := decodeSubscription(names[1], value)
			if err != nil {
				return fmt.Errorf("%w: subscription %q of session %q: %v", ErrStoreDamaged, names[1], names[0], err)
			}
			ss.mu.Lock()
			ss.indexLocked(s, sub, ids)
			ss.mu.Unlock()
		default:
			return fmt.Errorf("%w: key %q", ErrStoreDamaged, key)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, e := range entries {
		ss, seen := sessions[e.client]
		m := messages[e.rec.messageID]
		switch {
		case !seen:
			return fmt.Errorf("%w: message entry of session %q, which has no record", ErrStoreDamaged, e.client)
		case m == nil:
			return fmt.Errorf("%w: message entry of session %q names message %x, which has no record", ErrStoreDamaged, e.client, e.rec.messageID)
		case ss == nil: // the session expired
			expired = append(expired, e.key)
			continue
		}
		m.storeRefs++
		restored.Queued++
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
	for _, e := range received {
		ss, seen := sessions[e.client]
		switch {
		case !seen:
			return fmt.Errorf("%w: QoS 2 state of session %q, which has no record", ErrStoreDamaged, e.client)
		case ss == nil:
			expired = append(expired, e.key)
			continue
		}
		if ss.awaitingRel == nil {
			ss.awaitingRel = make(map[uint16]struct{})
		}
		ss.awaitingRel[uint16(e.seq)] = struct{}{}
	}
	for _, w := range wills {
		ss, seen := sessions[w.client]
		if !seen {
			return fmt.Errorf("%w: will of session %q, which has no record", ErrStoreDamaged, w.client)
		}
		if ss == nil {
			// Its session ended while the broker was down: the will was
			// due then, and goes now.
			expired = append(expired, w.key)
			due = append(due, w.msg)
			continue
		}
		pw := &pendingWill{msg: w.msg, source: s.restoredSource(w.msg, sources), due: time.Unix(0, w.due)}
		pw.timer = s.o().Clock.AfterFunc(max(pw.due.Sub(now), 0), func() { s.releaseWill(ss, pw) })
		ss.pendingWill = pw
	}
	for id, m := range messages {
		if m.storeRefs == 0 { // held by sessions that expired only
			expired = append(expired, storeKey(kindMessage, hex16(id)))
			m.storeID = 0
		}
	}
	for id, ss := range sessions {
		if ss == nil {
			continue
		}
		s.sessions.m[id] = ss
		restored.Sessions++
		ss.mu.Lock()
		ss.startExpiryLocked(s, now)
		ss.mu.Unlock()
	}
	if len(expired) > 0 {
		s.counters.sessionsExpired.Add(int64(len(sessions) - len(s.sessions.m)))
		st.Write(expired, make([][]byte, len(expired)), true, s.storeFailed)
	}
	for _, m := range due {
		s.publish(m, new(router), nil, s.restoredSource(m, sources))
	}
	if unsourced > 0 && s.o().Authorizer != nil && !s.o().NoRetainSourceCheck {
		s.log.Info(fmt.Sprintf("%d retained messages in the store have no recorded publisher (written by an earlier version): "+
			"check_retain_source does not apply to them", unsourced))
	}
	s.restored = restored
	return nil
}

// splitKey takes a key apart into its kind and names.
func splitKey(key []byte) (kind byte, names []string, ok bool) {
	if len(key) < 2 || key[1] != 0 {
		return 0, nil, false
	}
	rest := key[2:]
	names = make([]string, 0, 1+bytes.Count(rest, []byte{0}))
	for {
		i := bytes.IndexByte(rest, 0)
		if i < 0 {
			return key[0], append(names, string(rest)), true
		}
		names = append(names, string(rest[:i]))
		rest = rest[i+1:]
	}
}

// The states of a session's message entry.
const (
	entryQueued   = 0 // waiting for room in flight
	entryInflight = 1 // sent with its packet identifier, not acknowledged
	entryReleased = 2 // QoS 2: PUBREC received, PUBREL sent
)

func hex16(n uint64) string { return fmt.Sprintf("%016x", n) }

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

type entryRecord struct {
	state, qos byte
	retain     bool
	packetID   uint16
	subID      uint32
	messageID  uint64
}

func decodeEntry(v []byte) (entryRecord, error) {
	if len(v) != 18 || v[0] != recordFormat || v[1] > entryReleased || v[2] > 2 {
		return entryRecord{}, errors.New("message entry: unknown format")
	}
	return entryRecord{state: v[1], qos: v[2], retain: v[3]&1 != 0, packetID: binary.BigEndian.Uint16(v[4:]),
		subID: binary.BigEndian.Uint32(v[6:]), messageID: binary.BigEndian.Uint64(v[10:])}, nil
}

// pushAfterStore queues an acknowledgement to go out once everything the
// broker has handed the Store so far is durable: with a Store, the
// promise of a PUBACK, PUBREC or PUBCOMP is that what it acknowledges
// survives a crash. The store completes writes in order, so the client's
// acknowledgements keep the order of its packets [MQTT-4.6.0-2]. If the
// store fails, the acknowledgement does not go out at MQTT 3.1.1 (the
// client sends again), and goes out with 0x80 Unspecified error at MQTT 5.
func (c *conn) pushAfterStore(it outItem) {
	st := c.s.o().Store
	if st == nil {
		c.out.push(it)
		return
	}
	answers := answersMessage(it)
	if answers {
		c.unanswered.Add(1)
	}
	st.Write(nil, nil, true, func(err error) {
		if answers {
			defer c.unanswered.Add(-1) // after the push: the answer is out
		}
		if err != nil {
			c.s.storeFailed(err)
			if c.version != packets.V5 {
				return
			}
			if it.packet == nil {
				it.reason = packets.UnspecifiedError
			} else if a, ok := it.packet.(*packets.Ack); ok {
				a.ReasonCode = packets.UnspecifiedError
			}
		}
		c.out.push(it)
	})
}

// answersMessage reports whether it ends a QoS 1 or 2 message from the
// client as MQTT 5's receive maximum counts them: PUBACK, PUBCOMP, or a
// PUBREC with a refusal [MQTT-3.3.4-9].
func answersMessage(it outItem) bool {
	if a, ok := it.packet.(*packets.Ack); ok {
		return a.Kind == packets.TypePuback || a.ReasonCode.IsError()
	}
	return it.ack == packets.TypePuback || it.ack == packets.TypePubcomp || it.ack == packets.TypePubrec && it.reason.IsError()
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
