package client

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/midge-mqtt/midge/packets"
)

// trace logs one packet at Debug level; the caller checks c.log != nil
// first so that nothing is formatted when tracing is off.
func (c *Client) trace(direction string, kind packets.Type, id uint16, format string, args ...any) {
	c.traceAttrs(direction, kind, id, fmt.Sprintf(format, args...))
}

// traceAttrs logs msg with the attributes every trace record has, then
// extra.
func (c *Client) traceAttrs(direction string, kind packets.Type, id uint16, msg string, extra ...slog.Attr) {
	if c.log == nil {
		return
	}
	attrs := make([]slog.Attr, 0, 4+len(extra))
	attrs = append(attrs, slog.String("direction", direction), slog.String("packet", kind.String()),
		slog.String("client_id", c.clientID))
	if id != 0 {
		attrs = append(attrs, slog.Int("packet_id", int(id)))
	}
	attrs = append(attrs, extra...)
	c.log.LogAttrs(context.Background(), slog.LevelDebug, msg, attrs...)
}

func bit(b bool) int {
	if b {
		return 1
	}
	return 0
}

// traceSent logs a packet the client queued, in libmosquitto's words.
func (c *Client) traceSent(p packets.Packet) {
	const dir = "sending"
	switch p := p.(type) {
	case *packets.Publish:
		c.trace(dir, packets.TypePublish, p.PacketID, "sending PUBLISH (d%d, q%d, r%d, m%d, '%s', ... (%d bytes))",
			bit(p.Dup), p.QoS, bit(p.Retain), p.PacketID, p.Topic, len(p.Payload))
	case *packets.Ack:
		switch p.Kind {
		case packets.TypePuback, packets.TypePubrec:
			c.trace(dir, p.Kind, p.PacketID, "sending %s (m%d, rc%d)", p.Kind.String(), p.PacketID, byte(p.ReasonCode))
		default:
			c.trace(dir, p.Kind, p.PacketID, "sending %s (m%d)", p.Kind.String(), p.PacketID)
		}
	case *packets.Subscribe:
		for _, s := range p.Subscriptions {
			var options byte
			if c.version == packets.V5 {
				options = s.RetainHandling<<4 | byte(bit(s.RetainAsPublished))<<3 | byte(bit(s.NoLocal))<<2
			}
			c.trace(dir, packets.TypeSubscribe, p.PacketID, "sending SUBSCRIBE (Mid: %d, Topic: %s, QoS: %d, Options: 0x%02x)",
				p.PacketID, s.Filter, s.QoS, options)
		}
	case *packets.Unsubscribe:
		for _, f := range p.Filters {
			c.trace(dir, packets.TypeUnsubscribe, p.PacketID, "sending UNSUBSCRIBE (Mid: %d, Topic: %s)", p.PacketID, f)
		}
	case *packets.Auth:
		c.trace(dir, packets.TypeAuth, 0, "sending AUTH (%d)", byte(p.ReasonCode))
	default:
		c.trace(dir, p.Type(), 0, "sending %s", p.Type().String())
	}
}

// traceReceived logs a packet the reader decoded, in libmosquitto's words.
func (c *Client) traceReceived(p packets.Packet) {
	const dir = "received"
	switch p := p.(type) {
	case *packets.Publish:
		c.trace(dir, packets.TypePublish, p.PacketID, "received PUBLISH (d%d, q%d, r%d, m%d, '%s', ... (%d bytes))",
			bit(p.Dup), p.QoS, bit(p.Retain), p.PacketID, p.Topic, len(p.Payload))
	case *packets.Ack:
		switch p.Kind {
		case packets.TypePuback, packets.TypePubcomp:
			c.trace(dir, p.Kind, p.PacketID, "received %s (Mid: %d, RC:%d)", p.Kind.String(), p.PacketID, byte(p.ReasonCode))
		default:
			c.trace(dir, p.Kind, p.PacketID, "received %s (Mid: %d)", p.Kind.String(), p.PacketID)
		}
	case *packets.Suback:
		c.traceAttrs(dir, packets.TypeSuback, p.PacketID, "received SUBACK", slog.Any("reason_codes", p.ReasonCodes))
	case *packets.Unsuback:
		c.trace(dir, packets.TypeUnsuback, p.PacketID, "received UNSUBACK")
	case *packets.Disconnect:
		c.trace(dir, packets.TypeDisconnect, 0, "received DISCONNECT (%d)", byte(p.ReasonCode))
	case *packets.Auth:
		c.trace(dir, packets.TypeAuth, 0, "received AUTH (%d)", byte(p.ReasonCode))
	default:
		c.trace(dir, p.Type(), 0, "received %s", p.Type().String())
	}
}
