package broker

import (
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
	for i, sub := range p.Subscriptions {
		if err := topic.ValidFilter(sub.Filter); err != nil {
			// [MQTT-4.7.1-2], [MQTT-4.7.1-3]: an invalid filter is a
			// protocol violation; the connection closes.
			return &packets.Error{Code: packets.TopicFilterInvalid, Msg: err.Error()}
		}
		if _, _, shared := topic.ParseShared(sub.Filter); shared {
			codes[i] = failure(c.version, packets.SharedSubNotSupported)
			continue
		}
		sub.QoS = min(sub.QoS, maxGrantedQoS)
		if !c.session.subscribe(c.s, sub) {
			codes[i] = failure(c.version, packets.UnspecifiedError)
			continue
		}
		codes[i] = packets.ReasonCode(sub.QoS)
	}
	c.out.push(outItem{packet: &packets.Suback{PacketID: p.PacketID, ReasonCodes: codes}})
	for i, sub := range p.Subscriptions {
		if codes[i].IsError() {
			continue
		}
		qos := byte(codes[i])
		c.s.retained.match(sub.Filter, func(m *Message) {
			c.session.deliver(c.s, m, min(m.QoS, qos), true)
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

// subscribe records a subscription in the session and the index. A
// subscription to a filter the session already has replaces it.
func (ss *session) subscribe(s *Server, sub packets.Subscription) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.ended {
		return false
	}
	if ss.subs == nil {
		ss.subs = make(map[string]packets.Subscription)
	}
	ss.subs[sub.Filter] = sub
	ss.subCount.Store(int32(len(ss.subs)))
	s.subscriptions.Add(sub.Filter, ss.id, subscriber{session: ss, sub: subscriptionOptions{qos: sub.QoS}})
	return true
}

// unsubscribe removes a subscription; it reports whether one existed.
func (ss *session) unsubscribe(s *Server, filter string) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if _, ok := ss.subs[filter]; !ok || ss.ended {
		return false
	}
	delete(ss.subs, filter)
	ss.subCount.Store(int32(len(ss.subs)))
	s.subscriptions.Remove(filter, ss.id)
	return true
}

// handleUnsubscribe removes subscriptions and answers UNSUBACK.
func (c *conn) handleUnsubscribe(flags byte, body []byte) error {
	var p packets.Unsubscribe
	if err := p.Decode(flags, body, c.version); err != nil {
		return err
	}
	ack := &packets.Unsuback{PacketID: p.PacketID}
	for _, filter := range p.Filters {
		if err := topic.ValidFilter(filter); err != nil {
			return &packets.Error{Code: packets.TopicFilterInvalid, Msg: err.Error()}
		}
		code := packets.Success
		if !c.session.unsubscribe(c.s, filter) {
			code = packets.NoSubscriptionExisted
		}
		if c.version == packets.V5 {
			ack.ReasonCodes = append(ack.ReasonCodes, code)
		}
	}
	c.out.push(outItem{packet: ack})
	return nil
}
