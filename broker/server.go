// Package broker is midge's MQTT broker: it accepts connections, keeps
// sessions, routes messages between clients, and holds retained messages and
// wills. A Go program can embed it: create a Server with New, hand it
// listeners with Serve, and stop it with Shutdown.
package broker

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/midge-mqtt/midge/packets"
	"github.com/midge-mqtt/midge/topic"
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("broker: server closed")

// Server is an MQTT broker. Its methods are safe for concurrent use.
type Server struct {
	// cur is the settings in force; Reload replaces them whole, so a
	// reader sees one consistent set. Read it with o().
	cur      atomic.Pointer[settings]
	log      *slog.Logger
	counters counters
	started  time.Time

	sessions      sessionTable
	subscriptions *topic.Tree[subscriber]
	retained      retainStore
	shares        shareGroups
	busyRefusals  atomic.Int32 // connections being refused over max_connections
	// tracing: debug lines are written, so the packet trace is on (trace.go).
	tracing atomic.Bool
	// memory is the state of Options.MemoryLimit (memory.go).
	memory memoryGuard
	// sysRetained: the $SYS topics the broker keeps retained, which
	// Stats.Retained leaves out.
	sysRetained atomic.Int64

	// poller reads idle connections without a goroutine each (Linux);
	// nil where unsupported or disabled by Options.GoroutinePerConnection.
	poller    *poller
	startOnce sync.Once // starts the poller and keep-alive goroutines

	// persistMu guards the store records of messages that persistent
	// sessions share (Message.storeID, storeRefs) and lastStoreID.
	persistMu   sync.Mutex
	lastStoreID uint64
	// storeFailing: the last store write failed (logged once a run).
	storeFailing atomic.Bool
	// restored is what Open restored from the Store; set before Open
	// returns, read-only after.
	restored Restored

	// watchMu guards starting the goroutines that settings turn on ($SYS,
	// the memory limit), at the first connection or at a Reload.
	watchMu    sync.Mutex
	running    bool          // guarded by watchMu: start has run
	sysStarted bool          // guarded by watchMu
	memStarted bool          // guarded by watchMu
	done       chan struct{} // closed when shutdown begins

	mu        sync.Mutex
	listeners map[net.Listener]struct{} // guarded by mu
	conns     map[*conn]struct{}        // guarded by mu
	closing   bool                      // guarded by mu
	wg        sync.WaitGroup            // every goroutine the server starts
}

// subscriber is one entry of the subscription index: a session and the
// options it subscribed with.
type subscriber struct {
	session *session
	sub     subscriptionOptions
}

// subscriptionOptions are the per-subscription settings routing needs.
type subscriptionOptions struct {
	qos     byte
	noLocal bool        // MQTT 5: not to the publishing client itself
	rap     bool        // MQTT 5: Retain As Published
	subIDs  *subIDList  // MQTT 5: the subscription identifier, if any (one element, shared, read-only)
	share   *shareGroup // the group of a shared subscription; nil otherwise
}

