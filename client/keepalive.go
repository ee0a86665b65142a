package client

import (
	"context"
	"time"

	"github.com/midge-mqtt/midge/packets"
)

// keepAliveLoop is the keepalive goroutine, started only when the keepalive
// is not zero. It sends PINGREQ once nothing has been written for the
// keepalive [MQTT-3.1.2-23], and ends the connection with ErrPingTimeout
// when the PINGRESP has not arrived one keepalive after the PINGREQ.
func (c *Client) keepAliveLoop() {
	defer c.workers.Done()
	timer := time.NewTimer(c.keepAlive)
	defer timer.Stop()
	var pingSent time.Time
	for {
		select {
		case <-timer.C:
		case <-c.closing:
			return
		}
		now := time.Now()
		if c.pingOutstanding.Load() {
			if late := now.Sub(pingSent); late < c.keepAlive {
				timer.Reset(c.keepAlive - late)
				continue
			}
			c.shutdown(ErrPingTimeout)
			return
		}
		idle := now.Sub(time.Unix(0, c.lastSent.Load()))
		if idle < c.keepAlive {
			timer.Reset(c.keepAlive - idle)
			continue
		}
		c.pingOutstanding.Store(true)
		pingSent = now
		if _, err := c.send(context.Background(), &packets.Pingreq{}); err != nil {
			return // the connection is ending; the reader records why
		}
		timer.Reset(c.keepAlive)
	}
}
