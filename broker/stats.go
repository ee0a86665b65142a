package broker

import "sync/atomic"

// Stats is a snapshot of the broker's counters, in the spirit of Mosquitto's
// $SYS tree.
type Stats struct {
	ClientsConnected     int64 // connections that completed CONNECT and are open
	ClientsMaximum       int64 // highest ClientsConnected so far
	ClientsTotal         int64 // sessions, connected or not
	Subscriptions        int64 // shared subscriptions included
	SharedSubscriptions  int64
	Retained             int64 // retained messages, less the broker's own $SYS ones
	MessagesReceived     int64 // packets of every type received
	MessagesSent         int64 // packets of every type sent
	PublishReceived      int64
	PublishSent          int64
	PublishDropped       int64 // messages not delivered because a queue was full
	PublishBytesReceived int64 // payload bytes of the PUBLISH packets received
	PublishBytesSent     int64 // payload bytes of the PUBLISH packets sent
	BytesReceived        int64
	BytesSent            int64
	ConnectionsAccepted  int64 // sockets accepted
	Connects             int64 // CONNECTs accepted
	SessionsExpired      int64 // offline sessions ended by their expiry interval
}

// ClientsDisconnected is the number of sessions kept for clients that are
// not connected (Mosquitto's clients/disconnected).
func (st Stats) ClientsDisconnected() int64 {
	return max(st.ClientsTotal-st.ClientsConnected, 0)
}

// counters are the live counters behind Stats; each is updated atomically.
type counters struct {
	clientsConnected     atomic.Int64
	clientsMaximum       atomic.Int64
	messagesReceived     atomic.Int64
	messagesSent         atomic.Int64
	publishReceived      atomic.Int64
	publishSent          atomic.Int64
	publishDropped       atomic.Int64
	publishBytesReceived atomic.Int64
	publishBytesSent     atomic.Int64
	bytesReceived        atomic.Int64
	bytesSent            atomic.Int64
	connectionsAccepted  atomic.Int64
	connects             atomic.Int64
	sessionsExpired      atomic.Int64
}

// clientConnected counts a CONNECT accepted.
func (c *counters) clientConnected() {
	c.connects.Add(1)
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
		ClientsConnected:     c.clientsConnected.Load(),
		ClientsMaximum:       c.clientsMaximum.Load(),
		ClientsTotal:         int64(s.sessions.count()),
		Subscriptions:        int64(s.subscriptions.Len()),
		SharedSubscriptions:  int64(s.shares.count()),
		Retained:             max(int64(s.retained.count())-s.sysRetained.Load(), 0),
		MessagesReceived:     c.messagesReceived.Load(),
		MessagesSent:         c.messagesSent.Load(),
		PublishReceived:      c.publishReceived.Load(),
		PublishSent:          c.publishSent.Load(),
		PublishDropped:       c.publishDropped.Load(),
		PublishBytesReceived: c.publishBytesReceived.Load(),
		PublishBytesSent:     c.publishBytesSent.Load(),
		SessionsExpired:      c.sessionsExpired.Load(),
		BytesReceived:        c.bytesReceived.Load(),
		BytesSent:            c.bytesSent.Load(),
		ConnectionsAccepted:  c.connectionsAccepted.Load(),
		Connects:             c.connects.Load(),
	}
}

// count returns the number of shared subscriptions: the members of every
// group.
func (g *shareGroups) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, sg := range g.m {
		n += sg.members
	}
	return n
}
