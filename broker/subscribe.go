package broker

import (
	"cmp"
	"fmt"

	"github.com/midge-mqtt/midge/packets"
	"github.com/midge-mqtt/midge/topic"
)

// maxGrantedQoS is the highest QoS the broker grants.
const maxGrantedQoS = 2

// handleSubscribe adds subscriptions, answers SUBACK, then sends the
// retained messages that match each filter [MQTT-3.3.1-6].
//
// The session stays locked from adding the subscriptions until the
// retained messages are queued, so no live message reaches it through them
// first; the retained store's order lock is held over the same span (see
// retainStore.order).
func (c *conn) handleSubscribe(flags byte, body []byte) error {
	var p packets.Subscribe
	if err := p.Decode(flags, body, c.version); err != nil {
		return err
	}
	if c.s.tracing.Load() {
		c.traceSubscribe(p.Subscriptions)
	}
	codes := make([]packets.ReasonCode, len(p.Subscriptions))
	var subIDs *subIDList
	if c.version == packets.V5 && p.Properties.Has(packets.PropSubscriptionID) && len(p.Properties.SubscriptionIDs) > 0 {
		subIDs = &subIDList{ids: []uint32{p.Properties.SubscriptionIDs[0]}} // one per SUBSCRIBE [MQTT-3.8.2.1.2]
		if subIDs.ids[0] == 0 {
			return &packets.Error{Code: packets.ProtocolError, Msg: "subscription identifier 0"}
		}
	}
	why, err := c.checkFilters(p.Subscriptions, codes)
	if err != nil {
		return err
	}
	why = cmp.Or(why, c.refuseUnreadable(p.Subscriptions, codes))
	retained := false // whether any filter may want retained messages
	for i, sub := range p.Subscriptions {
		if _, _, shared := topic.ParseShared(sub.Filter); !codes[i].IsError() && sub.RetainHandling != 2 && !shared {
			retained = true
		}
	}

	ss := c.session
	ss.mu.Lock()
	if retained {
		c.s.retained.order.Lock()
	}
	existed := make([]bool, len(p.Subscriptions))
	var overQuota []string // filters refused for MaxSubscriptions, logged after
	for i, sub := range p.Subscriptions {
		if codes[i].IsError() {
			continue
		}
		code, had := ss.subscribeLocked(c.s, sub, subIDs)
		if code != packets.Success {
			codes[i] = failure(c.version, code)
			if code == packets.QuotaExceeded {
				overQuota = append(overQuota, sub.Filter)
			}
			continue
		}
		codes[i], existed[i] = packets.ReasonCode(sub.QoS), had
	}
	if len(overQuota) > 0 {
		why = cmp.Or(why, fmt.Sprintf("more than %d subscriptions", c.s.o().MaxSubscriptions))
	}
	ack := &packets.Suback{PacketID: p.PacketID, ReasonCodes: codes}
	c.addReasonString(ack, &ack.Properties, why)
	c.out.push(outItem{packet: ack})
	if retained {
		c.sendRetainedLocked(p.Subscriptions, codes, existed, subIDs)
		c.s.retained.order.Unlock()
	}
	ss.mu.Unlock()

	for i, sub := range p.Subscriptions {
		if !codes[i].IsError() {
			c.s.log.Info(fmt.Sprintf("%s %d %s", c.clientID, sub.QoS, sub.Filter), logTypeKey, "subscribe")
		}
	}
	for _, filter := range overQuota {
		c.s.log.Warn(fmt.Sprintf("Denied SUBSCRIBE from %s to '%s': the session has max_subscriptions (%d) subscriptions.",
			c.clientID, filter, c.s.o().MaxSubscriptions))
	}
	return nil
}

