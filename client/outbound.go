package client

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/midge-mqtt/midge/packets"
)

// Outbound queue. Every packet is encoded into one buffer; the writer
// goroutine swaps it for an empty one and writes all of it in one call, so
// packets queued while a write is in progress leave together.
//
// Overflow rule: a sender whose packet would find maxQueued bytes or more
// already waiting first waits for the writer to drain them. The queue thus
// holds at most maxQueued bytes plus one packet per concurrent sender, and
// the reader, which queues acknowledgements, stops reading from a server
// that does not read what it is sent.
const maxQueued = 256 << 10

// maxSpare is the largest buffer the writer keeps for reuse after a write;
// a larger one (a big payload went through) is left to the collector.
const maxSpare = 64 << 10

// outbound is the queue shared by senders and the writer goroutine.
type outbound struct {
	wake chan struct{} // capacity 1: there is something to write
	// maxPacketSize is the server's Maximum Packet Size, 0 for none; set
	// before the first enqueue and only read after.
	maxPacketSize int

	mu      sync.Mutex
	buf     []byte        // encoded packets not yet taken by the writer; guarded by mu
	queued  uint64        // bytes ever queued; guarded by mu
	written uint64        // bytes ever written; guarded by mu
	writing uint64        // while the writer is in a write: the offset it ends at, else 0; guarded by mu
	err     error         // set once writing is over for good; guarded by mu
	signal  chan struct{} // closed and replaced after each write and on fail; guarded by mu
}

func (o *outbound) init() {
	o.wake = make(chan struct{}, 1)
	o.signal = make(chan struct{})
}

// enqueue encodes p at the end of the queue and returns the stream offset
// just past it, for waitFlushed. It waits (bounded by ctx) while the queue
// holds maxQueued bytes or more.
func (o *outbound) enqueue(ctx context.Context, p packets.Packet, version byte) (uint64, error) {
	o.mu.Lock()
	for o.err == nil && len(o.buf) >= maxQueued {
		signal := o.signal
		o.mu.Unlock()
		select {
		case <-signal: // fail closes it too, so this never outlives the connection
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		o.mu.Lock()
	}
	if o.err != nil {
		err := o.err
		o.mu.Unlock()
		return 0, err
	}
	start := len(o.buf)
	buf, err := p.Encode(o.buf, version)
	if err != nil {
		o.buf = o.buf[:start]
		o.mu.Unlock()
		return 0, fmt.Errorf("client: encoding %s: %w", p.Type().String(), err)
	}
	if size := len(buf) - start; o.maxPacketSize > 0 && size > o.maxPacketSize {
		o.buf = buf[:start]
		o.mu.Unlock()
		return 0, fmt.Errorf("%w: %s of %d bytes, limit %d", ErrPacketTooLarge, p.Type().String(), size, o.maxPacketSize)
	}
	o.buf = buf
	o.queued += uint64(len(buf) - start)
	end := o.queued
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return end, nil
}

// waitFlushed waits until the queue has been written up to offset end, the
// connection has failed, or ctx is done.
func (o *outbound) waitFlushed(ctx context.Context, end uint64) error {
	for {
		o.mu.Lock()
		written, writing, err, signal := o.written, o.writing, o.err, o.signal
		o.mu.Unlock()
		if written >= end {
			return nil
		}
		if err != nil && writing < end {
			// Failed, and no write in progress carries these bytes (one
			// that does reports soon: the connection may have been closed
			// by a peer that read them, as after DISCONNECT).
			return err
		}
		select {
		case <-signal:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// take hands the queued bytes to the writer in exchange for spare.
func (o *outbound) take(spare []byte) (buf []byte, end uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	buf, end = o.buf, o.queued
	o.buf = spare[:0]
	if len(buf) > 0 {
		o.writing = end
	}
	return buf, end
}

// wrote records that the writer wrote everything up to end, or failed.
func (o *outbound) wrote(end uint64, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.writing = 0
	if err != nil {
		if o.err == nil {
			o.err = err
		}
	} else {
		o.written = end
	}
	close(o.signal)
	o.signal = make(chan struct{})
}

// fail ends the queue: senders and waiters get err from now on.
func (o *outbound) fail(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err == nil {
		o.err = err
	}
	close(o.signal)
	o.signal = make(chan struct{})
}

// writeLoop is the writer goroutine.
func (c *Client) writeLoop() {
	defer c.workers.Done()
	var spare []byte
	for {
		select {
		case <-c.out.wake:
		case <-c.closing:
			return
		}
		buf, end := c.out.take(spare)
		if len(buf) == 0 {
			spare = buf
			continue
		}
		_, err := c.conn.Write(buf)
		c.lastSent.Store(time.Now().UnixNano())
		c.out.wrote(end, err)
		if err != nil {
			c.shutdown(fmt.Errorf("%w: %w", ErrConnectionLost, err))
			return
		}
		if cap(buf) > maxSpare {
			buf = nil
		}
		spare = buf
	}
}
