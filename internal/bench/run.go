package bench

import (
	"context"
	"sync"
	"time"

	"github.com/midge-mqtt/midge/topic"
)

// Run performs the run c describes and returns what it measured. Setup
// failures (a client that cannot connect or subscribe) are returned as
// errors; a client that fails during the measured window is counted in
// Result.Errors instead. When ctx is cancelled the run stops early and
// reports what it saw so far.
func Run(ctx context.Context, c Config) (*Result, error) {
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	switch c.Mode {
	case ModeConn:
		return runConns(ctx, c)
	case ModeRetained:
		return runRetained(ctx, c)
	default:
		return runMessages(ctx, c)
	}
}

// messageRun is the state of a pub, sub or run.
type messageRun struct {
	c    Config
	crew *crew
	subs []*subscriber
	pubs []*publisher
}

// runMessages connects the subscribers, then the publishers, then
// publishes and waits for the deliveries.
func runMessages(ctx context.Context, c Config) (*Result, error) {
	r := &messageRun{c: c, crew: newCrew()}
	defer r.crew.shutdown()
	if err := r.connectSubscribers(ctx); err != nil {
		return nil, err
	}
	if err := r.connectPublishers(ctx); err != nil {
		return nil, err
	}
	r.crew.goRun(func() error { r.crew.pingLoop(c.KeepAlive); return nil })
	started := time.Now()
	if c.Progress != nil {
		r.crew.goRun(func() error { r.reportProgress(started); return nil })
	}

	m := startMeter(c.BrokerPID)
	stop := make(chan struct{})
	var stopOnce sync.Once
	stopAll := func() { stopOnce.Do(func() { close(stop) }) }
	if c.Duration > 0 {
		t := time.AfterFunc(c.Duration, stopAll)
		defer t.Stop()
	}
	defer context.AfterFunc(ctx, stopAll)()

	var writers sync.WaitGroup
	for _, p := range r.pubs {
		writers.Add(1)
		go func() {
			defer writers.Done()
			if err := p.run(m.start, stop); err != nil {
				r.crew.fail(err)
			}
		}()
	}
	writers.Wait()
	r.waitForDeliveries(ctx, stop, stopAll)

	res := newResult(c)
	r.tally(res, m.start)
	messages := res.Received
	if c.Mode == ModePub {
		messages = res.Sent
	}
	m.stop(res, messages)
	r.crew.shutdown()
	r.tallyDeliveries(res)
	res.Errors += r.crew.failures.Load()
	if res.FirstError == "" {
		res.FirstError = r.crew.firstError()
	}
	return res, nil
}

// connectSubscribers dials and subscribes every subscriber of a sub or run
// and starts its reader.
func (r *messageRun) connectSubscribers(ctx context.Context) error {
	c := r.c
	n, expect := c.Subscribers, uint64(0)
	switch c.Mode {
	case ModePub:
		return nil
	case ModeSub:
		n, expect = c.Clients, uint64(c.Count)
	}
	r.subs = make([]*subscriber, n)
	err := parallel(ctx, n, c.Concurrency, func(i int) error {
		index := c.Start + i
		conn, err := dial(ctx, c.Target, dialOptions{clientID: c.clientID("s", index), readBuf: 64 << 10})
		if err != nil {
			return err
		}
		r.crew.add(conn)
		filter := expand(c.Filter, index)
		if err := conn.subscribe(filter, c.QoS, c.connectTimeout()); err != nil {
			return err
		}
		r.subs[i] = newSubscriber(index, filter, conn, expect)
		return nil
	})
	if err != nil {
		return err
	}
	for _, s := range r.subs {
		r.crew.goRun(s.run)
	}
	return nil
}

// connectPublishers dials every publisher of a pub or run and, at QoS 1
// and 2, starts its acknowledgement reader.
func (r *messageRun) connectPublishers(ctx context.Context) error {
	c := r.c
	if c.Mode == ModeSub {
		return nil
	}
	plan := publishPlan{qos: c.QoS, retain: c.Retain, count: c.Count, rate: c.Rate, window: c.Window, batch: c.Batch}
	r.pubs = make([]*publisher, c.Clients)
	err := parallel(ctx, c.Clients, c.Concurrency, func(i int) error {
		index := c.Start + i
		conn, err := dial(ctx, c.Target, dialOptions{clientID: c.clientID("p", index), readBuf: 4096})
		if err != nil {
			return err
		}
		r.crew.add(conn)
		r.pubs[i], err = newPublisher(index, conn, expand(c.Topic, index), c.PayloadSize, plan)
		return err
	})
	if err != nil {
		return err
	}
	if c.QoS > 0 {
		for _, p := range r.pubs {
			r.crew.goRun(p.readAcks)
		}
	}
	return nil
}

