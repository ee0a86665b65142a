package client

import (
	"context"
	"fmt"

	"github.com/midge-mqtt/midge/packets"
)

// read is the body of the reader goroutine: it decodes each packet and acts
// on it until reading fails, and returns why the connection ends.
func (c *Client) read(reader *packets.Reader) error {
	// Identifiers of QoS 2 messages delivered and awaiting PUBREL, so that
	// a resent PUBLISH (DUP) is acknowledged but not delivered again. Only
	// this goroutine uses it; the server can have at most 65535 such
	// messages, one per identifier.
	awaitingRelease := make(map[uint16]struct{})
	for {
		h, body, err := reader.ReadFrame()
		if err != nil {
			return fmt.Errorf("%w: %w", ErrConnectionLost, err)
		}
		p, err := packets.Decode(h, body, c.version)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		if c.log != nil {
			c.traceReceived(p)
		}
		switch p := p.(type) {
		case *packets.Publish:
			err = c.receivePublish(p, awaitingRelease)
		case *packets.Ack:
			err = c.receiveAck(p, awaitingRelease)
		case *packets.Suback:
			c.complete(p.PacketID, packets.TypeSuback, p.ReasonCodes, c.checkSuback(p))
		case *packets.Unsuback:
			c.complete(p.PacketID, packets.TypeUnsuback, p.ReasonCodes, c.checkUnsuback(p))
		case *packets.Pingresp:
			c.pingOutstanding.Store(false)
		case *packets.Disconnect:
			err = fmt.Errorf("%w: server sent DISCONNECT (reason 0x%02X) %s", ErrConnectionLost, byte(p.ReasonCode), p.Properties.ReasonString)
		default:
			err = fmt.Errorf("%w: unexpected %s", ErrProtocol, h.Type.String())
		}
		if err != nil {
			return err
		}
	}
}

// receivePublish delivers p and acknowledges it: QoS 1 with PUBACK after
// OnMessage returns, QoS 2 with PUBREC, delivering it only the first time.
func (c *Client) receivePublish(p *packets.Publish, awaitingRelease map[uint16]struct{}) error {
	switch p.QoS {
	case 0:
		c.deliver(p)
		return nil
	case 1:
		c.deliver(p)
		return c.reply(&packets.Ack{Kind: packets.TypePuback, PacketID: p.PacketID})
	default:
		if _, seen := awaitingRelease[p.PacketID]; !seen {
			awaitingRelease[p.PacketID] = struct{}{}
			c.deliver(p)
		}
		return c.reply(&packets.Ack{Kind: packets.TypePubrec, PacketID: p.PacketID})
	}
}

func (c *Client) deliver(p *packets.Publish) {
	if c.onMessage != nil {
		c.onMessage(p)
	}
}

// receiveAck handles PUBACK, PUBREC, PUBREL and PUBCOMP.
func (c *Client) receiveAck(a *packets.Ack, awaitingRelease map[uint16]struct{}) error {
	switch a.Kind {
	case packets.TypePuback, packets.TypePubcomp:
		c.complete(a.PacketID, a.Kind, nil, c.ackError(a.Kind, a.PacketID, a.ReasonCode, a.Properties.ReasonString))
		return nil
	case packets.TypePubrec:
		if a.ReasonCode.IsError() {
			// MQTT 5: the flow ends here, without PUBREL [MQTT-4.3.3-4].
			c.complete(a.PacketID, packets.TypePubrec, nil, c.ackError(a.Kind, a.PacketID, a.ReasonCode, a.Properties.ReasonString))
			return nil
		}
		rel := &packets.Ack{Kind: packets.TypePubrel, PacketID: a.PacketID}
		c.mu.Lock()
		if req := c.pending[a.PacketID]; req != nil && req.expect == packets.TypePubrec {
			req.expect = packets.TypePubcomp
		} else if c.version == packets.V5 {
			rel.ReasonCode = packets.PacketIDNotFound
		}
		c.mu.Unlock()
		return c.reply(rel)
	case packets.TypePubrel:
		comp := &packets.Ack{Kind: packets.TypePubcomp, PacketID: a.PacketID}
		if _, ok := awaitingRelease[a.PacketID]; ok {
			delete(awaitingRelease, a.PacketID)
		} else if c.version == packets.V5 {
			comp.ReasonCode = packets.PacketIDNotFound
		}
		return c.reply(comp)
	}
	return fmt.Errorf("%w: acknowledgement of type %s", ErrProtocol, a.Kind.String())
}

// reply queues an acknowledgement from the reader. It waits only while the
// outbound queue is full, which stops reading from a server that does not
// read what it is sent.
func (c *Client) reply(p packets.Packet) error {
	_, err := c.send(context.Background(), p)
	return err
}

func (c *Client) ackError(kind packets.Type, id uint16, code packets.ReasonCode, reason string) error {
	if !code.IsError() {
		return nil
	}
	return &AckError{Packet: kind, PacketID: id, Code: code, Reason: reason}
}

func (c *Client) checkSuback(s *packets.Suback) error {
	c.mu.Lock()
	req := c.pending[s.PacketID]
	c.mu.Unlock()
	if req != nil && req.expect == packets.TypeSuback && len(s.ReasonCodes) != req.filters {
		return fmt.Errorf("%w: SUBACK with %d codes for %d filters", ErrProtocol, len(s.ReasonCodes), req.filters)
	}
	return nil
}

func (c *Client) checkUnsuback(u *packets.Unsuback) error {
	for _, code := range u.ReasonCodes {
		if code.IsError() {
			return c.ackError(packets.TypeUnsuback, u.PacketID, code, u.Properties.ReasonString)
		}
	}
	return nil
}
