package broker

// publishWill publishes the connection's will: the connection ended without
// a normal DISCONNECT [MQTT-3.1.2-8].
func (c *conn) publishWill() {
	w := c.will
	m := &Message{
		Topic:      w.Topic,
		Payload:    w.Payload,
		QoS:        w.QoS,
		Retain:     w.Retain,
		Properties: forwardedProperties(&w.Properties),
	}
	c.s.publish(m, &c.scratch.route)
}
