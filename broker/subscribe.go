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
func (c *conn) handleSubscribe(flags byte, body []byte) error {
	var p packets.Subscribe
	if err := p.Decode(flags, body, c.version); err != nil {
		return err
	}
	codes := make([]packets.ReasonCode, len(p.Subscriptions))
	existed := make([]bool, len(p.Subscriptions))
	var subIDs *subIDList
	if c.version == packets.V5 && p.Properties.Has(packets.PropSubscriptionID) && len(p.Properties.SubscriptionIDs) > 0 {
		subIDs = &subIDList{ids: []uint32{p.Properties.SubscriptionIDs[0]}} // one per SUBSCRIBE [MQTT-3.8.2.1.2]
		if subIDs.ids[0] == 0 {
			return &packets.Error{Code: packets.ProtocolError, Msg: "subscription identifier 0"}
		}
	}
	var why string // the first refusal, for the reason string
	mount := c.mountPoint()
	for i, sub := range p.Subscriptions {
		err := topic.ValidFilter(sub.Filter)
		if err == nil && mount != "" {
			// The filter is whole from here on, retained messages included;
			// a mount point without a trailing / can still make it invalid.
			sub.Filter = mountFilter(mount, sub.Filter)
			p.Subscriptions[i].Filter = sub.Filter
			err = topic.ValidFilter(sub.Filter)
		}
		if err != nil {
			if c.version != packets.V5 {
				// [MQTT-4.7.1-2], [MQTT-4.7.1-3]: an invalid filter is a
				// protocol violation; at 3.1.1 the connection closes, as
				// Mosquitto does.
				return &packets.Error{Code: packets.TopicFilterInvalid, Msg: err.Error()}
			}
			// MQTT 5 has a reason code for it: the other filters of the
			// SUBSCRIBE still count.
			codes[i] = packets.TopicFilterInvalid
			why = cmp.Or(why, fmt.Sprintf("topic filter %q: %v", sub.Filter, err))
			continue
		}
		if _, _, shared := topic.ParseShared(sub.Filter); shared && sub.NoLocal && c.version == packets.V5 {
			return &packets.Error{Code: packets.ProtocolError, Msg: "No Local on a shared subscription [MQTT-3.8.3-4]"}
		}
		sub.QoS = min(sub.QoS, c.maxQoS())
		if c.version != packets.V5 {
			sub.NoLocal, sub.RetainAsPublished, sub.RetainHandling = false, false, 0
		}
		code, had := c.session.subscribe(c.s, sub, subIDs)
		if code != packets.Success {
			codes[i] = failure(c.version, code)
			if code == packets.QuotaExceeded {
				why = cmp.Or(why, fmt.Sprintf("more than %d subscriptions", c.s.o().MaxSubscriptions))
				c.s.log.Warn("subscription refused: session at its subscription limit",
					"client", c.clientID, "filter", sub.Filter, "max_subscriptions", c.s.o().MaxSubscriptions)
			}
			continue
		}
		codes[i], existed[i] = packets.ReasonCode(sub.QoS), had
		c.s.log.Info(fmt.Sprintf("%s %d %s", c.clientID, sub.QoS, sub.Filter), logTypeKey, "subscribe")
	}
	ack := &packets.Suback{PacketID: p.PacketID, ReasonCodes: codes}
	c.addReasonString(ack, &ack.Properties, why)
	c.out.push(outItem{packet: ack})
	for i, sub := range p.Subscriptions {
		// Retain Handling: 0 sends the retained messages, 1 only for a new
		// subscription, 2 never [MQTT-3.3.1-9], [MQTT-3.3.1-10].
		if codes[i].IsError() || sub.RetainHandling == 2 || sub.RetainHandling == 1 && existed[i] {
			continue
		}
		if _, _, shared := topic.ParseShared(sub.Filter); shared {
			continue // no retained messages on a shared subscription [MQTT-3.3.1-10... 4.8.2]
		}
		qos := byte(codes[i])
		c.s.retained.match(sub.Filter, func(m *Message, source TopicAccess) {
			if source != nil && !source.CanWrite(m.Topic) {
				return // check_retain_source: its publisher lost the right since
			}
			c.session.deliverRetained(c.s, m, outQoS(m.QoS, qos, c.s.o().UpgradeOutgoingQoS), subIDs)
		})
	}
	return nil
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
	existed = ss.subscribeLocked(s, sub, subIDs)
	s.persistSubscriptionLocked(ss, sub.Filter, &sub, subIDs)
	return packets.Success, existed
}

// subscribeLocked adds or replaces a subscription in the session and the
// index; it reports whether it replaced one. ss.mu is held.
func (ss *session) subscribeLocked(s *Server, sub packets.Subscription, subIDs *subIDList) (existed bool) {
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
