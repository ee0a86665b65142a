package broker

import "sync/atomic"

// Stats is a snapshot of the broker's counters, in the spirit of Mosquitto's
// $SYS tree.
type Stats struct {
	ClientsConnected    int64 // connections that completed CONNECT and are open
	ClientsMaximum      int64 // highest ClientsConnected so far
	ClientsTotal        int64 // sessions, connected or not
	Subscriptions       int64
	Retained            int64
	MessagesReceived    int64 // packets of every type received
	MessagesSent        int64 // packets of every type sent
	PublishReceived     int64
	PublishSent         int64
	PublishDropped      int64 // messages not delivered because a queue was full
	BytesReceived       int64
	BytesSent           int64
	ConnectionsAccepted int64 // sockets accepted
	SessionsExpired     int64 // offline sessions ended by their expiry interval
}

// counters are the live counters behind Stats; each is updated atomically.
type counters struct {
	clientsConnected    atomic.Int64
	clientsMaximum      atomic.Int64
	messagesReceived    atomic.Int64
	messagesSent        atomic.Int64
	publishReceived     atomic.Int64
	publishSent         atomic.Int64
	publishDropped      atomic.Int64
	bytesReceived       atomic.Int64
	bytesSent           atomic.Int64
	connectionsAccepted atomic.Int64
	sessionsExpired     atomic.Int64
}

func (c *counters) clientConnected() {
	n := c.clientsConnected.Add(1)
	for {
		max := c.clientsMaximum.Load()
		if n <= max || c.clientsMaximum.CompareAndSwap(max, n) {
			return
		}
	}
}

// Stats returns a snapshot of the broker's counters.
func (s *Server) Stats() Stats {
	c := &s.counters
	return Stats{
		ClientsConnected:    c.clientsConnected.Load(),
		ClientsMaximum:      c.clientsMaximum.Load(),
		ClientsTotal:        int64(s.sessions.count()),
		Subscriptions:       int64(s.subscriptions.Len()),
		Retained:            int64(s.retained.count()),
		MessagesReceived:    c.messagesReceived.Load(),
		MessagesSent:        c.messagesSent.Load(),
		PublishReceived:     c.publishReceived.Load(),
		PublishSent:         c.publishSent.Load(),
		PublishDropped:      c.publishDropped.Load(),
		SessionsExpired:     c.sessionsExpired.Load(),
		BytesReceived:       c.bytesReceived.Load(),
		BytesSent:           c.bytesSent.Load(),
		ConnectionsAccepted: c.connectionsAccepted.Load(),
	}
}
