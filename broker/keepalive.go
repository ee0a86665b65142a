package broker

import "time"

// keepAliveCheckInterval is how often connections are checked for silence;
// a connection is closed at most this much later than 1.5 times its keep
// alive.
const keepAliveCheckInterval = 250 * time.Millisecond

// checkKeepAlives closes connections that have been silent for more than
// one and a half times their keep alive [MQTT-3.1.2-24], polled ones and
// those read by their own goroutine alike: one ticker on the broker's
// clock, rather than a read deadline per packet, so that a test's clock
// drives it.
// The caller makes the ticker t, before the goroutine starts, so that a
// test's clock cannot move on before it exists.
func (s *Server) checkKeepAlives(done <-chan struct{}, t Ticker) {
	defer t.Stop()
	var expired []*conn
	for {
		select {
		case <-done:
			return
		case <-t.C():
			// The clock's time, not the tick's: a tick read late is old.
			expired = s.silentConns(s.o().Clock.Now().UnixNano(), expired[:0])
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
		if last != 0 && c.keepAlive > 0 && now-last > int64(c.keepAlive*3/2) {
			dst = append(dst, c)
		}
	}
	return dst
}
