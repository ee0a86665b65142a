package client

import (
	"context"
	"fmt"

	"github.com/midge-mqtt/midge/packets"
	"github.com/midge-mqtt/midge/topic"
)

// pending is a request that holds a packet identifier until the server's
// acknowledgement arrives. The reader completes it even when the caller
// stopped waiting (its ctx ended): the identifier stays in use, and an
// in-flight slot stays taken, until the flow is over on the wire.
type pending struct {
	expect   packets.Type   // the acknowledgement awaited next; guarded by Client.mu
	inflight bool           // holds a token of Client.inflight
	filters  int            // SUBSCRIBE/UNSUBSCRIBE: number of filters sent
	reply    packets.Packet // the SUBACK or UNSUBACK
	done     chan error     // capacity 1; receives exactly one value, after reply is set
}

// register gives p a free packet identifier (never 0, never one in use).
func (c *Client) register(p *pending) (uint16, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	for range 65535 {
		c.nextID++
		if c.nextID == 0 {
			c.nextID = 1
		}
		if _, used := c.pending[c.nextID]; !used {
			c.pending[c.nextID] = p
			return c.nextID, nil
		}
	}
	return 0, ErrNoPacketID
}

// unregister frees id after its request could not be queued.
func (c *Client) unregister(id uint16) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// complete ends the request id when it awaits kind: the identifier and the
// in-flight slot are freed, and reply (SUBACK or UNSUBACK, else nil) and
// err are handed to the waiter. An acknowledgement for an identifier not
// awaiting it is ignored.
func (c *Client) complete(id uint16, kind packets.Type, reply packets.Packet, err error) {
	c.mu.Lock()
	p := c.pending[id]
	if p == nil || p.expect != kind {
		c.mu.Unlock()
		return
	}
	delete(c.pending, id)
	c.mu.Unlock()
	if p.inflight {
		<-c.inflight
	}
	p.reply = reply
	p.done <- err
}

// wait waits for a request's outcome, ctx, or the end of the connection.
func (c *Client) wait(ctx context.Context, done <-chan error) error {
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-c.closing:
		select {
		case err := <-done:
			return err
		default:
			return c.terminalErr()
		}
	}
}

// Publish sends p and waits: for QoS 0 until it is written to the
// connection, for QoS 1 until PUBACK, for QoS 2 until PUBCOMP (the client
// answers PUBREC with PUBREL). Publish does not modify p; it may be reused
// once Publish returns. Concurrent calls are allowed; QoS 1 and 2 calls
// first wait for one of MaxInflight slots. If ctx ends after the message was
// queued, the message is still sent and its flow completes in the
// background. An MQTT 5 failure reason code is returned as *AckError.
func (c *Client) Publish(ctx context.Context, p *packets.Publish) error {
	if p.QoS == 0 {
		if err := c.checkPublish(p); err != nil {
			return err
		}
		end, err := c.send(ctx, p)
		if err != nil {
			return err
		}
		c.aliasSent(p)
		return c.out.waitFlushed(ctx, end)
	}
	done, err := c.PublishAsync(ctx, p)
	if err != nil {
		return err
	}
	return c.wait(ctx, done)
}

// PublishAsync queues p and returns without waiting for the
// acknowledgement, so that a caller can keep several messages in flight and
// still have them sent in the order of its calls. For QoS 1 and 2 it first
// waits (bounded by ctx) for an in-flight slot. The returned channel
// receives exactly one value: nil when the flow completed (for QoS 0, at
// once: a later write failure shows in Err and Disconnect), an *AckError for
// an MQTT 5 failure code, or the connection's error if it ended first. p may
// be reused once PublishAsync returns.
func (c *Client) PublishAsync(ctx context.Context, p *packets.Publish) (<-chan error, error) {
	if err := c.checkPublish(p); err != nil {
		return nil, err
	}
	if p.QoS == 0 {
		if _, err := c.send(ctx, p); err != nil {
			return nil, err
		}
		c.aliasSent(p)
		done := make(chan error, 1)
		done <- nil
		return done, nil
	}
	select {
	case c.inflight <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.closing:
		return nil, c.terminalErr()
	}
	req := &pending{expect: packets.TypePuback, inflight: true, done: make(chan error, 1)}
	if p.QoS == 2 {
		req.expect = packets.TypePubrec
	}
	id, err := c.register(req)
	if err != nil {
		<-c.inflight
		return nil, err
	}
	msg := *p
	msg.PacketID = id
	if _, err := c.send(ctx, &msg); err != nil {
		c.unregister(id)
		<-c.inflight
		return nil, err
	}
	c.aliasSent(p)
	return req.done, nil
}

// checkPublish refuses a PUBLISH the protocol or the server does not
// allow, before it takes a packet identifier.
func (c *Client) checkPublish(p *packets.Publish) error {
	if p.QoS > 2 {
		return fmt.Errorf("%w: QoS %d", ErrInvalidOptions, p.QoS)
	}
	if err := c.checkLimits(p); err != nil {
		return err
	}
	if c.version == packets.V5 && p.Properties.Has(packets.PropTopicAlias) {
		if err := c.checkAlias(p); err != nil {
			return err
		}
		if p.Topic == "" {
			return nil // the alias stands for the name
		}
	}
	if err := topic.ValidName(p.Topic); err != nil {
		return fmt.Errorf("%w: topic %q: %w", ErrInvalidOptions, p.Topic, err)
	}
	return nil
}

