package broker

import "time"

// keepAliveCheckInterval is how often polled connections are checked for
// silence; a connection is closed at most this much later than 1.5 times
// its keep alive.
const keepAliveCheckInterval = 250 * time.Millisecond

// checkKeepAlives closes polled connections that have been silent for more
// than one and a half times their keep alive [MQTT-3.1.2-24]. Connections
// read by their own goroutine use a read deadline instead.
func (s *Server) checkKeepAlives(done <-chan struct{}) {
	t := time.NewTicker(keepAliveCheckInterval)
	defer t.Stop()
	var expired []*conn
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			expired = s.silentConns(now.UnixNano(), expired[:0])
			for _, c := range expired {
				c.kick(errKeepAlive)
			}
			clear(expired)
		}
	}
}

func (s *Server) silentConns(now int64, dst []*conn) []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		// lastRead is stored once the handshake has set polled and
		// keepAlive; before that it is 0 and the connection is skipped.
		last := c.lastRead.Load()
		if last != 0 && c.polled && c.keepAlive > 0 && now-last > int64(c.keepAlive*3/2) {
			dst = append(dst, c)
		}
	}
	return dst
}
