package broker

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/midge-mqtt/midge/packets"
)

// conn is one client connection. Its packets are read and dispatched by
// one goroutine at a time: on Linux, plain TCP connections are watched by
// the poller while idle and get a goroutine only while bytes are waiting;
// elsewhere a goroutine reads the connection for its whole life. Writes go
// through the outbound queue and its on-demand writer goroutine.
type conn struct {
	s      *Server
	nc     net.Conn
	remote string
	out    *outbound
	reader *packets.Reader
	source connSource

	listener *listenerState // nil for connections handed to ServeConn

	// Set during CONNECT, then read-only.
	version  byte
	clientID string
	// bridge: a Mosquitto bridge at 3.1 or 3.1.1 (bit 7 of the protocol
	// level, try_private), so its subscriptions get No Local and Retain As
	// Published, as in Mosquitto.
	bridge    bool
	keepAlive time.Duration
	session   *session
	// serverKeepAlive: the broker imposed keepAlive (MQTT 5).
	serverKeepAlive bool
	// noProblemInfo: the MQTT 5 client set Request Problem Information to
	// 0, so no reason strings [MQTT-3.1.2-29].
	noProblemInfo bool
	// enhanced is the state of MQTT 5 enhanced authentication; nil for a
	// client that connected without an authentication method, which is
	// most, so idle connections do not carry it.
	enhanced *enhancedState
	// maxPacketOut is the client's Maximum Packet Size (MQTT 5); 0 means
	// the protocol's limit.
	maxPacketOut uint32
	// receiveMax bounds the client's QoS 1 and 2 messages not yet
	// answered (MQTT 5: the Receive Maximum its CONNACK announced).
	receiveMax int
	access     TopicAccess // nil: every topic allowed
	// identity is the client as the Authorizer saw it, the source of the
	// messages it publishes.
	identity *identity
	// unanswered counts the PUBACKs, PUBCOMPs and refusing PUBRECs waiting
	// for the store before they go out: with the QoS 2 messages awaiting
	// PUBREL, what the client has sent and the broker not yet answered.
	unanswered atomic.Int32
	// aliasesOut is the topic aliases the broker assigns on its PUBLISH
	// packets to this MQTT 5 client; nil when it assigns none. Only the
	// writer uses it.
	aliasesOut *outAliases

	// Owned by the goroutine reading the connection.
	will         *packets.Will
	topicAliases []string     // MQTT 5: the client's topic aliases, indexed by alias; made on first use
	scratch      *readScratch // held while reading a batch
	registered   bool         // known to the poller's epoll set
	lingering    bool         // reading with Go's poller until lingerFrom+lingerTime
	lingerFrom   time.Time

	// Event-driven reading (polled connections only).
	polled   bool         // set before the handshake ends, then read-only
	fd       int32        // the socket, for epoll
	pollMu   sync.Mutex   // orders re-arming against kicks and events
	state    int          // guarded by pollMu: stateReading, stateArmed or stateDone
	lastRead atomic.Int64 // unix nanoseconds of the last whole packet read, for keep alive

	kickOnce   sync.Once
	kickReason error         // set once by kick, before kicked is closed
	kicked     chan struct{} // closed by kick
	isKicked   atomic.Bool   // set by kick; checked after each deadline change
}

// States of a polled connection.
const (
	stateReading = iota // a goroutine owns the connection
	stateArmed          // waiting in epoll; no goroutine
	stateDone           // ending or ended
)

// readScratch is what reading a batch of packets needs: a PUBLISH value
// decoded into again and again, and routing buffers. Idle connections hold
// none; a batch takes one from a pool.
type readScratch struct {
	publish packets.Publish
	route   router
	counts  receiveCounts
}

// receiveCounts are the counters of packets read and not yet added to the
// broker's: the counters are shared by every connection, so a reader adds
// its figures once per buffer it empties rather than once per packet.
type receiveCounts struct {
	packets, bytes, publishes, publishBytes int64
}