// checkFilters validates the filters of a SUBSCRIBE and puts them in the
// form they are stored in: mounted, and with the QoS and options this
// connection allows. An invalid filter ends a 3.1.1 connection (the error);
// at MQTT 5 its code becomes 0x8F and the returned text says why for the
// first one.
func (c *conn) checkFilters(subs []packets.Subscription, codes []packets.ReasonCode) (why string, err error) {
	mount := c.mountPoint()
	for i := range subs {
		sub := &subs[i]
		err := topic.ValidFilter(sub.Filter)
		if err == nil && mount != "" {
			// The filter is whole from here on, retained messages included;
			// a mount point without a trailing / can still make it invalid.
			sub.Filter = mountFilter(mount, sub.Filter)
			err = topic.ValidFilter(sub.Filter)
		}
		if err != nil {
			if c.version != packets.V5 {
				// [MQTT-4.7.1-2], [MQTT-4.7.1-3]: an invalid filter is a
				// protocol violation; at 3.1.1 the connection closes, as
				// Mosquitto does.
				return "", &packets.Error{Code: packets.TopicFilterInvalid, Msg: err.Error()}
			}
			// MQTT 5 has a reason code for it: the other filters of the
			// SUBSCRIBE still count.
			codes[i] = packets.TopicFilterInvalid
			why = cmp.Or(why, fmt.Sprintf("topic filter %q: %v", sub.Filter, err))
			continue
		}
		if _, _, shared := topic.ParseShared(sub.Filter); shared && sub.NoLocal && c.version == packets.V5 {
			return "", &packets.Error{Code: packets.ProtocolError, Msg: "No Local on a shared subscription [MQTT-3.8.3-4]"}
		}
		sub.QoS = min(sub.QoS, c.maxQoS())
		if c.version != packets.V5 {
			// A Mosquitto bridge gets none of its own messages back and
			// the retain flags as published, so that messages do not
			// loop between the brokers, as in Mosquitto.
			sub.NoLocal, sub.RetainAsPublished, sub.RetainHandling = c.bridge, c.bridge, 0
		}
	}
	return why, nil
}

// refuseUnreadable refuses the valid filters through which the client's
// access lets no message reach it (see SubscribeAccess): 0x80 at 3.1.1,
// 0x87 at MQTT 5. It returns why, for the first one.
func (c *conn) refuseUnreadable(subs []packets.Subscription, codes []packets.ReasonCode) (why string) {
	access, ok := c.access.(SubscribeAccess)
	if !ok {
		return ""
	}
	for i, sub := range subs {
		if codes[i].IsError() {
			continue
		}
		_, filter, _ := topic.ParseShared(sub.Filter)
		if !access.CanSubscribe(filter) {
			codes[i] = failure(c.version, packets.NotAuthorized)
			why = cmp.Or(why, fmt.Sprintf("not authorized to read any topic of %q", sub.Filter))
			c.s.log.Info(fmt.Sprintf("Denied SUBSCRIBE from %s to '%s': not authorised to read any topic it matches.",
				c.clientID, sub.Filter))
		}
	}
	return why
}

// sendRetainedLocked queues the retained messages for the subscriptions
// just made. Retain Handling 0 sends them, 1 only for a new subscription,
// 2 never [MQTT-3.3.1-9], [MQTT-3.3.1-10]; a shared subscription gets none.
// The session and the retained store's order lock are held.
func (c *conn) sendRetainedLocked(subs []packets.Subscription, codes []packets.ReasonCode, existed []bool, subIDs *subIDList) {
	upgrade := c.s.o().UpgradeOutgoingQoS
	now := c.s.o().Clock.Now().UnixNano() // for the expiry of retained messages
	for i, sub := range subs {
		if codes[i].IsError() || sub.RetainHandling == 2 || sub.RetainHandling == 1 && existed[i] {
			continue
		}
		if _, _, shared := topic.ParseShared(sub.Filter); shared {
			continue
		}
		qos := byte(codes[i])
		c.s.retained.match(sub.Filter, now, func(m *Message, source TopicAccess) {
			if source != nil && !source.CanWrite(m.Topic) {
				return // check_retain_source: its publisher lost the right since
			}
			c.session.deliverRetainedLocked(c.s, m, outQoS(m.QoS, qos, upgrade), subIDs)
		})
	}
}

// failure returns code for MQTT 5 and the single 3.1.1 failure code otherwise.
func failure(version byte, code packets.ReasonCode) packets.ReasonCode {
	if version == packets.V5 {
		return code
	}
	return packets.SubackFailure
}

// sessionSub is one of a session's subscriptions: as subscribed, and the
// shared group it joined, if any.
type sessionSub struct {
	sub   packets.Subscription
	share *shareGroup
}

