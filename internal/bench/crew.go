package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"time"
)

// crew owns a run's connections and goroutines: it starts the goroutines,
// counts the clients that failed, and at the end closes every connection
// and waits for every goroutine.
type crew struct {
	wg       sync.WaitGroup
	closing  atomic.Bool
	failures atomic.Uint64
	quit     chan struct{} // closed by shutdown, for loops that wait on time

	mu       sync.Mutex
	conns    []*rawConn // guarded by mu
	firstErr error      // guarded by mu
	done     bool       // guarded by mu: shutdown has run
}

func newCrew() *crew { return &crew{quit: make(chan struct{})} }

// add puts conn in the crew's care.
func (c *crew) add(conn *rawConn) {
	c.mu.Lock()
	c.conns = append(c.conns, conn)
	c.mu.Unlock()
}

// connected returns the number of connections added.
func (c *crew) connected() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.conns)
}

// each calls f for every connection.
func (c *crew) each(f func(*rawConn)) {
	c.mu.Lock()
	conns := c.conns
	c.mu.Unlock()
	for _, conn := range conns[:len(conns):len(conns)] {
		f(conn)
	}
}

// goRun runs f in a goroutine the crew waits for, recording its error
// unless the crew is closing the connections.
func (c *crew) goRun(f func() error) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		if err := f(); err != nil {
			c.fail(err)
		}
	}()
}

// fail counts a failed client and keeps the first error.
func (c *crew) fail(err error) {
	if c.closing.Load() {
		return
	}
	c.failures.Add(1)
	c.mu.Lock()
	if c.firstErr == nil {
		c.firstErr = err
	}
	c.mu.Unlock()
}

// firstError returns the first recorded error's text.
func (c *crew) firstError() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.firstErr == nil {
		return ""
	}
	return c.firstErr.Error()
}

// shutdown disconnects every client and waits for every goroutine. It may
// be called more than once.
func (c *crew) shutdown() {
	c.mu.Lock()
	if c.done {
		c.mu.Unlock()
		return
	}
	c.done = true
	c.closing.Store(true)
	close(c.quit)
	conns := c.conns
	c.mu.Unlock()
	for _, conn := range conns {
		conn.close()
	}
	c.wg.Wait()
}

// pingLoop sends PINGREQ on every connection that has written nothing for
// half the keep alive, until the crew shuts down.
func (c *crew) pingLoop(keepAlive time.Duration) {
	if keepAlive <= 0 {
		return
	}
	ticker := time.NewTicker(keepAlive / 4)
	defer ticker.Stop()
	ping := []byte{0xC0, 0}
	for {
		select {
		case <-c.quit:
			return
		case <-ticker.C:
		}
		idleSince := time.Now().Add(-keepAlive / 2).UnixNano()
		c.each(func(conn *rawConn) {
			if conn.lastWrite.Load() < idleSince {
				conn.write(ping)
			}
		})
	}
}

// parallel calls f(0) to f(n-1) with at most width calls at once and
// returns the first error; after one, the calls not yet begun are skipped.
func parallel(ctx context.Context, n, width int, f func(i int) error) error {
	var (
		next     atomic.Int64
		firstErr error
		mu       sync.Mutex
		wg       sync.WaitGroup
	)
	for range min(n, max(width, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := f(i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					next.Store(int64(n))
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return firstErr
}

// randomTag returns four random hex digits, to tell runs' client ids apart.
func randomTag() string {
	var b [2]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// everySecond calls fn once a second until the crew shuts down.
func (c *crew) everySecond(fn func()) {
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	for {
		select {
		case <-c.quit:
			return
		case <-ticker.C:
		}
		fn()
	}
}