// waitForDeliveries waits, once publishing has ended, until every
// acknowledgement and delivery expected has arrived or none has for the
// drain time. A sub waits for its count, its duration or ctx.
func (r *messageRun) waitForDeliveries(ctx context.Context, stop <-chan struct{}, stopAll func()) {
	if r.c.Mode == ModeSub {
		if r.c.Count > 0 {
			go func() {
				for _, s := range r.subs {
					select {
					case <-s.full:
					case <-stop:
						return
					}
				}
				stopAll()
			}()
		}
		<-stop
		return
	}
	expected := r.expected()
	quiet, last := time.Now(), [2]uint64{}
	ticker := time.NewTicker(5 * time.Millisecond)
	defer ticker.Stop()
	for {
		var sent, acked, received uint64
		for _, p := range r.pubs {
			sent += p.sent.Load()
			acked += p.done.Load()
		}
		for _, s := range r.subs {
			received += s.received.Load()
		}
		if acked >= sent && received >= expected {
			return
		}
		if now := [2]uint64{acked, received}; now != last {
			last, quiet = now, time.Now()
		} else if time.Since(quiet) >= r.c.Drain {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// expected returns the deliveries a run expects: each publisher's messages
// once for every subscriber whose filter matches its topic.
func (r *messageRun) expected() uint64 {
	var n uint64
	for _, p := range r.pubs {
		topicName := expand(r.c.Topic, int(p.index))
		for _, s := range r.subs {
			if topic.Match(s.filter, topicName) {
				n += p.sent.Load()
			}
		}
	}
	return n
}

// tally fills in the counts, times and rates of res; the measured window
// ends with the last delivery (run, sub) or acknowledgement (pub).
func (r *messageRun) tally(res *Result, start time.Time) {
	var lastSend, lastArrival, firstArrival int64
	for _, p := range r.pubs {
		res.Sent += p.sent.Load()
		if r.c.QoS > 0 {
			res.Acked += p.done.Load()
		}
		res.Refused += p.refused.Load()
		if stray := p.stray.Load(); stray > 0 {
			res.Errors += stray
			res.FirstError = "an acknowledgement came for a packet identifier not in flight"
		}
		lastSend = max(lastSend, p.lastSend.Load(), p.lastAck.Load())
	}
	for _, s := range r.subs {
		res.Received += s.received.Load()
		res.Foreign += s.foreign.Load()
		lastArrival = max(lastArrival, s.lastAt.Load())
		if first := s.firstAt.Load(); first != 0 && (firstArrival == 0 || first < firstArrival) {
			firstArrival = first
		}
	}
	if len(r.pubs) > 0 {
		res.PublishSeconds = max(0, float64(lastSend-start.UnixNano())/1e9)
		res.SentPerSecond = ratio(float64(res.Sent), res.PublishSeconds)
	}
	switch r.c.Mode {
	case ModeRun:
		res.Expected = r.expected()
		res.ElapsedSeconds = max(0, float64(max(lastArrival, lastSend)-start.UnixNano())/1e9)
	case ModeSub:
		res.ElapsedSeconds = float64(lastArrival-firstArrival) / 1e9
	default:
		res.ElapsedSeconds = res.PublishSeconds
	}
	res.ReceivedPerSecond = ratio(float64(res.Received), res.ElapsedSeconds)
}

// tallyDeliveries fills in latency, losses, duplicates and reordering from
// the subscribers, whose goroutines must have ended.
func (r *messageRun) tallyDeliveries(res *Result) {
	var hist Histogram
	for _, s := range r.subs {
		hist.Merge(&s.hist)
		for _, t := range s.trackers.byPublisher {
			res.Duplicates += t.Duplicates()
			res.OutOfOrder += t.OutOfOrder()
			if r.c.Mode == ModeSub {
				res.Lost += t.Missing(0)
			}
		}
	}
	res.Latency = summarize(&hist)
	if r.c.Mode != ModeRun {
		return
	}
	for _, p := range r.pubs {
		topicName := expand(r.c.Topic, int(p.index))
		for _, s := range r.subs {
			if !topic.Match(s.filter, topicName) {
				continue
			}
			var got uint64
			if t, ok := s.trackers.byPublisher[p.index]; ok {
				got = t.Unique()
			}
			res.Lost += p.sent.Load() - min(got, p.sent.Load())
		}
	}
}

// reportProgress calls c.Progress every second until the crew shuts down.
func (r *messageRun) reportProgress(started time.Time) {
	r.crew.everySecond(func() {
		p := Progress{Elapsed: time.Since(started), Connected: r.crew.connected(), Errors: r.crew.failures.Load()}
		for _, pub := range r.pubs {
			p.Sent += pub.sent.Load()
			if r.c.QoS > 0 {
				p.Acked += pub.done.Load()
			}
		}
		for _, s := range r.subs {
			p.Received += s.received.Load()
		}
		r.c.Progress(p)
	})
}