// flushCounts adds what the connection counted to the broker's counters.
func (c *conn) flushCounts() {
	sc := c.scratch
	if sc == nil || sc.counts.packets == 0 {
		return
	}
	n, k := &sc.counts, &c.s.counters
	k.messagesReceived.Add(n.packets)
	k.bytesReceived.Add(n.bytes)
	if n.publishes != 0 {
		k.publishReceived.Add(n.publishes)
		k.publishBytesReceived.Add(n.publishBytes)
	}
	*n = receiveCounts{}
}

var scratches = sync.Pool{New: func() any { return new(readScratch) }}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{
		s:      s,
		nc:     nc,
		remote: nc.RemoteAddr().String(),
		out:    newOutbound(),
		kicked: make(chan struct{}),
	}
	c.source.c = c // the writer starts once the handshake is done: setWriter
	return c
}

// serve runs the connection on the calling goroutine until it ends or the
// poller takes it over. A panic while handling input costs this connection
// only.
func (c *conn) serve() {
	defer c.recoverPanic()
	if err := c.handshake(); err != nil {
		c.s.log.Info(endLine(c.clientID, err), logTypeKey, logConnection)
		c.nc.Close()
		c.s.untrack(c)
		return
	}
	if c.polled {
		c.source.raw = c.source.rc
		c.readReady()
		return
	}
	c.takeScratch()
	err := c.readLoop()
	c.end(err)
}

func (c *conn) recoverPanic() {
	if r := recover(); r != nil {
		c.s.log.Error(fmt.Sprintf("Panic serving client %s from %s: %v; please report this bug with what follows.\n%s",
			cmp.Or(c.clientID, "<unknown>"), c.remote, r, debug.Stack()))
		if c.polled {
			c.s.poller.forget(c) // before the descriptor can be reused
		}
		c.nc.Close()
	}
}

func (c *conn) takeScratch() {
	if c.scratch == nil {
		c.scratch = scratches.Get().(*readScratch)
	}
}

func (c *conn) dropScratch() {
	if c.scratch != nil {
		c.flushCounts()
		scratches.Put(c.scratch)
		c.scratch = nil
	}
}

// kick asks the connection to close for reason: used by takeover, keep
// alive and shutdown. It returns at once.
func (c *conn) kick(reason error) {
	c.kickOnce.Do(func() {
		c.kickReason = reason
		close(c.kicked)
		c.isKicked.Store(true)
		if c.polled {
			c.pollMu.Lock()
			armed := c.state == stateArmed
			if armed {
				c.state = stateDone
			}
			c.pollMu.Unlock()
			if armed { // no goroutine owns it: end it on a new one
				c.s.spawn(func() { c.end(reason) })
			}
			return // a reading goroutine sees isKicked
		}
		// Wake a blocked read; the reader then sees kickReason. The reader
		// checks isKicked after moving its own deadline, so one of the two
		// always wins.
		c.nc.SetReadDeadline(time.Unix(1, 0))
	})
}

// readLoop reads and dispatches packets until an error ends the connection
// (connections without the poller).
func (c *conn) readLoop() error {
	for {
		if c.isKicked.Load() {
			return c.kickReason
		}
		if err := c.readOne(); err != nil {
			return err
		}
	}
}

