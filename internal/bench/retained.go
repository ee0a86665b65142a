package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/midge-mqtt/midge/packets"
)

// runRetained stores c.Count retained messages on distinct topics, then
// times a new subscriber to c.Filter until all have arrived, and finally
// clears them unless c.KeepClear.
func runRetained(ctx context.Context, c Config) (*Result, error) {
	res := newResult(c)
	rr := &RetainedResult{Filter: c.Filter}
	res.Retained = rr
	stored, storeTime, err := storeRetained(ctx, c, false)
	if err != nil {
		return nil, err
	}
	rr.Stored, rr.StoreSeconds = stored, storeTime.Seconds()

	cr := newCrew()
	defer cr.shutdown()
	m := startMeter(c.BrokerPID)
	conn, err := dial(ctx, c.Target, dialOptions{clientID: c.clientID("r", c.Start), readBuf: 64 << 10})
	if err != nil {
		return nil, err
	}
	cr.add(conn)
	s := newSubscriber(c.Start, c.Filter, conn, uint64(stored))
	s.latency = false
	subscribe := packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: c.Filter, QoS: c.QoS}}}
	buf, err := subscribe.Encode(nil, conn.version)
	if err != nil {
		return nil, err
	}
	subscribed := time.Now()
	if err := conn.write(buf); err != nil {
		return nil, err
	}
	cr.goRun(s.run)
	waitFull(ctx, s, c.Drain)

	rr.Delivered = s.received.Load()
	if rr.Delivered > 0 {
		rr.DeliverSeconds = time.Unix(0, s.lastAt.Load()).Sub(subscribed).Seconds()
	}
	rr.PerSecond = ratio(float64(rr.Delivered), rr.DeliverSeconds)
	res.Received, res.ElapsedSeconds, res.ReceivedPerSecond = rr.Delivered, rr.DeliverSeconds, rr.PerSecond
	res.Sent, res.Expected = uint64(stored), uint64(stored)
	m.stop(res, rr.Delivered)
	cr.shutdown()
	res.Errors, res.FirstError = cr.failures.Load(), cr.firstError()
	res.Foreign = s.foreign.Load()
	t := s.trackers.get(uint32(c.Start))
	res.Lost, res.Duplicates, res.OutOfOrder = t.Missing(uint64(stored)), t.Duplicates(), t.OutOfOrder()

	if !c.KeepClear {
		if _, _, err := storeRetained(ctx, c, true); err != nil && res.FirstError == "" {
			res.FirstError = "clearing the retained messages: " + err.Error()
		}
	}
	return res, nil
}

// firstDeliveryWait is how long a retained run waits for the first of
// its messages: a broker may take seconds to gather 100,000 of them
// (nats-server takes about 5) before it sends any.
const firstDeliveryWait = 30 * time.Second

// waitFull waits until s has received what it expects, or nothing has
// arrived for drain (before the first delivery, for the longer of drain and
// firstDeliveryWait), or ctx is done.
func waitFull(ctx context.Context, s *subscriber, drain time.Duration) {
	ticker := time.NewTicker(5 * time.Millisecond)
	defer ticker.Stop()
	last, quiet := uint64(0), time.Now()
	patience := max(drain, firstDeliveryWait)
	for {
		select {
		case <-s.full:
			return
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		if n := s.received.Load(); n != last {
			last, quiet, patience = n, time.Now(), drain
		} else if time.Since(quiet) >= patience {
			return
		}
	}
}

// storeRetained publishes c.Count retained messages, one per topic, and
// waits until the broker has them all: the last acknowledgement at QoS 1
// and 2, the PINGRESP that follows them at QoS 0 (a broker handles one
// client's packets in order). With clear it publishes empty payloads,
// which delete them. It returns how many were stored and how long it took.
func storeRetained(ctx context.Context, c Config, clear bool) (int, time.Duration, error) {
	cr := newCrew()
	defer cr.shutdown()
	conn, err := dial(ctx, c.Target, dialOptions{clientID: c.clientID("w", c.Start), readBuf: 4096})
	if err != nil {
		return 0, 0, err
	}
	cr.add(conn)
	plan := publishPlan{qos: c.QoS, retain: true, count: c.Count, window: c.Window, batch: c.Batch}
	size := c.PayloadSize
	if clear {
		plan.qos, size = 0, 0
	}
	p, err := newPublisher(c.Start, conn, expand(c.Topic, c.Start), size, plan)
	if err != nil {
		return 0, 0, err
	}
	p.topicOf = func(seq int) string { return expand(c.Topic, c.Start+seq) }
	stop := make(chan struct{})
	defer context.AfterFunc(ctx, func() { close(stop) })()
	if plan.qos > 0 {
		cr.goRun(p.readAcks)
	}
	began := time.Now()
	if err := p.run(began, stop); err != nil {
		return 0, 0, err
	}
	if plan.qos == 0 {
		err = pingPong(conn, c.connectTimeout()+c.Drain)
	} else {
		err = waitAcked(ctx, p, c.Drain)
	}
	took := time.Since(began)
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	return int(p.done.Load()), took, err
}

// pingPong sends PINGREQ and reads until PINGRESP.
func pingPong(conn *rawConn, timeout time.Duration) error {
	conn.nc.SetReadDeadline(time.Now().Add(timeout))
	defer conn.nc.SetReadDeadline(time.Time{})
	if err := conn.write([]byte{0xC0, 0}); err != nil {
		return err
	}
	for {
		h, _, err := conn.reader.ReadFrame()
		if err != nil {
			return fmt.Errorf("bench: waiting for PINGRESP: %w", err)
		}
		if h.Type == packets.TypePingresp {
			return nil
		}
	}
}

// errUnacknowledged is returned when a publisher's messages stay
// unacknowledged for the drain time.
var errUnacknowledged = errors.New("bench: the broker stopped acknowledging")

// waitAcked waits until every message p sent is acknowledged.
func waitAcked(ctx context.Context, p *publisher, drain time.Duration) error {
	ticker := time.NewTicker(5 * time.Millisecond)
	defer ticker.Stop()
	last, quiet := uint64(0), time.Now()
	for p.done.Load() < p.sent.Load() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
		if n := p.done.Load(); n != last {
			last, quiet = n, time.Now()
		} else if time.Since(quiet) >= drain {
			return errUnacknowledged
		}
	}
	return nil
}