// Subscribe sends one SUBSCRIBE with subs and waits for its SUBACK. It
// returns the SUBACK's codes, one per subscription in order: the granted
// QoS, or a failure code (0x80 and above), which is not an error.
func (c *Client) Subscribe(ctx context.Context, subs ...packets.Subscription) ([]packets.ReasonCode, error) {
	ack, err := c.SubscribeWith(ctx, &packets.Subscribe{Subscriptions: subs})
	if err != nil {
		return nil, err
	}
	return ack.ReasonCodes, nil
}

// SubscribeWith sends s, with a packet identifier of the client's choosing
// (s.PacketID is ignored; s is not modified), and returns the server's
// SUBACK. With MQTT 5, s may carry a Subscription Identifier and User
// Properties, and each subscription its options (No Local, Retain As
// Published, Retain Handling); the SUBACK carries one reason code per
// subscription, failures included, and may carry a Reason String.
func (c *Client) SubscribeWith(ctx context.Context, s *packets.Subscribe) (*packets.Suback, error) {
	if err := c.checkSubscribe(s); err != nil {
		return nil, err
	}
	req := &pending{expect: packets.TypeSuback, filters: len(s.Subscriptions), done: make(chan error, 1)}
	id, err := c.register(req)
	if err != nil {
		return nil, err
	}
	msg := *s
	msg.PacketID = id
	if _, err := c.send(ctx, &msg); err != nil {
		c.unregister(id)
		return nil, err
	}
	if err := c.wait(ctx, req.done); err != nil {
		return nil, err
	}
	return req.reply.(*packets.Suback), nil
}

func (c *Client) checkSubscribe(s *packets.Subscribe) error {
	if len(s.Subscriptions) == 0 {
		return fmt.Errorf("%w: SUBSCRIBE without a filter", ErrInvalidOptions)
	}
	for _, sub := range s.Subscriptions {
		if err := topic.ValidFilter(sub.Filter); err != nil {
			return fmt.Errorf("%w: filter %q: %w", ErrInvalidOptions, sub.Filter, err)
		}
		if sub.QoS > 2 || sub.RetainHandling > 2 {
			return fmt.Errorf("%w: subscription QoS %d, Retain Handling %d", ErrInvalidOptions, sub.QoS, sub.RetainHandling)
		}
	}
	if c.version != packets.V5 {
		return nil
	}
	ids := s.Properties.SubscriptionIDs
	switch {
	case len(ids) > 1:
		return fmt.Errorf("%w: %d subscription identifiers in one SUBSCRIBE", ErrInvalidOptions, len(ids))
	case len(ids) == 1 && (ids[0] == 0 || ids[0] > packets.MaxRemainingLength):
		return fmt.Errorf("%w: subscription identifier %d outside 1..%d", ErrInvalidOptions, ids[0], packets.MaxRemainingLength)
	case len(ids) == 1 && !c.limits.subscriptionIDs:
		return fmt.Errorf("%w: the server does not support subscription identifiers", ErrInvalidOptions)
	}
	return nil
}

// Unsubscribe sends one UNSUBSCRIBE with filters and waits for its
// UNSUBACK. With MQTT 5, the first failure reason code is returned as an
// *AckError.
func (c *Client) Unsubscribe(ctx context.Context, filters ...string) error {
	ack, err := c.UnsubscribeWith(ctx, &packets.Unsubscribe{Filters: filters})
	if err != nil {
		return err
	}
	for _, code := range ack.ReasonCodes {
		if code.IsError() {
			return c.ackError(packets.TypeUnsuback, ack.PacketID, code, ack.Properties.ReasonString)
		}
	}
	return nil
}

// UnsubscribeWith sends u, with a packet identifier of the client's
// choosing (u.PacketID is ignored; u is not modified), and returns the
// server's UNSUBACK. With MQTT 5, u may carry User Properties, and the
// UNSUBACK holds one reason code per filter, failures included; before
// MQTT 5 it holds none.
func (c *Client) UnsubscribeWith(ctx context.Context, u *packets.Unsubscribe) (*packets.Unsuback, error) {
	if len(u.Filters) == 0 {
		return nil, fmt.Errorf("%w: UNSUBSCRIBE without a filter", ErrInvalidOptions)
	}
	for _, f := range u.Filters {
		if err := topic.ValidFilter(f); err != nil {
			return nil, fmt.Errorf("%w: filter %q: %w", ErrInvalidOptions, f, err)
		}
	}
	req := &pending{expect: packets.TypeUnsuback, filters: len(u.Filters), done: make(chan error, 1)}
	id, err := c.register(req)
	if err != nil {
		return nil, err
	}
	msg := *u
	msg.PacketID = id
	if _, err := c.send(ctx, &msg); err != nil {
		c.unregister(id)
		return nil, err
	}
	if err := c.wait(ctx, req.done); err != nil {
		return nil, err
	}
	return req.reply.(*packets.Unsuback), nil
}
