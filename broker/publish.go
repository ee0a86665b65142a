package broker

import (
	"slices"
	"strings"

	"github.com/midge-mqtt/midge/packets"
	"github.com/midge-mqtt/midge/topic"
)

// handlePublish receives a PUBLISH from the client: it reads the topic
// name (topic alias, mount point), checkPublish decides whether the
// message goes on, and routePublish routes and acknowledges it by QoS.
func (c *conn) handlePublish(flags byte, body []byte) error {
	p := &c.scratch.publish
	if err := p.Decode(flags, body, c.version); err != nil {
		return err
	}
	n := &c.scratch.counts
	n.publishes++
	n.publishBytes += int64(len(p.Payload))
	if c.version == packets.V5 && len(p.Properties.SubscriptionIDs) != 0 {
		return errPublishSubID // [MQTT-3.3.4-6]
	}
	if c.version == packets.V5 && p.Properties.Has(packets.PropTopicAlias) {
		if err := c.resolveTopicAlias(p); err != nil {
			return err
		}
	}
	if err := topic.ValidName(p.Topic); err != nil {
		return &packets.Error{Code: packets.TopicNameInvalid, Msg: err.Error()}
	}
	name := p.Topic // as the client wrote it
	if mount := c.mountPoint(); mount != "" {
		// From here on the topic is whole: access control, the retained
		// store and routing see the mount point.
		if len(mount)+len(name) > maxTopicLength {
			return &packets.Error{Code: packets.TopicNameInvalid, Msg: "topic name too long under the listener's mount_point"}
		}
		p.Topic = mount + name
	}
	route, err := c.checkPublish(p, name)
	if route {
		err = c.routePublish(p)
	}
	// The decoder reuses an equal topic string, so p gets the client's
	// name back.
	p.Topic = name
	return err
}

// checkPublish applies the listener's and the broker's rules to p, whose
// topic the client wrote as name. A message that is refused but whose
// flow completes (too large, not authorised) is dropped and acknowledged
// here, and route is false; an error ends the connection.
func (c *conn) checkPublish(p *packets.Publish, name string) (route bool, err error) {
	if p.QoS > c.maxQoS() {
		return false, errQoSNotSupported
	}
	if p.Retain && c.s.o().RetainUnavailable {
		return false, errRetainNotSupported
	}
	if limit := c.s.o().MessageSizeLimit; limit > 0 && len(p.Payload) > limit {
		// Mosquitto's message_size_limit: dropped, the flow completed.
		c.s.counters.publishDropped.Add(1)
		c.s.log.Info(publishLine("Dropped too large", c.clientID, p))
		if p.QoS < 2 || c.version == packets.V5 {
			c.ackPublish(p, packets.ImplementationError) // 0x80 and above ends a QoS 2 flow at PUBREC
			return false, nil
		}
		// At 3.1.1 the QoS 2 flow goes on to PUBREL and PUBCOMP.
		if _, full := c.session.beginReceive(c.s, p.PacketID, c.receiveQuota()); full {
			return false, errReceiveMaximum
		}
		c.ackPublish(p, packets.Success)
		return false, nil
	}
	if reservedTopic(p.Topic) || len(name) != len(p.Topic) && reservedTopic(name) ||
		c.access != nil && !c.access.CanWrite(p.Topic) {
		// Only the broker writes $SYS, $share/ names a subscription and
		// not a topic (neither may a mounted client write them as it sees
		// its topics), and the ACL may forbid the topic: the message is
		// dropped and the flow completes (MQTT 5: with 0x87), as in
		// Mosquitto [MQTT-3.3.5-2].
		if c.s.tracing.Load() {
			c.trace("%s", publishLine("Denied", c.clientID, p))
		}
		c.ackPublish(p, packets.NotAuthorized)
		return false, nil
	}
	if c.s.tracing.Load() {
		c.trace("%s", publishLine("Received", c.clientID, p))
	}
	if c.s.refusesForMemory(p) {
		// Mosquitto's memory_limit: the message is dropped and its
		// publisher disconnected; one that frees memory passes (memory.go).
		c.s.counters.publishDropped.Add(1)
		return false, errMemoryLimit
	}
	return true, nil
}