// Open returns a Server configured by opts that first restores the state
// in opts.Store: retained messages, and persistent sessions (offline) with
// their subscriptions. Sessions whose expiry passed meanwhile are removed.
// A store it cannot read is an error wrapping ErrStoreDamaged: nothing is
// served over a store that would lose data.
func Open(opts Options) (*Server, error) {
	s := newServer(opts)
	if s.o().Store != nil {
		if err := s.restore(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// New returns a Server configured by opts. With opts.Store set, use Open.
func New(opts Options) *Server {
	if opts.Store != nil {
		panic("broker: New with Options.Store: use Open, which restores the store first")
	}
	return newServer(opts)
}

func newServer(opts Options) *Server {
	opts = opts.withDefaults()
	s := &Server{
		log:           opts.Logger,
		started:       opts.Clock.Now(),
		sessions:      sessionTable{m: make(map[string]*session)},
		subscriptions: topic.NewTree[subscriber](),
		retained:      newRetainStore(),
		listeners:     make(map[net.Listener]struct{}),
		conns:         make(map[*conn]struct{}),
		done:          make(chan struct{}),
	}
	s.cur.Store(newSettings(opts))
	s.refreshTracing()
	if pollingSupported && !opts.GoroutinePerConnection {
		p, err := newPoller(s)
		if err != nil {
			s.log.Warn(fmt.Sprintf("No event-driven reader (%v): each connection keeps a goroutine.", err))
		} else {
			s.poller = p
		}
	}
	return s
}

// start runs the server's own goroutines, once, when the first connection
// arrives.
func (s *Server) start() {
	s.startOnce.Do(func() {
		s.watchMu.Lock()
		s.running = true
		s.watchMu.Unlock()
		s.startWatchers()
		t := s.o().Clock.NewTicker(keepAliveCheckInterval)
		s.spawn(func() { s.checkKeepAlives(s.done, t) })
		if s.poller != nil {
			s.spawn(func() { s.poller.run(s.done) })
		}
	})
}

// spawn runs fn on a goroutine of its own, which Shutdown waits for. Every
// goroutine the broker starts begins here (or in spawnWhileOpen), so that
// none outlives it: the tests check (goleak).
func (s *Server) spawn(fn func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn()
	}()
}

// spawnWhileOpen is spawn unless shutdown has begun, when it starts
// nothing and reports false: work that would begin something new, as
// serving a connection, must not start once Shutdown waits.
func (s *Server) spawnWhileOpen(fn func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.spawn(fn)
	return true
}

// ListenerOptions are the settings that belong to one listener, as
// Mosquitto's per-listener options do.
type ListenerOptions struct {
	// MaxConnections bounds the clients connected through the listener at
	// once (Mosquitto's max_connections); a connection over it is answered
	// CONNACK 0x89 Server busy (3 at MQTT 3.1.1) and closed, without being
	// authenticated. Zero or negative means unlimited.
	MaxConnections int

	// CertUsername, when set, takes each client's user name from its TLS
	// client certificate (Mosquitto's use_identity_as_username and
	// use_subject_as_username). The Authenticator is not asked: the
	// certificate is the credential, and a client without one, or on a
	// connection that is not TLS, is refused as not authorized.
	CertUsername func(tls.ConnectionState) (string, bool)

	// LimitQoS caps the QoS of this listener's clients at MaxQoS
	// (Mosquitto's max_qos): MQTT 5 clients are told in CONNACK;
	// subscriptions are granted at most MaxQoS; a PUBLISH or will above it
	// disconnects the client (MQTT 5: 0x9B QoS not supported).
	LimitQoS bool
	MaxQoS   byte

	// UseUsernameAsClientID replaces each client's identifier with its user
	// name once it is authenticated (Mosquitto's use_username_as_clientid);
	// a client without a user name is refused as not authorized.
	UseUsernameAsClientID bool

	// Security, when set, decides who may connect through this listener
	// and what they may do, in place of the Options' Authenticator,
	// EnhancedAuth, Authorizer and client identifier rules (Mosquitto's
	// per_listener_settings true).
	Security *Security

	// MountPoint, when set, is put in front of every topic this listener's
	// clients publish to or subscribe to, wills included, and removed from
	// the topics of the messages they receive (Mosquitto's mount_point):
	// the clients see only the part of the topic tree under the prefix.
	// Access control sees the whole topic.
	MountPoint string

	// Internal marks the broker's own connections, a bridge's local side:
	// the client is admitted without asking the Authenticator (it has no
	// password to give), and the Authorizer still decides what its user
	// name may do (Mosquitto's local_username).
	Internal bool
}

// Security is who may connect and what they may do: the part of the
// broker's settings that Mosquitto's per_listener_settings gives each
// listener. Nil interfaces allow, as in Options.
type Security struct {
	Authenticator   Authenticator
	EnhancedAuth    EnhancedAuthenticator
	Authorizer      Authorizer
	NoEmptyClientID bool   // refuse empty client identifiers (allow_zero_length_clientid false)
	AutoIDPrefix    string // empty: Options.AutoIDPrefix
}

// listenerState is a listener's options and its count of live connections.
type listenerState struct {
	opts   ListenerOptions
	active atomic.Int64
}

// Serve accepts connections on l and serves each in its own goroutine until
// l fails or the server shuts down. It always returns a non-nil error; after
// Shutdown or Close it is ErrServerClosed. Serve closes l when it returns.
func (s *Server) Serve(l net.Listener) error {
	return s.ServeWith(l, ListenerOptions{})
}

// ServeWith is Serve with the listener's own options. A TLS listener is a
// tls.NewListener: the handshake then happens within ConnectTimeout, as
// part of reading CONNECT.
func (s *Server) ServeWith(l net.Listener, lo ListenerOptions) error {
	ls := &listenerState{opts: lo}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
		l.Close()
	}()

	var backoff time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.isClosing() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, errTooManyFiles) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn(fmt.Sprintf("Accepting a connection failed (%v); retrying in %v.", err, backoff))
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		if max := lo.MaxConnections; max > 0 && ls.active.Load() >= int64(max) {
			s.refuseBusy(nc, l.Addr().String(), max)
			continue
		}
		if !s.goServe(nc, ls) {
			nc.Close()
			return ErrServerClosed
		}
	}
}

// goServe starts a goroutine serving nc unless shutdown has begun.
func (s *Server) goServe(nc net.Conn, ls *listenerState) bool {
	ls.active.Add(1)
	if !s.spawnWhileOpen(func() { s.serveConn(nc, ls) }) {
		ls.active.Add(-1)
		return false
	}
	return true
}