// subscribe records a subscription in the session and the index, and
// reports whether the session already had one to the filter, which it
// replaces. It refuses with QuotaExceeded a new subscription beyond
// Options.MaxSubscriptions, and with UnspecifiedError one to a session that
// has ended.
func (ss *session) subscribe(s *Server, sub packets.Subscription, subIDs *subIDList) (code packets.ReasonCode, existed bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.subscribeLocked(s, sub, subIDs)
}

// subscribeLocked is subscribe with ss.mu held.
func (ss *session) subscribeLocked(s *Server, sub packets.Subscription, subIDs *subIDList) (code packets.ReasonCode, existed bool) {
	if ss.ended {
		return packets.UnspecifiedError, false
	}
	if ss.subs == nil {
		ss.subs = make(map[string]sessionSub)
	}
	if _, existed := ss.subs[sub.Filter]; !existed {
		if max := s.o().MaxSubscriptions; max > 0 && len(ss.subs) >= max {
			return packets.QuotaExceeded, false
		}
	}
	existed = ss.indexLocked(s, sub, subIDs)
	s.persistSubscriptionLocked(ss, sub.Filter, &sub, subIDs)
	return packets.Success, existed
}

// indexLocked adds or replaces a subscription in the session and the
// index; it reports whether it replaced one. ss.mu is held.
func (ss *session) indexLocked(s *Server, sub packets.Subscription, subIDs *subIDList) (existed bool) {
	if ss.subs == nil {
		ss.subs = make(map[string]sessionSub)
	}
	old, existed := ss.subs[sub.Filter]
	match, key, group := indexEntry(ss, sub.Filter)
	entry := sessionSub{sub: sub, share: old.share}
	if group != "" && !existed {
		entry.share = s.shares.join(group, match)
	}
	ss.subs[sub.Filter] = entry
	ss.subCount.Store(int32(len(ss.subs)))
	s.subscriptions.Add(match, key, subscriber{session: ss, sub: subscriptionOptions{
		qos: sub.QoS, noLocal: sub.NoLocal, rap: sub.RetainAsPublished, subIDs: subIDs, share: entry.share,
	}})
	return existed
}

// unsubscribe removes a subscription; it reports whether one existed.
func (ss *session) unsubscribe(s *Server, filter string) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	entry, ok := ss.subs[filter]
	if !ok || ss.ended {
		return false
	}
	delete(ss.subs, filter)
	ss.subCount.Store(int32(len(ss.subs)))
	s.unindex(ss, filter, entry)
	s.persistSubscriptionLocked(ss, filter, nil, nil)
	return true
}

// unindex takes one of a session's subscriptions out of the index and its
// shared group.
func (s *Server) unindex(ss *session, filter string, entry sessionSub) {
	match, key, _ := indexEntry(ss, filter)
	s.subscriptions.Remove(match, key)
	if entry.share != nil {
		s.shares.leave(entry.share)
	}
}

// handleUnsubscribe removes subscriptions and answers UNSUBACK.
func (c *conn) handleUnsubscribe(flags byte, body []byte) error {
	var p packets.Unsubscribe
	if err := p.Decode(flags, body, c.version); err != nil {
		return err
	}
	if c.s.tracing.Load() {
		c.traceUnsubscribe(p.Filters)
	}
	ack := &packets.Unsuback{PacketID: p.PacketID}
	var why string
	mount := c.mountPoint()
	for _, filter := range p.Filters {
		code := packets.Success
		err := topic.ValidFilter(filter)
		if err == nil && mount != "" {
			filter = mountFilter(mount, filter)
			err = topic.ValidFilter(filter)
		}
		if err != nil {
			if c.version != packets.V5 {
				return &packets.Error{Code: packets.TopicFilterInvalid, Msg: err.Error()}
			}
			code = packets.TopicFilterInvalid
			why = cmp.Or(why, fmt.Sprintf("topic filter %q: %v", filter, err))
		} else {
			if !c.session.unsubscribe(c.s, filter) {
				code = packets.NoSubscriptionExisted
			}
			c.s.log.Info(fmt.Sprintf("%s %s", c.clientID, filter), logTypeKey, "unsubscribe")
		}
		if c.version == packets.V5 {
			ack.ReasonCodes = append(ack.ReasonCodes, code)
		}
	}
	c.addReasonString(ack, &ack.Properties, why)
	c.out.push(outItem{packet: ack})
	return nil
}