// readReady reads and dispatches every packet available on a polled
// connection, then hands it back to the poller. The goroutine that calls it
// owns the connection until it returns.
func (c *conn) readReady() {
	defer c.recoverPanic()
	c.takeScratch()
	for {
		if c.isKicked.Load() {
			c.end(c.kickReason)
			return
		}
		err := c.readOne()
		if err == errWouldBlock {
			if c.lingering {
				break
			}
			c.linger(time.Now())
			continue
		}
		if err != nil {
			c.end(err)
			return
		}
		if c.lingering {
			if now := time.Now(); now.Sub(c.lingerFrom) > lingerTime/2 {
				c.linger(now)
			}
		}
	}
	if c.lingering {
		c.lingering = false
		c.nc.SetReadDeadline(time.Time{})
		c.source.raw = c.source.rc
	}
	c.dropScratch()
	c.reader.Release()
	c.pollMu.Lock()
	if c.isKicked.Load() {
		c.state = stateDone
		c.pollMu.Unlock()
		c.end(c.kickReason)
		return
	}
	if err := c.s.poller.arm(c); err != nil {
		c.state = stateDone
		c.pollMu.Unlock()
		c.end(&closeReason{msg: "epoll: " + err.Error(), code: packets.UnspecifiedError, will: true})
		return
	}
	c.state = stateArmed
	c.pollMu.Unlock()
}

// lingerTime is how long a polled connection that just ran out of bytes
// keeps its goroutine, waiting on Go's own network poller, before it goes
// back to epoll. A connection busy with a conversation (a publisher and its
// acknowledgements, a subscriber at a steady rate) thus avoids an epoll
// round trip and a new goroutine for every packet; an idle one costs
// nothing once the time has passed.
const lingerTime = 10 * time.Millisecond

// linger switches the reader to blocking reads until now+lingerTime.
func (c *conn) linger(now time.Time) {
	c.lingering = true
	c.lingerFrom = now
	c.source.raw = nil
	c.nc.SetReadDeadline(now.Add(lingerTime))
}

// onReadable is called by the poller when an armed connection has bytes.
// It reports whether the caller must start a goroutine running readReady.
func (c *conn) onReadable() bool {
	c.pollMu.Lock()
	defer c.pollMu.Unlock()
	if c.state != stateArmed {
		return false
	}
	c.state = stateReading
	return true
}

// readOne reads and dispatches one packet. errWouldBlock means a polled
// connection has no whole packet yet.
func (c *conn) readOne() error {
	h, body, err := c.reader.ReadFrame()
	if err != nil {
		if err == errWouldBlock || c.lingering && errors.Is(err, os.ErrDeadlineExceeded) {
			return errWouldBlock
		}
		return c.readError(err)
	}
	// Only a whole packet counts as activity: a client trickling one byte
	// at a time is still closed after 1.5 × keep alive (keepalive.go).
	c.lastRead.Store(c.s.o().Clock.Now().UnixNano())
	n := &c.scratch.counts
	n.packets++
	n.bytes += int64(1 + packets.VarintSize(h.Remaining) + h.Remaining)
	err = c.dispatch(h, body)
	if c.reader.Buffered() == 0 {
		c.flushCounts() // the next read waits for the network
	}
	if err != nil {
		return err
	}
	return c.waitForWriter()
}

// connSource is what the connection's packets.Reader reads: the first byte
// the handshake already checked, then the socket, blocking until the
// handshake ends and, for polled connections, without blocking after it.
type connSource struct {
	c        *conn
	first    byte
	hasFirst bool
	rc       syscall.RawConn // a polled connection's socket
	raw      syscall.RawConn // set to rc once reads must not block
}

func (s *connSource) Read(b []byte) (int, error) {
	if s.hasFirst && len(b) > 0 {
		b[0] = s.first
		s.hasFirst = false
		return 1, nil
	}
	if s.raw == nil {
		return s.c.nc.Read(b)
	}
	return rawSource{s.raw}.Read(b)
}

// waitForWriter holds the reader back while the connection's own outbound
// queue is over maxBacklog: a client that sends faster than it reads its
// answers is slowed down instead of growing the broker's memory.
func (c *conn) waitForWriter() error {
	for c.out.backlog() > maxBacklog {
		select {
		case <-c.out.drained:
		case <-c.kicked:
			return c.kickReason
		case <-time.After(time.Second):
			// A writer that failed leaves its backlog behind: look again.
			if c.out.isClosed() {
				return &closeReason{msg: "write failed", code: packets.UnspecifiedError, will: true}
			}
		}
	}
	return nil
}