// routePublish routes a PUBLISH that checkPublish let through and
// acknowledges it, by its QoS: see routeAndAck for the order of the two.
func (c *conn) routePublish(p *packets.Publish) error {
	r := &c.scratch.route
	switch p.QoS {
	case 0:
		c.s.publish(c.newMessage(p), r, c.session, c.access)
	case 1:
		if c.version == packets.V5 {
			inUse, awaiting := c.session.awaitingRelease(p.PacketID)
			if awaiting >= c.receiveQuota() {
				return errReceiveMaximum // [MQTT-3.3.4-9]
			}
			if inUse {
				// The identifier belongs to a QoS 2 message not yet
				// released: the client's session state is out of step
				// with ours.
				c.ackPublish(p, packets.PacketIDInUse)
				return nil
			}
		}
		c.routeAndAck(p, c.newMessage(p), r)
	case 2:
		// Exactly once: a PUBLISH re-sent before PUBREL is acknowledged
		// again but not delivered again [MQTT-4.3.3-2].
		fresh, full := c.session.beginReceive(c.s, p.PacketID, c.receiveQuota())
		if full {
			return errReceiveMaximum
		}
		if !fresh {
			c.ackPublish(p, packets.Success)
			return nil
		}
		c.routeAndAck(p, c.newMessage(p), r)
	}
	return nil
}

// newMessage is the Message of a PUBLISH the client sent, with the client
// as its source.
func (c *conn) newMessage(p *packets.Publish) *Message {
	m := newMessage(p, c.version, c.s.o().Clock)
	m.source = c.identity
	return m
}

// routeAndAck stores a retained message, routes m and acknowledges p. The
// message is routed before the acknowledgement is queued, as Mosquitto
// does, so that a publisher that has its PUBACK knows every subscriber has
// the message queued (a later publication from another client cannot
// overtake it); a publisher subscribed to its own topic still gets its
// PUBACK before its own copy. With a Store the acknowledgement waits for
// the routing's writes, the publisher's own copy included.
func (c *conn) routeAndAck(p *packets.Publish, m *Message, r *router) {
	code := c.matchCode(c.s.retainAndMatch(m, r, c.access))
	if c.s.o().Store != nil {
		c.s.deliverMatches(m, r, c.session, false)
		c.ackPublish(p, code)
		return
	}
	c.s.deliverMatches(m, r, c.session, true)
	c.ackPublish(p, code)
	c.s.deliverHeld(m, r)
}

// matchCode is the acknowledgement's reason code for a message that
// matched n subscriptions: MQTT 5 tells the publisher when there were
// none (0x10), as Mosquitto does.
func (c *conn) matchCode(n int) packets.ReasonCode {
	if n == 0 {
		return packets.NoMatchingSubscribers
	}
	return packets.Success
}

// receiveQuota is how many QoS 2 messages the client may have awaiting
// PUBREL besides the one that arrives: its receive maximum less the
// answers still waiting for the store [MQTT-3.3.4-9]. Before MQTT 5 the
// bound is the identifier space.
func (c *conn) receiveQuota() int {
	return c.receiveMax - int(c.unanswered.Load())
}

// resolveTopicAlias applies an MQTT 5 topic alias: a PUBLISH with a topic
// name and an alias (re)defines the alias; one with only an alias uses it.
func (c *conn) resolveTopicAlias(p *packets.Publish) error {
	alias := p.Properties.TopicAlias
	if alias == 0 || alias > c.s.o().TopicAliasMaximum {
		return errTopicAliasInvalid
	}
	if p.Topic != "" {
		if c.topicAliases == nil {
			c.topicAliases = make([]string, c.s.o().TopicAliasMaximum+1)
		}
		if c.topicAliases[alias] != p.Topic {
			c.topicAliases[alias] = p.Topic // a string of its own: the decoder copies topic names
		}
		return nil
	}
	if c.topicAliases == nil || c.topicAliases[alias] == "" {
		return errTopicAliasUnknown
	}
	p.Topic = c.topicAliases[alias]
	return nil
}

