package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/midge-mqtt/midge/packets"
)

// serverLimits are what an MQTT 5 server's CONNACK allows the client
// (5.0 §3.2.2.3). Its Receive Maximum bounds Client.inflight instead.
type serverLimits struct {
	maxQoS          byte   // Maximum QoS: 2 unless the server says less
	retain          bool   // Retain Available
	subscriptionIDs bool   // Subscription Identifiers Available
	topicAliasMax   uint16 // Topic Alias Maximum: the highest alias the client may send
	maxPacketSize   int    // Maximum Packet Size; 0: the protocol's own limit
}

// noLimits is what a server that announces nothing allows, and what an
// MQTT 3.1.1 server allows.
var noLimits = serverLimits{maxQoS: 2, retain: true, subscriptionIDs: true}

// limitsOf reads the limits of an MQTT 5 CONNACK's properties.
func limitsOf(props *packets.Properties) serverLimits {
	l := noLimits
	if props.Has(packets.PropMaximumQoS) {
		l.maxQoS = props.MaximumQoS
	}
	if props.Has(packets.PropRetainAvailable) {
		l.retain = props.RetainAvailable == 1
	}
	if props.Has(packets.PropSubIDAvailable) {
		l.subscriptionIDs = props.SubIDAvailable == 1
	}
	if props.Has(packets.PropTopicAliasMaximum) {
		l.topicAliasMax = props.TopicAliasMaximum
	}
	if props.Has(packets.PropMaximumPacketSize) {
		l.maxPacketSize = int(min(props.MaximumPacketSize, packets.MaxPacketSize))
	}
	return l
}

// checkLimits refuses a PUBLISH the server said it does not accept.
func (c *Client) checkLimits(p *packets.Publish) error {
	if p.QoS > c.limits.maxQoS {
		return fmt.Errorf("%w: QoS %d, Maximum QoS %d", ErrQoSNotSupported, p.QoS, c.limits.maxQoS)
	}
	if p.Retain && !c.limits.retain {
		return ErrRetainNotSupported
	}
	return nil
}

// checkAlias checks the Topic Alias of an MQTT 5 PUBLISH p: within the
// server's Topic Alias Maximum [MQTT-3.3.2-9], and, with an empty topic,
// already given a topic on this connection. The client never picks
// aliases itself; they are the caller's.
func (c *Client) checkAlias(p *packets.Publish) error {
	alias := p.Properties.TopicAlias
	if alias == 0 || alias > c.limits.topicAliasMax {
		return fmt.Errorf("%w: topic alias %d outside 1..%d (the server's Topic Alias Maximum)", ErrInvalidOptions, alias, c.limits.topicAliasMax)
	}
	if p.Topic != "" {
		return nil
	}
	c.mu.Lock()
	_, known := c.aliasesSent[alias]
	c.mu.Unlock()
	if !known {
		return fmt.Errorf("%w: topic alias %d has no topic yet on this connection", ErrInvalidOptions, alias)
	}
	return nil
}

// aliasSent records that p, now queued, gave its Topic Alias a topic.
func (c *Client) aliasSent(p *packets.Publish) {
	if c.version != packets.V5 || p.Topic == "" || !p.Properties.Has(packets.PropTopicAlias) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.aliasesSent == nil {
		c.aliasesSent = make(map[uint16]struct{})
	}
	c.aliasesSent[p.Properties.TopicAlias] = struct{}{}
}

// receivedAliases maps the Topic Aliases the server set on this
// connection to their topics. Only the reader uses it; it holds at most
// the client's Topic Alias Maximum entries.
type receivedAliases map[uint16]string

// resolve fills in the topic of an MQTT 5 PUBLISH that uses a Topic Alias,
// or records the alias's topic. An alias the client did not allow, or one
// without a topic yet, is a protocol error [MQTT-3.3.2-10].
func (c *Client) resolve(p *packets.Publish, aliases receivedAliases) error {
	if c.version != packets.V5 || !p.Properties.Has(packets.PropTopicAlias) {
		return nil
	}
	alias := p.Properties.TopicAlias
	if alias == 0 || alias > c.aliasMaximum {
		return fmt.Errorf("%w: %w", ErrProtocol, &packets.Error{Code: packets.TopicAliasInvalid,
			Msg: fmt.Sprintf("[MQTT-3.3.2-10] topic alias %d outside 1..%d (the client's Topic Alias Maximum)", alias, c.aliasMaximum)})
	}
	if p.Topic != "" {
		aliases[alias] = p.Topic
		return nil
	}
	topic, ok := aliases[alias]
	if !ok {
		return fmt.Errorf("%w: %w", ErrProtocol, &packets.Error{Code: packets.ProtocolError,
			Msg: fmt.Sprintf("topic alias %d used before it was given a topic", alias)})
	}
	p.Topic = topic
	return nil
}

// disconnectTimeout bounds how long the reader waits for the DISCONNECT it
// sends before closing a connection it found at fault.
const disconnectTimeout = time.Second

// disconnectFor sends an MQTT 5 DISCONNECT that says why the client ends
// the connection (err wraps ErrProtocol or ErrAuthentication), and waits
// briefly until it is written. Called by the reader before shutdown.
func (c *Client) disconnectFor(err error) {
	code := packets.UnspecifiedError
	var pe *packets.Error
	switch {
	case errors.As(err, &pe):
		code = pe.Code
	case errors.Is(err, ErrProtocol):
		code = packets.ProtocolError
	}
	ctx, cancel := context.WithTimeout(context.Background(), disconnectTimeout)
	defer cancel()
	if end, err := c.send(ctx, &packets.Disconnect{ReasonCode: code}); err == nil {
		c.out.waitFlushed(ctx, end)
	}
}