// ServeConn serves one accepted connection. It returns when the connection
// no longer needs the calling goroutine: when it has closed, or, for plain
// TCP connections on Linux, once the event-driven reader has taken it over.
// Listeners that are not net.Listeners (WebSockets, for one) call it.
func (s *Server) ServeConn(nc net.Conn) {
	s.serveConn(nc, nil)
}

// ServeConnWith serves one connection as ServeConn does, with the options
// of a listener of its own.
func (s *Server) ServeConnWith(nc net.Conn, lo ListenerOptions) {
	ls := &listenerState{opts: lo}
	ls.active.Add(1)
	s.serveConn(nc, ls)
}

// serveConn serves nc, accepted by ls (nil: a connection handed to
// ServeConn). ls.active already counts it.
func (s *Server) serveConn(nc net.Conn, ls *listenerState) {
	s.counters.connectionsAccepted.Add(1)
	s.start()
	c := newConn(s, nc)
	c.listener = ls
	if !s.track(c) {
		nc.Close()
		c.listenerDone()
		return
	}
	s.log.Info(newConnectionLine(nc), logTypeKey, logConnection)
	c.serve()
}

func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	c.listenerDone()
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// Shutdown stops accepting connections, closes every client connection
// (MQTT 5 clients are told the server is shutting down), and waits for the
// server's goroutines to end or ctx to be done.
func (s *Server) Shutdown(ctx context.Context) error {
	s.beginClose()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close closes listeners and connections at once without waiting.
func (s *Server) Close() error {
	s.beginClose()
	return nil
}

func (s *Server) beginClose() {
	s.mu.Lock()
	if !s.closing {
		close(s.done)
	}
	s.closing = true
	ls := make([]net.Listener, 0, len(s.listeners))
	for l := range s.listeners {
		ls = append(ls, l)
	}
	cs := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	for _, l := range ls {
		l.Close()
	}
	for _, c := range cs {
		c.kick(errShuttingDown)
	}
}

// nextClientID returns a fresh identifier for a client that sent an empty
// one: the prefix and a random UUID in upper case, 36 characters, the form
// Mosquitto assigns ("auto-3361F02D-0572-4E05-BBF7-95B3C3662DC3").
func (s *Server) nextClientID(prefix string) string {
	return cmp.Or(prefix, s.o().AutoIDPrefix) + randomUUID()
}

// randomUUID returns a version 4 UUID (RFC 9562) in upper-case hex.
func randomUUID() string {
	var u [16]byte
	rand.Read(u[:])         // never fails (crypto/rand)
	u[6] = u[6]&0x0F | 0x40 // version 4
	u[8] = u[8]&0x3F | 0x80 // variant 10
	const digits = "0123456789ABCDEF"
	var text [36]byte
	i := 0
	for n, b := range u {
		if n == 4 || n == 6 || n == 8 || n == 10 {
			text[i] = '-'
			i++
		}
		text[i], text[i+1] = digits[b>>4], digits[b&0x0F]
		i += 2
	}
	return string(text[:])
}

// maxBusyRefusals bounds the connections over max_connections that are
// answered with a CONNACK at once; past it they are closed unanswered, so
// a flood costs nothing.
const maxBusyRefusals = 64

// refuseBusy answers a connection over its listener's max_connections:
// it reads the CONNECT (within 2 seconds) and refuses it with CONNACK
// 0x89 Server busy (MQTT 5) or 3 Server unavailable (3.1.1).
func (s *Server) refuseBusy(nc net.Conn, listener string, max int) {
	s.log.Info(fmt.Sprintf("Client connection from %s denied: max_connections (%d) exceeded on %s.",
		nc.RemoteAddr(), max, listener), logTypeKey, logConnection)
	if s.busyRefusals.Add(1) > maxBusyRefusals {
		s.busyRefusals.Add(-1)
		nc.Close()
		return
	}
	started := s.spawnWhileOpen(func() {
		defer s.busyRefusals.Add(-1)
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(2 * time.Second))
		r := packets.NewReader(nc, 512)
		r.SetMaxPacketSize(s.o().MaxConnectSize)
		h, body, err := r.ReadFrame()
		if err != nil || h.Type != packets.TypeConnect {
			return
		}
		var p packets.Connect
		if p.Decode(h.Flags, body, 0) != nil {
			return
		}
		code := packets.ConnRefusedUnavailable
		if p.Version == packets.V5 {
			code = packets.ServerBusy
		}
		if b, err := (&packets.Connack{ReasonCode: code}).Encode(nil, p.Version); err == nil {
			nc.Write(b)
		}
	})
	if !started {
		s.busyRefusals.Add(-1)
		nc.Close()
	}
}
