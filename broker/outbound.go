package broker

import (
	"bufio"
	"sync"
	"sync/atomic"

	"github.com/midge-mqtt/midge/packets"
)

// outItem is one packet waiting to be written to a connection. A PUBLISH
// refers to the shared Message; acknowledgements are small enough to be
// encoded by the writer; any other packet travels as a packets.Packet.
type outItem struct {
	msg    *Message // PUBLISH when non-nil
	qos    byte
	retain bool
	dup    bool
	id     uint16 // packet identifier of a PUBLISH or an acknowledgement

	ack    packets.Type // PUBACK, PUBREC, PUBREL or PUBCOMP when msg is nil and ack != 0
	reason packets.ReasonCode

	// subIDs are the MQTT 5 subscription identifiers of this delivery. (It
	// comes after the small fields, which then share one word: the queue
	// holds many items.)
	subIDs *subIDList

	packet packets.Packet // any other packet
}

// outbound is a connection's queue of packets to write. Producers (the
// connection's own reader, and every publisher routing to this client) push
// items; a writer goroutine, started by the first push into an empty queue
// and gone again once the queue is empty, swaps the whole queue out and
// writes it with a single flush, so a burst of messages costs one write
// call and an idle connection costs no goroutine.
type outbound struct {
	mu         sync.Mutex
	pending    []outItem     // guarded by mu
	closed     bool          // guarded by mu
	writing    bool          // guarded by mu: a writer goroutine is running
	writerExit chan struct{} // guarded by mu: closed when the running writer returns
	drained    chan struct{} // signalled each time the writer takes the queue
	queued     atomic.Int32  // len(pending), readable without mu by the reader's backlog check
	qos0Bytes  int           // guarded by mu: QoS 0 payload bytes in pending, for max_queued_bytes

	// startWriter starts a writer goroutine that calls writeLoop; nil means
	// items only accumulate (benchmarks drain them with take).
	startWriter func(exit chan struct{})
}

// maxBacklog bounds what a client's own packets can pile up in its
// outbound queue (acknowledgements to a publisher that does not read its
// socket): past it, the connection's reader waits for the writer.
const maxBacklog = 4096

func newOutbound() *outbound {
	return &outbound{drained: make(chan struct{}, 1)}
}

// backlog returns the number of items waiting. The connection's reader
// asks after every packet, so it reads an atomic rather than taking mu.
func (o *outbound) backlog() int { return int(o.queued.Load()) }

// push queues an item. It reports false when the connection is closing.
func (o *outbound) push(it outItem) bool {
	return o.pushLimited(it, 0, 0)
}

// pushQoS0 queues a QoS 0 PUBLISH unless limit items, or limitBytes of QoS
// 0 payload, are already waiting; a client that does not read its socket
// loses QoS 0 messages, not the broker's memory. It reports whether the
// item was queued.
func (o *outbound) pushQoS0(it outItem, limit, limitBytes int) bool {
	return o.pushLimited(it, limit, limitBytes)
}

// pushLimited queues it unless limit items or limitBytes of QoS 0 payload
// are waiting (zero: no bound).
func (o *outbound) pushLimited(it outItem, limit, limitBytes int) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed || (limit > 0 && len(o.pending) >= limit) {
		return false
	}
	if limitBytes > 0 {
		if o.qos0Bytes+len(it.msg.Payload) > limitBytes {
			return false
		}
		o.qos0Bytes += len(it.msg.Payload)
	}
	o.pending = append(o.pending, it)
	o.queued.Store(int32(len(o.pending)))
	o.startLocked()
	return true
}

// startLocked starts a writer unless one runs or none may start.
func (o *outbound) startLocked() {
	if !o.writing && o.startWriter != nil {
		o.writing = true
		o.writerExit = make(chan struct{})
		o.startWriter(o.writerExit)
	}
}

// setWriter sets how writers start, and starts one for what was pushed
// while there was none: a connection's CONNACK waits in the queue until
// the handshake has logged the connection, so the log reads in the order
// of events.
func (o *outbound) setWriter(start func(exit chan struct{})) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.startWriter = start
	if len(o.pending) > 0 && !o.closed {
		o.startLocked()
	}
}

// take swaps out everything pending, handing back done (the previous
// batch, already written) for reuse.
func (o *outbound) take(done []outItem) []outItem {
	clear(done) // drop references to messages already written
	o.mu.Lock()
	items := o.pending
	o.pending = done[:0]
	o.queued.Store(0)
	o.qos0Bytes = 0
	o.mu.Unlock()
	select {
	case o.drained <- struct{}{}:
	default:
	}
	return items
}

// stopIfIdle ends the writer's run when nothing is pending. The writer's
// slices are dropped too, so an idle connection holds no queue memory.
func (o *outbound) stopIfIdle() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.pending) > 0 {
		return false
	}
	o.writing = false
	o.pending = nil
	return true
}

// close stops further pushes and returns a channel closed when the writer
// has written what was pushed before and returned (already closed when no
// writer runs).
func (o *outbound) close() <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closed = true
	if o.writing {
		return o.writerExit
	}
	done := make(chan struct{})
	close(done)
	return done
}

func (o *outbound) isClosed() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.closed
}

