package broker

import (
	"fmt"
	"time"

	"github.com/midge-mqtt/midge/packets"
)

// What becomes of the will of a connection taken over by a new one with
// the same client identifier follows Mosquitto 2.0 (src/handle_connect.c,
// connect__on_authorised; test/broker/07-will-takeover.py):
//
//   - the will is published when the old session ends with the takeover:
//     the old connection had MQTT 3.1.1 Clean Session 1 or MQTT 5 Session
//     Expiry 0, or the new one starts clean;
//   - it is withheld when the new connection resumes the session, which
//     [MQTT-3.1.2-8] permits: a new connection for the client identifier
//     was opened before any Will Delay Interval passed.
//
// A Will Delay Interval changes nothing in either case. Mosquitto 2.0
// drops a will with a delay on every takeover, also when the takeover ends
// the session; midge publishes it then, as [MQTT-3.1.2-8] and the spec's
// comment on takeover in 3.1.4 say: the session ended. A named user taking
// over an anonymous session gets a fresh one (attachSession), so the old
// session ends and its will is published, where Mosquitto would hand the
// session over and withhold it.
//
// errTakenOverResumed ends a connection whose session was resumed, and
// withholds its will; errTakenOver, which publishes it, one whose session
// ended. publishWill also withholds a will whose session another
// connection holds, for a connection that ended for a reason of its own
// while it was being taken over.
var errTakenOverResumed = &closeReason{msg: errTakenOver.msg, code: packets.SessionTakenOver}

// takeoverReason is why a connection taken over ends: its session ended
// with the takeover (clean start, session expiry 0, another user), or it
// was resumed.
func takeoverReason(sessionEnded bool) error {
	if sessionEnded {
		return errTakenOver
	}
	return errTakenOverResumed
}

// publishWill publishes the connection's will: the connection ended without
// a normal DISCONNECT [MQTT-3.1.2-8].
//
// The will is held to the client's write access at the moment the
// connection ends, as any PUBLISH would be. An MQTT 5 will with a Will
// Delay Interval waits in the session for that long, and is dropped if the
// session is resumed first [MQTT-3.1.3-9]; it is published early if the
// session ends first.
func (c *conn) publishWill() {
	if c.session.resumedByAnother(c) {
		return // withheld: see errTakenOverResumed
	}
	w := c.will
	name := w.Topic
	if mount := c.mountPoint(); mount != "" {
		name = mount + name // as for its PUBLISHes, before access control
		if len(name) > maxTopicLength {
			c.s.log.Info(fmt.Sprintf("Dropped will of %s: topic too long under the listener's mount_point.", c.clientID))
			return
		}
	}
	if c.access != nil && !c.access.CanWrite(name) {
		c.s.log.Info(fmt.Sprintf("Denied will of %s: not authorised to publish to '%s'.", c.clientID, name))
		return
	}
	m := &Message{
		Topic:      name,
		Payload:    w.Payload,
		QoS:        w.QoS,
		Retain:     w.Retain,
		Properties: forwardedProperties(&w.Properties),
		source:     c.identity,
	}
	if w.Properties.Has(packets.PropMessageExpiry) {
		m.expiresAt = c.s.o().Clock.Now().Add(time.Duration(w.Properties.MessageExpiry) * time.Second).UnixNano()
	}
	if c.version == packets.V5 && w.Properties.Has(packets.PropWillDelay) && w.Properties.WillDelay > 0 {
		if c.session.holdWill(c.s, c, m, w.Properties.WillDelay) {
			return
		}
	}
	c.s.publish(m, &c.scratch.route, nil, c.access)
}

// resumedByAnother reports whether a connection other than c has resumed
// the session c held.
func (ss *session) resumedByAnother(c *conn) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.conn != nil && ss.conn != c && !ss.ended
}

// pendingWill is a will waiting for its delay to pass.
type pendingWill struct {
	msg    *Message
	source TopicAccess // the client's write access, for check_retain_source
	due    time.Time   // when its delay ends
	timer  Timer
}

// holdWill keeps m in the session for delay seconds (less if the session
// expires sooner). It reports false when the will must go now: the
// session ends with this connection. A session already taken over by a new
// connection drops the will: it has been resumed.
func (ss *session) holdWill(s *Server, c *conn, m *Message, delay uint32) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.conn != nil && ss.conn != c {
		return true
	}
	if ss.expiry == 0 || ss.ended {
		return false
	}
	if expiry, ends := ss.expiryLocked(s); ends {
		delay = min(delay, expiry)
	}
	ss.dropWillLocked(s)
	pw := &pendingWill{msg: m, source: c.access, due: s.o().Clock.Now().Add(time.Duration(delay) * time.Second)}
	pw.timer = s.o().Clock.AfterFunc(time.Duration(delay)*time.Second, func() { s.releaseWill(ss, pw) })
	ss.pendingWill = pw
	s.persistWillLocked(ss, pw)
	return true
}

// releaseWill publishes a held will whose delay passed, unless the session
// was resumed or ended (and published it) since.
func (s *Server) releaseWill(ss *session, pw *pendingWill) {
	if s.isClosing() {
		return
	}
	ss.mu.Lock()
	if ss.pendingWill != pw {
		ss.mu.Unlock()
		return
	}
	ss.pendingWill = nil
	s.persistWillLocked(ss, nil)
	ss.mu.Unlock()
	s.publish(pw.msg, new(router), nil, pw.source)
}

// dropWillLocked forgets a held will: the session was resumed.
func (ss *session) dropWillLocked(s *Server) {
	if ss.pendingWill != nil {
		ss.pendingWill.timer.Stop()
		ss.pendingWill = nil
		s.persistWillLocked(ss, nil)
	}
}

// takeWillLocked removes a held will from a session that is ending, for the
// caller to publish once it holds no session lock.
func (ss *session) takeWillLocked() *pendingWill {
	pw := ss.pendingWill
	if pw == nil {
		return nil
	}
	pw.timer.Stop()
	ss.pendingWill = nil
	return pw
}
