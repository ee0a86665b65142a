package bench

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// sourceAddrs returns the source addresses conn mode spreads its clients
// over: c.Sources of them from c.SourceBase on, or, when c.Sources is 0,
// one per c.PerSource clients if the broker is on a loopback address and
// the system is Linux (which routes all of 127.0.0.0/8 to the loopback
// interface) and none otherwise.
func sourceAddrs(c Config) ([]netip.Addr, error) {
	count := c.Sources
	if count == 0 {
		if !isLoopback(c.Addr) || runtime.GOOS != "linux" {
			return nil, nil
		}
		count = (c.Clients + c.PerSource - 1) / c.PerSource
	}
	addrs := make([]netip.Addr, 0, count)
	for a := c.SourceBase; len(addrs) < count; a = a.Next() {
		if !a.IsValid() || (c.SourceBase.IsLoopback() && !a.IsLoopback()) {
			return nil, fmt.Errorf("bench: %d source addresses from %v leave the loopback range", count, c.SourceBase)
		}
		addrs = append(addrs, a)
	}
	return addrs, nil
}

// sourceFor returns the source address of client i, taking addrs in turn,
// or nil for the system's choice when addrs is empty.
func sourceFor(addrs []netip.Addr, i int) net.Addr {
	if len(addrs) == 0 {
		return nil
	}
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(addrs[i%len(addrs)], 0))
}

// connRun is the state of conn mode.
type connRun struct {
	c       Config
	crew    *crew
	sources []netip.Addr

	mu         sync.Mutex
	handshakes Histogram // guarded by mu
	failed     int       // guarded by mu
	firstErr   error     // guarded by mu
	lastAt     atomic.Int64
}

// runConns opens c.Clients idle connections at c.Rate per second, holds
// them for c.Duration, and measures the rate and the broker's memory.
func runConns(ctx context.Context, c Config) (*Result, error) {
	RaiseOpenFileLimit()
	sources, err := sourceAddrs(c)
	if err != nil {
		return nil, err
	}
	r := &connRun{c: c, crew: newCrew(), sources: sources}
	defer r.crew.shutdown()
	res := newResult(c)
	cres := &ConnResult{Requested: c.Clients}
	res.Connections = cres
	for _, a := range sources {
		cres.Sources = append(cres.Sources, a.String())
	}
	started := time.Now()
	if c.Progress != nil {
		r.crew.goRun(func() error { r.reportProgress(started); return nil })
	}

	m := startMeter(c.BrokerPID)
	r.openAll(ctx, m.start)
	cres.Connected = r.crew.connected()
	cres.Failed = r.failed
	if r.firstErr != nil {
		res.Errors = uint64(r.failed)
		res.FirstError = r.firstErr.Error()
	}
	connectEnd := time.Unix(0, r.lastAt.Load())
	if cres.Connected == 0 {
		connectEnd = time.Now()
	}
	cres.ConnectSeconds = connectEnd.Sub(m.start).Seconds()
	cres.PerSecond = ratio(float64(cres.Connected), cres.ConnectSeconds)
	cres.Handshake = summarize(&r.handshakes)
	m.stop(res, uint64(cres.Connected))

	holdStart := time.Now()
	r.crew.goRun(func() error { r.crew.pingLoop(c.KeepAlive); return nil })
	hold := time.NewTimer(c.Duration)
	select {
	case <-ctx.Done():
	case <-hold.C:
	}
	hold.Stop()
	cres.HeldSeconds = time.Since(holdStart).Seconds()
	if b := res.BrokerProcess; b != nil && b.Error == "" {
		if s, err := SampleProcess(c.BrokerPID); err == nil {
			b.RSSKiB, b.HWMKiB = s.RSS>>10, s.HWM>>10
			b.BytesPerConnection = ratio(float64(s.RSS-b.RSSBeforeKiB<<10), float64(cres.Connected))
		}
	}
	r.crew.each(func(conn *rawConn) {
		if peerClosed(conn.nc) {
			cres.Dropped++
		}
	})
	return res, nil
}

// openAll dials every client, paced to c.Rate from start, with at most
// c.Concurrency handshakes at once.
func (r *connRun) openAll(ctx context.Context, start time.Time) {
	c := r.c
	slots := make(chan struct{}, c.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	pace := time.NewTimer(time.Hour)
	defer pace.Stop()
	for i := range c.Clients {
		if c.Rate > 0 {
			due := start.Add(time.Duration(float64(i) / c.Rate * float64(time.Second)))
			if wait := time.Until(due); wait > 0 {
				pace.Reset(wait)
				select {
				case <-ctx.Done():
					return
				case <-pace.C:
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case slots <- struct{}{}:
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			r.open(ctx, i)
		}()
	}
}

// open dials client i and records the outcome.
func (r *connRun) open(ctx context.Context, i int) {
	index := r.c.Start + i
	began := time.Now()
	conn, err := dial(ctx, r.c.Target, dialOptions{
		clientID: r.c.clientID("c", index),
		local:    sourceFor(r.sources, i),
		readBuf:  64,
	})
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.failed++
		if r.firstErr == nil {
			r.firstErr = err
		}
		return
	}
	r.crew.add(conn)
	conn.lastWrite.Store(now.UnixNano())
	r.handshakes.Record(int64(now.Sub(began)))
	if now.UnixNano() > r.lastAt.Load() {
		r.lastAt.Store(now.UnixNano())
	}
}

// reportProgress calls c.Progress every second until the crew shuts down.
func (r *connRun) reportProgress(started time.Time) {
	r.crew.everySecond(func() {
		r.mu.Lock()
		failed := r.failed
		r.mu.Unlock()
		r.c.Progress(Progress{Elapsed: time.Since(started), Connected: r.crew.connected(), Errors: uint64(failed)})
	})
}
