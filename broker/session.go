package broker

import (
	"fmt"
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
	dropped      int64                  // guarded by mu: messages for it dropped, their queue full
}

// dropLocked counts a message for the session that was dropped.
func (ss *session) dropLocked(s *Server) {
	ss.dropped++
	s.counters.publishDropped.Add(1)
}

// SessionQueue is what a session holds for its client: messages in
// flight, messages queued beyond them, and how many were dropped because
// the queue was full (since the broker started).
type SessionQueue struct {
	Inflight, Queued int
	Dropped          int64
}

// SessionQueue reports on the session of clientID; false when there is
// none. A bridge reads its local session's backlog with it.
func (s *Server) SessionQueue(clientID string) (SessionQueue, bool) {
	s.sessions.mu.Lock()
	ss := s.sessions.m[clientID]
	s.sessions.mu.Unlock()
	if ss == nil {
		return SessionQueue{}, false
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return SessionQueue{Inflight: len(ss.inflight), Queued: ss.queue.len(), Dropped: ss.dropped}, true
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

// attachSession finds or creates the session for the client, takes it over
// from any connection that holds it, queues ack (with its session-present
// flag set here) and resends what was in flight. It reports whether the
// client resumed a session.
//
// A session that belongs to a user, online or offline, is taken over only
// by a connection of the same user (unless Options.SessionTakeoverAnyUser):
// another user, or a client without one, is refused with CONNACK 0x85 (MQTT
// 3.1.1: 2) and the session is left as it was. A session made by a client
// without a user name is taken over by anyone, as in Mosquitto; a named user
// taking one over gets a fresh session of its own.
func (s *Server) attachSession(c *conn, p *packets.Connect, ack *packets.Connack) (bool, error) {
	expiry := sessionExpiry(p)
	anyUser := s.o().SessionTakeoverAnyUser
	t := &s.sessions
	t.mu.Lock()
	old := t.m[c.clientID]
	var previous *conn
	var ss *session
	present, oldEnded := false, false
	if old != nil {
		old.mu.Lock()
		own := old.ownedBy(p.Username, p.UsernameFlag)
		if !own && old.hasOwner && !anyUser {
			owner := old.owner
			old.mu.Unlock()
			t.mu.Unlock()
			c.refuse(p.Version, idRejected(p.Version == packets.V5), "client identifier in use by another user")
			return false, fmt.Errorf("the session belongs to user '%s', not to this client%s (session_takeover_any_user false)",
				owner, connectingUser(p))
		}
		previous = old.conn
		old.conn = nil
		old.online.Store(false)
		if p.CleanStart || old.expiry == 0 || !own && !anyUser {
			// A named user does not inherit a session made without a user
			// name: it would read what was queued for whoever made it.
			s.endSessionLocked(old)
			oldEnded = true
		} else {
			ss, present = old, true
			ss.expiry = expiry
			ss.owner, ss.hasOwner = p.Username, p.UsernameFlag // changes only with SessionTakeoverAnyUser
			ss.stopExpiryLocked()
		}
		old.mu.Unlock()
	}
	if ss == nil {
		ss = newSession(c.clientID, expiry, p.Username, p.UsernameFlag)
		t.m[c.clientID] = ss
	}
	c.session = ss
	// MQTT 3.1 has no Session Present flag: its CONNACK byte stays 0.
	ack.SessionPresent = present && p.Version != packets.V31
	window := s.o().MaxInflight
	if p.Version == packets.V5 && p.Properties.Has(packets.PropReceiveMaximum) {
		window = min(window, int(p.Properties.ReceiveMaximum))
	}
	ss.attach(c, window, ack)
	t.mu.Unlock()

	if previous != nil {
		previous.kick(takeoverReason(oldEnded)) // [MQTT-3.1.4-2]
	}
	return present, nil
}

// sessionExpiry is how long the session of a CONNECT outlives its
// connection: MQTT 3.1.1's Clean Session 1 ends it, 0 keeps it until a
// clean start; MQTT 5 says so in seconds (absent means 0).
func sessionExpiry(p *packets.Connect) uint32 {
	if p.Version != packets.V5 {
		if p.CleanStart {
			return 0
		}
		return neverExpires
	}
	if p.Properties.Has(packets.PropSessionExpiry) {
		return p.Properties.SessionExpiry
	}
	return 0
}

// expireSession ends a session whose expiry interval passed while it was
// offline, unless it was resumed (and its timer replaced) since.
func (s *Server) expireSession(ss *session, gen uint64) {
	if s.isClosing() {
		return // a stopped broker changes nothing, in its store least of all
	}
	t := &s.sessions
	t.mu.Lock()
	defer t.mu.Unlock()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.expiryGen != gen || ss.conn != nil || ss.ended {
		return
	}
	ss.expiryTimer = nil
	s.endSessionLocked(ss)
	s.counters.sessionsExpired.Add(1)
}

// endSession removes a session whose connection ended, unless a newer
// session has replaced it under the same identifier.
func (s *Server) endSession(ss *session) {
	t := &s.sessions
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m[ss.id] != ss {
		return
	}
	ss.mu.Lock()
	s.endSessionLocked(ss)
	ss.mu.Unlock()
}

// endSessionLocked removes ss from the table and its subscriptions from the
// index. The caller holds the table lock and ss.mu.
func (s *Server) endSessionLocked(ss *session) {
	if s.sessions.m[ss.id] == ss {
		delete(s.sessions.m, ss.id)
	}
	ss.ended = true
	ss.stopExpiryLocked()
	s.unpersistSessionLocked(ss)
	if pw := ss.takeWillLocked(); pw != nil {
		// The session ends before its will's delay passed: the will goes
		// now, from a goroutine of its own, since routing takes session
		// locks this caller holds.
		s.spawn(func() { s.publish(pw.msg, new(router), nil, pw.source) })
	}
	for filter, sub := range ss.subs {
		s.unindex(ss, filter, sub)
	}
	clear(ss.subs)
	ss.subCount.Store(0)
	ss.queue = messageQueue{}
	clear(ss.inflight)
	ss.inflightSize = 0
}

// sessionTable maps client identifiers to sessions.
type sessionTable struct {
	mu sync.Mutex
	m  map[string]*session // guarded by mu
}

func (t *sessionTable) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}