// ackPublish answers a QoS 1 or 2 PUBLISH. MQTT 3.1.1 has no way to refuse
// one, so a refused message is acknowledged there and dropped, as Mosquitto
// does; MQTT 5 carries the code.
func (c *conn) ackPublish(p *packets.Publish, code packets.ReasonCode) {
	if c.version != packets.V5 {
		code = packets.Success
	}
	kind := packets.TypePuback
	if p.QoS == 2 {
		kind = packets.TypePubrec
	} else if p.QoS != 1 {
		return
	}
	if code.IsError() && !c.noProblemInfo {
		// A refusal says why; it is rare enough to be a packet of its own.
		a := &packets.Ack{Kind: kind, PacketID: p.PacketID, ReasonCode: code}
		c.addReasonString(a, &a.Properties, publishRefusal(code, p.Topic))
		c.pushAfterStore(outItem{packet: a})
		return
	}
	c.pushAfterStore(outItem{ack: kind, id: p.PacketID, reason: code})
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

// publishRefusal is the reason string of a refused PUBLISH.
func publishRefusal(code packets.ReasonCode, topic string) string {
	switch code {
	case packets.NotAuthorized:
		return "not authorized to publish to " + topic
	case packets.PacketIDInUse:
		return "packet identifier in use by a QoS 2 message awaiting PUBREL"
	}
	return ""
}

// handleAck handles PUBACK, PUBREC, PUBREL and PUBCOMP.
func (c *conn) handleAck(h packets.FixedHeader, body []byte) error {
	var a packets.Ack
	if err := a.Decode(h, body, c.version); err != nil {
		return err
	}
	if c.s.tracing.Load() {
		c.traceAck(h.Type, &a)
	}
	ss := c.session
	switch h.Type {
	case packets.TypePuback:
		if ss.acknowledge(c.s, a.PacketID, 1) {
			return errWrongAckQoS
		}
	case packets.TypePubcomp:
		if ss.acknowledge(c.s, a.PacketID, 2) {
			return errWrongAckQoS
		}
	case packets.TypePubrec:
		known, wrong := ss.received(c.s, a.PacketID)
		if wrong {
			return errWrongAckQoS
		}
		code := packets.Success
		if !known {
			code = packets.PacketIDNotFound
		}
		if a.ReasonCode.IsError() && known {
			// MQTT 5: the receiver refused it; the delivery is over.
			ss.abandon(c.s, a.PacketID)
			return nil
		}
		c.out.push(outItem{ack: packets.TypePubrel, id: a.PacketID, reason: v5Only(c.version, code)})
	case packets.TypePubrel:
		code := packets.Success
		if !ss.release(c.s, a.PacketID) {
			code = packets.PacketIDNotFound
		}
		// After the release is on disk: a PUBCOMP seen before it would let
		// a restarted broker drop the client's next message with this
		// identifier as a duplicate.
		c.pushAfterStore(outItem{ack: packets.TypePubcomp, id: a.PacketID, reason: v5Only(c.version, code)})
	}
	return nil
}

func v5Only(version byte, code packets.ReasonCode) packets.ReasonCode {
	if version != packets.V5 {
		return packets.Success
	}
	return code
}

// router holds the buffers one goroutine reuses to route messages, so that
// routing allocates nothing once they have grown.
type router struct {
	matches []subscriber
	multi   []subscriber
	shared  []subscriber // shared subscriptions among matches
	members []subscriber // one group's members, while choosing
	held    subscriber   // the publisher's own delivery, until it has its acknowledgement
}

// publish stores m if it is retained and routes it; from is the
// publishing session, nil for a will or the broker's own message, and
// source what the publisher may write (nil: anything).
func (s *Server) publish(m *Message, r *router, from *session, source TopicAccess) {
	s.retainAndMatch(m, r, source)
	s.deliverMatches(m, r, from, false)
}

// retainAndMatch stores m if it is retained and finds the subscriptions it
// matches, into r; it returns how many. A retained message does both under
// the retained store's order lock (see retainStore.order).
func (s *Server) retainAndMatch(m *Message, r *router, source TopicAccess) int {
	if !m.Retain {
		return s.match(m, r)
	}
	s.retained.order.RLock()
	defer s.retained.order.RUnlock()
	s.retain(m, source)
	return s.match(m, r)
}

// retain stores m in the retained store if its RETAIN flag is set, with
// the publisher's access for check_retain_source.
func (s *Server) retain(m *Message, source TopicAccess) {
	if m.Retain {
		if s.o().NoRetainSourceCheck {
			source = nil
		}
		s.retained.set(m, source)
		s.persistRetained(m)
	}
}

// outQoS is the QoS a message of QoS qos goes out at on a subscription
// granted sub: the lower of the two, or sub with upgrade_outgoing_qos.
func outQoS(qos, sub byte, upgrade bool) byte {
	if upgrade {
		return sub
	}
	return min(qos, sub)
}

// match finds the subscriptions m matches, into r, and returns how many.
func (s *Server) match(m *Message, r *router) int {
	r.matches = s.subscriptions.MatchAppend(m.Topic, r.matches[:0])
	return len(r.matches)
}

// deliverMatches delivers m to the subscriptions match found, except
// those with No Local to the publishing session from (nil for a will).
// Each client receives the message once, at the highest QoS of its
// matching subscriptions (capped by the message's QoS), with the RETAIN
// flag kept where a subscription asked for Retain As Published, and with
// the identifiers of all its matching subscriptions. With holdSelf the
// delivery to from itself (through a subscription of its own, not a shared
// one) is left in r for deliverHeld.
func (s *Server) deliverMatches(m *Message, r *router, from *session, holdSelf bool) {
	upgrade := s.o().UpgradeOutgoingQoS
	r.multi = r.multi[:0]
	for _, sub := range r.matches {
		switch {
		case sub.sub.share != nil:
			r.shared = append(r.shared, sub)
		case sub.sub.noLocal && sub.session == from:
			// No Local: not back to the client that published it.
		case sub.session.subCount.Load() > 1:
			r.multi = appendMerged(r.multi, sub)
		case holdSelf && sub.session == from:
			r.held = sub
		default:
			sub.session.deliver(s, m, outQoS(m.QoS, sub.sub.qos, upgrade), sub.sub.rap && m.Retain, sub.sub.subIDs)
		}
	}
	for _, sub := range r.multi {
		if holdSelf && sub.session == from {
			r.held = sub
			continue
		}
		sub.session.deliver(s, m, outQoS(m.QoS, sub.sub.qos, upgrade), sub.sub.rap && m.Retain, sub.sub.subIDs)
	}
	if len(r.shared) > 0 {
		s.deliverShared(m, r, upgrade)
	}
	clear(r.matches)
	clear(r.multi)
}

// deliverHeld makes the delivery deliverMatches held back, if any.
func (s *Server) deliverHeld(m *Message, r *router) {
	sub := r.held
	if sub.session == nil {
		return
	}
	r.held = subscriber{}
	sub.session.deliver(s, m, outQoS(m.QoS, sub.sub.qos, s.o().UpgradeOutgoingQoS), sub.sub.rap && m.Retain, sub.sub.subIDs)
}

// appendMerged adds sub to list unless its session is there already, in
// which case the two subscriptions merge: the higher QoS, Retain As
// Published if either asks, and both identifiers. Only clients with several
// subscriptions reach here, and they are few per message.
func appendMerged(list []subscriber, sub subscriber) []subscriber {
	for i := range list {
		if list[i].session == sub.session {
			got := &list[i].sub
			got.qos = max(got.qos, sub.sub.qos)
			got.rap = got.rap || sub.sub.rap
			if sub.sub.subIDs != nil {
				// A new list: the subscription's own stays as it is.
				merged := &subIDList{ids: slices.Clone(sub.sub.subIDs.ids)}
				if got.subIDs != nil {
					merged.ids = append(merged.ids, got.subIDs.ids...)
				}
				got.subIDs = merged
			}
			return list
		}
	}
	return append(list, sub)
}

// reservedTopic reports whether clients may not publish to name: $SYS and
// its subtopics, and anything under $share/. As in Mosquitto, one $SYS
// topic is open to clients: $SYS/broker/connection/NAME/state, where a
// bridge reports (and, as its will, withdraws) its connection's state on
// the remote broker; the ACL still applies to it.
func reservedTopic(name string) bool {
	if strings.HasPrefix(name, "$SYS") && (len(name) == 4 || name[4] == '/') {
		return !bridgeStateTopic(name)
	}
	return strings.HasPrefix(name, "$share/")
}

// bridgeStateTopic reports whether name matches
// $SYS/broker/connection/+/state.
func bridgeStateTopic(name string) bool {
	const prefix, suffix = "$SYS/broker/connection/", "/state"
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return false
	}
	connection, ok := strings.CutSuffix(rest, suffix)
	return ok && !strings.Contains(connection, "/")
}