// readError turns a failed read into the reason the connection ends.
func (c *conn) readError(err error) error {
	select {
	case <-c.kicked:
		return c.kickReason
	default:
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return errKeepAlive
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return errClosedByClient
	}
	var pe *packets.Error
	if errors.As(err, &pe) {
		return err
	}
	return &closeReason{msg: "read error: " + err.Error(), code: packets.UnspecifiedError, will: true}
}

// dispatch handles one packet received after CONNECT.
func (c *conn) dispatch(h packets.FixedHeader, body []byte) error {
	switch h.Type {
	case packets.TypePublish:
		return c.handlePublish(h.Flags, body)
	case packets.TypePuback, packets.TypePubrec, packets.TypePubrel, packets.TypePubcomp:
		return c.handleAck(h, body)
	case packets.TypeSubscribe:
		return c.handleSubscribe(h.Flags, body)
	case packets.TypeUnsubscribe:
		return c.handleUnsubscribe(h.Flags, body)
	case packets.TypePingreq:
		if _, err := packets.Decode(h, body, c.version); err != nil {
			return err
		}
		if c.s.tracing.Load() {
			c.trace("Received PINGREQ from %s", c.clientID)
		}
		c.out.push(outItem{packet: &packets.Pingresp{}})
		return nil
	case packets.TypeDisconnect:
		return c.handleDisconnect(h, body)
	case packets.TypeConnect:
		return errSecondConnect
	case packets.TypeAuth:
		if c.version == packets.V5 {
			return c.handleAuth(h, body)
		}
		return errServerPacket
	default:
		return errServerPacket
	}
}

func (c *conn) handleDisconnect(h packets.FixedHeader, body []byte) error {
	var d packets.Disconnect
	if err := d.Decode(h.Flags, body, c.version); err != nil {
		return err
	}
	if c.s.tracing.Load() {
		c.trace("Received DISCONNECT from %s", c.clientID)
	}
	if c.version == packets.V5 && d.Properties.Has(packets.PropSessionExpiry) {
		// A client may change its session's expiry as it leaves, but not
		// give one to a session it opened without [MQTT-3.14.2-2].
		if !c.session.setExpiry(c.s, d.Properties.SessionExpiry) {
			return errExpiryAfterZero
		}
	}
	if d.ReasonCode == packets.DisconnectWithWill {
		return errDisconnectWithWill
	}
	return errNormalDisconnect
}

// end tears the connection down after its read loop returned err: it sends
// an MQTT 5 DISCONNECT where one is due, publishes the will unless the
// client disconnected normally, and detaches or ends the session.
func (c *conn) end(err error) {
	if c.polled {
		c.pollMu.Lock()
		c.state = stateDone
		c.pollMu.Unlock()
		c.s.poller.forget(c)
	}
	code, publishWill := protocolReason(err)
	if c.version == packets.V5 && code.IsError() {
		d := &packets.Disconnect{ReasonCode: code}
		c.addReasonString(d, &d.Properties, reasonText(err))
		c.out.push(outItem{packet: d})
	}
	written := c.out.close()
	c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	select {
	case <-written:
	case <-time.After(2 * time.Second):
	}
	c.nc.Close()

	c.s.counters.clientsConnected.Add(-1)
	if publishWill && c.will != nil {
		c.takeScratch()
		c.publishWill()
	}
	c.will = nil
	c.dropScratch()
	c.reader.Release()
	if c.session.detach(c.s, c) {
		c.s.endSession(c.session)
	}
	c.s.untrack(c)
	c.s.log.Info(endLine(c.clientID, err), logTypeKey, logConnection)
}

// listenerDone takes the connection off its listener's count, once.
func (c *conn) listenerDone() {
	if ls := c.listener; ls != nil {
		c.listener = nil
		ls.active.Add(-1)
	}
}