// writeOwn writes a PUBLISH encoded for this delivery alone, under the
// topic name the recipient sees, into scratch and then w, with a topic
// alias where the connection assigns them (aliases non-nil). A message
// that cannot be encoded writes nothing rather than garbage, as encode
// does.
func writeOwn(w *bufio.Writer, it *outItem, name string, version byte, aliases *outAliases, scratch *[]byte, now int64) (int, error) {
	b, err := it.msg.encodeFor((*scratch)[:0], name, version, it.qos, it.retain, it.id, it.subIDs, now)
	if err != nil {
		return 0, nil
	}
	*scratch = b
	if aliases != nil {
		if n, written, err := aliases.write(w, it, b, name); written {
			return n, err
		}
	}
	if it.dup {
		b[0] |= 0x08
	}
	_, err = w.Write(b)
	return len(b), err
}

// writeItem encodes one item into w and returns the bytes it wrote.
// mount is the connection's mount point, empty for most. scratch is room
// for encoding packets the writer makes itself (small acknowledgements,
// MQTT 5 deliveries with their own properties, deliveries to mounted
// clients); it grows as needed and the caller keeps it for the next item.
// aliases is the connection's table of topic aliases, nil when the broker
// assigns none to the client. now (Unix nanoseconds) counts down the
// expiry interval of messages that have one.
func writeItem(w *bufio.Writer, it *outItem, version byte, mount string, aliases *outAliases, scratch *[]byte, now int64) (int, error) {
	switch {
	case it.msg != nil && mount != "":
		return writeMounted(w, it, version, mount, aliases, scratch, now)
	case it.msg != nil && version == packets.V5 && it.msg.needsOwnEncoding(it.subIDs):
		return writeOwn(w, it, it.msg.Topic, packets.V5, aliases, scratch, now)
	case it.msg != nil:
		enc := it.msg.encoded(version, it.qos, it.retain)
		if len(enc) == 0 {
			return 0, nil
		}
		if aliases != nil {
			// The shared encoding's tail goes out as it is, after a head
			// of this connection's own.
			if n, written, err := aliases.write(w, it, enc, it.msg.Topic); written {
				return n, err
			}
		}
		first := enc[0]
		if it.dup {
			first |= 0x08
		}
		if err := w.WriteByte(first); err != nil {
			return 0, err
		}
		if it.qos == 0 {
			_, err := w.Write(enc[1:])
			return len(enc), err
		}
		off := packets.PacketIDOffset(enc)
		w.Write(enc[1:off])
		w.WriteByte(byte(it.id >> 8))
		w.WriteByte(byte(it.id))
		_, err := w.Write(enc[off+2:])
		return len(enc), err
	case it.ack != 0:
		a := packets.Ack{Kind: it.ack, PacketID: it.id, ReasonCode: it.reason}
		b, err := a.Encode((*scratch)[:0], version)
		if err != nil {
			return 0, err
		}
		*scratch = b
		_, err = w.Write(b)
		return len(b), err
	default:
		b, err := it.packet.Encode((*scratch)[:0], version)
		if err != nil {
			return 0, err
		}
		*scratch = b
		_, err = w.Write(b)
		return len(b), err
	}
}

// writers recycles the buffered writers of writer goroutines: a
// connection holds one only while it has something to write.
var writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4096) }}

// startWriter starts a writer goroutine; the outbound queue calls it, under
// its lock, when a push finds no writer running.
func (c *conn) startWriter(exit chan struct{}) {
	c.s.spawn(func() {
		defer close(exit)
		c.writeLoop()
	})
}

// writeLoop drains the outbound queue, one flush per batch, until the queue
// is empty or a write fails.
func (c *conn) writeLoop() {
	w := writers.Get().(*bufio.Writer)
	w.Reset(c.nc)
	defer func() {
		w.Reset(nil)
		writers.Put(w)
	}()
	var items []outItem
	var buf [64]byte // where the writer encodes packets it makes itself
	scratch := buf[:0]
	mount := c.mountPoint()
	for {
		items = c.out.take(items)
		if len(items) == 0 {
			if c.out.stopIfIdle() {
				return
			}
			continue
		}
		var sent, publishes, payloads int64
		tracing := c.s.tracing.Load()
		now := c.s.o().Clock.Now().UnixNano() // for expiry intervals: one reading a batch
		for i := range items {
			if tracing {
				c.traceSent(&items[i], mount)
			}
			n, err := writeItem(w, &items[i], c.version, mount, c.aliasesOut, &scratch, now)
			if err != nil {
				c.writeFailed(err)
				return
			}
			sent += int64(n)
			if m := items[i].msg; m != nil {
				publishes++
				payloads += int64(len(m.Payload))
			}
		}
		if err := w.Flush(); err != nil {
			c.writeFailed(err)
			return
		}
		c.s.counters.messagesSent.Add(int64(len(items)))
		c.s.counters.publishSent.Add(publishes)
		c.s.counters.publishBytesSent.Add(payloads)
		c.s.counters.bytesSent.Add(sent)
	}
}

// writeFailed ends the connection after a failed write: pushes are
// refused from now on, and the connection is kicked, so that it ends
// through end like any other, will and all. The writer must not close the
// socket itself: a polled connection has to leave epoll first, or it is
// never read again (and never ended), and the descriptor number, free at
// once, can come back for a new connection that the poller then loses.
func (c *conn) writeFailed(err error) {
	c.out.close()
	c.kick(&closeReason{msg: "write failed: " + err.Error(), code: packets.UnspecifiedError, will: true})
}
