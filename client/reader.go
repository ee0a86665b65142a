package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/midge-mqtt/midge/packets"
)

// read is the body of the reader goroutine: it decodes each packet and acts
// on it until reading fails, and returns why the connection ends.
func (c *Client) read(reader *packets.Reader) error {
	in := inbound{
		// Identifiers of QoS 2 messages delivered and awaiting PUBREL, so
		// that a resent PUBLISH (DUP) is acknowledged but not delivered
		// again. The server can have at most 65535 such messages, one per
		// identifier.
		awaitingRelease: make(map[uint16]struct{}),
		aliases:         make(receivedAliases),
	}
	for {
		h, body, err := reader.ReadFrame()
		if err != nil {
			var pe *packets.Error
			if errors.As(err, &pe) { // malformed framing, or above our Maximum Packet Size
				return fmt.Errorf("%w: %w", ErrProtocol, err)
			}
			return fmt.Errorf("%w: %w", ErrConnectionLost, err)
		}
		p, err := packets.Decode(h, body, c.version)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		if c.log != nil {
			c.traceReceived(p)
		}
		if err := c.receive(p, &in); err != nil {
			return err
		}
	}
}

// inbound is the reader goroutine's own state.
type inbound struct {
	awaitingRelease map[uint16]struct{}
	aliases         receivedAliases
}

// receive acts on one packet from the server.
func (c *Client) receive(p packets.Packet, in *inbound) error {
	switch p := p.(type) {
	case *packets.Publish:
		return c.receivePublish(p, in)
	case *packets.Ack:
		return c.receiveAck(p, in.awaitingRelease)
	case *packets.Suback:
		c.complete(p.PacketID, packets.TypeSuback, p, c.checkCount(packets.TypeSuback, p.PacketID, len(p.ReasonCodes)))
	case *packets.Unsuback:
		var err error
		if c.version == packets.V5 {
			err = c.checkCount(packets.TypeUnsuback, p.PacketID, len(p.ReasonCodes))
		}
		c.complete(p.PacketID, packets.TypeUnsuback, p, err)
	case *packets.Pingresp:
		c.pingOutstanding.Store(false)
	case *packets.Auth:
		return c.receiveAuth(p)
	case *packets.Disconnect:
		return &DisconnectError{Code: p.ReasonCode, Reason: p.Properties.ReasonString, ServerReference: p.Properties.ServerReference}
	default:
		return fmt.Errorf("%w: unexpected %s", ErrProtocol, p.Type().String())
	}
	return nil
}

// receivePublish delivers p and acknowledges it: QoS 1 with PUBACK after
// OnMessage returns, QoS 2 with PUBREC, delivering it only the first time.
func (c *Client) receivePublish(p *packets.Publish, in *inbound) error {
	if err := c.resolve(p, in.aliases); err != nil {
		return err
	}
	awaitingRelease := in.awaitingRelease
	switch p.QoS {
	case 0:
		c.deliver(p)
		return nil
	case 1:
		c.deliver(p)
		if c.deferAck {
			return nil
		}
		return c.reply(&packets.Ack{Kind: packets.TypePuback, PacketID: p.PacketID})
	default:
		if _, seen := awaitingRelease[p.PacketID]; !seen {
			awaitingRelease[p.PacketID] = struct{}{}
			c.deliver(p)
		}
		if c.deferAck {
			// The caller's Ack answers it, the first time and a resend alike.
			return nil
		}
		return c.reply(&packets.Ack{Kind: packets.TypePubrec, PacketID: p.PacketID})
	}
}

// Ack acknowledges a QoS 1 or 2 message received with Options.DeferAck:
// PUBACK for QoS 1, PUBREC for QoS 2 (the client answers the PUBREL that
// follows). It returns the connection's error once it has ended. QoS 0
// needs no acknowledgement.
func (c *Client) Ack(qos byte, packetID uint16) error {
	switch qos {
	case 0:
		return nil
	case 1:
		return c.reply(&packets.Ack{Kind: packets.TypePuback, PacketID: packetID})
	default:
		return c.reply(&packets.Ack{Kind: packets.TypePubrec, PacketID: packetID})
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

// checkCount checks that a SUBACK or MQTT 5 UNSUBACK has one code per
// filter of the request it answers.
func (c *Client) checkCount(kind packets.Type, id uint16, codes int) error {
	c.mu.Lock()
	req := c.pending[id]
	c.mu.Unlock()
	if req != nil && req.expect == kind && codes != req.filters {
		return fmt.Errorf("%w: %s with %d codes for %d filters", ErrProtocol, kind.String(), codes, req.filters)
	}
	return nil
}
