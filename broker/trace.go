package broker

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/midge-mqtt/midge/packets"
)

// The packet trace is Mosquitto's log_type debug, what `mosquitto -v`
// prints: a line for every packet in both directions, in Mosquitto's
// words, which tutorials and people's grep patterns rely on. Each line is
// written at slog.LevelDebug. Every call site tests Server.tracing first,
// so that with debug logging off the trace costs one atomic load per
// packet and allocates nothing (BenchmarkTraceOff).

// refreshTracing reads from the logger whether debug lines are written. New
// and Reload call it: a reload may change the log types.
func (s *Server) refreshTracing() {
	s.tracing.Store(s.log.Enabled(context.Background(), slog.LevelDebug))
}

// trace writes one line of the packet trace.
func (c *conn) trace(format string, args ...any) {
	c.s.log.Debug(fmt.Sprintf(format, args...))
}

// traceWill follows the "New client connected" line, as in Mosquitto.
func (c *conn) traceWill(w *packets.Will) {
	if w == nil {
		c.trace("No will message specified.")
		return
	}
	c.trace("Will message specified (%d bytes) (r%d, q%d).", len(w.Payload), boolInt(w.Retain), w.QoS)
	c.trace("\t%s", w.Topic)
}

// publishLine is Mosquitto's line for a PUBLISH received ("Received"),
// refused ("Denied") or dropped ("Dropped too large"); its topic is the
// name with any mount point, as access control sees it.
func publishLine(verb, clientID string, p *packets.Publish) string {
	return fmt.Sprintf("%s PUBLISH from %s (d%d, q%d, r%d, m%d, '%s', ... (%d bytes))",
		verb, clientID, boolInt(p.Dup), p.QoS, boolInt(p.Retain), p.PacketID, p.Topic, len(p.Payload))
}

// traceAck is the line of a PUBACK, PUBREC, PUBREL or PUBCOMP received.
func (c *conn) traceAck(kind packets.Type, a *packets.Ack) {
	switch kind {
	case packets.TypePuback, packets.TypePubcomp:
		c.trace("Received %s from %s (Mid: %d, RC:%d)", kind, c.clientID, a.PacketID, a.ReasonCode)
	default:
		c.trace("Received %s from %s (Mid: %d)", kind, c.clientID, a.PacketID)
	}
}

// traceSubscribe lists the filters of a SUBSCRIBE as the client sent them.
func (c *conn) traceSubscribe(subs []packets.Subscription) {
	c.trace("Received SUBSCRIBE from %s", c.clientID)
	for _, sub := range subs {
		c.trace("\t%s (QoS %d)", sub.Filter, sub.QoS)
	}
}

// traceUnsubscribe lists the filters of an UNSUBSCRIBE.
func (c *conn) traceUnsubscribe(filters []string) {
	c.trace("Received UNSUBSCRIBE from %s", c.clientID)
	for _, f := range filters {
		c.trace("\t%s", f)
	}
}

// traceSent is the line of a packet the writer is about to write; mount is
// the connection's mount point, which the recipient does not see.
func (c *conn) traceSent(it *outItem, mount string) {
	switch {
	case it.msg != nil:
		c.trace("Sending PUBLISH to %s (d%d, q%d, r%d, m%d, '%s', ... (%d bytes))",
			c.clientID, boolInt(it.dup), it.qos, boolInt(it.retain), it.id,
			strings.TrimPrefix(it.msg.Topic, mount), len(it.msg.Payload))
	case it.ack != 0:
		c.traceAckSent(it.ack, it.id, it.reason)
	default:
		c.tracePacketSent(it.packet)
	}
}

func (c *conn) traceAckSent(kind packets.Type, id uint16, code packets.ReasonCode) {
	switch kind {
	case packets.TypePuback, packets.TypePubrec:
		c.trace("Sending %s to %s (m%d, rc%d)", kind, c.clientID, id, code)
	default:
		c.trace("Sending %s to %s (m%d)", kind, c.clientID, id)
	}
}

func (c *conn) tracePacketSent(p packets.Packet) {
	switch p := p.(type) {
	case *packets.Connack:
		c.trace("Sending CONNACK to %s (%d, %d)", c.traceName(), boolInt(p.SessionPresent), p.ReasonCode)
	case *packets.Ack:
		c.traceAckSent(p.Kind, p.PacketID, p.ReasonCode)
	case *packets.Disconnect:
		c.trace("Sending DISCONNECT to %s (rc%d)", c.clientID, p.ReasonCode)
	case *packets.Auth:
		c.trace("Sending AUTH to %s (rc%d, %s)", c.clientID, p.ReasonCode, p.Properties.AuthMethod)
	case *packets.Suback:
		c.trace("Sending SUBACK to %s", c.clientID)
	case *packets.Unsuback:
		c.trace("Sending UNSUBACK to %s", c.clientID)
	case *packets.Pingresp:
		c.trace("Sending PINGRESP to %s", c.clientID)
	default:
		c.trace("Sending %T to %s", p, c.clientID)
	}
}

// traceName is the client identifier, or for a client refused before it
// has one its address, as Mosquitto names it in "Sending CONNACK".
func (c *conn) traceName() string {
	if c.clientID == "" {
		return c.remote
	}
	return c.clientID
}
