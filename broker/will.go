package broker

import "fmt"

// publishWill publishes the connection's will: the connection ended without
// a normal DISCONNECT [MQTT-3.1.2-8].
//
// The will is held to the client's write access at the moment it is
// published, as any PUBLISH would be.
func (c *conn) publishWill() {
	w := c.will
	if c.access != nil && !c.access.CanWrite(w.Topic) {
		c.s.log.Info(fmt.Sprintf("Denied will of %s: not authorised to publish to '%s'.", c.clientID, w.Topic))
		return
	}
	m := &Message{
		Topic:      w.Topic,
		Payload:    w.Payload,
		QoS:        w.QoS,
		Retain:     w.Retain,
		Properties: forwardedProperties(&w.Properties),
	}
	c.s.publish(m, &c.scratch.route, nil)
}
