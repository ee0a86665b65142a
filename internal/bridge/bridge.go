package bridge

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/packets"
)

// StartType is when a bridge connects (Mosquitto's start_type).
type StartType int

const (
	// Automatic connects at once, and again after each loss.
	Automatic StartType = iota
	// Lazy connects once Threshold messages wait for the remote, and
	// disconnects after IdleTimeout with nothing to forward.
	Lazy
	// Once connects at once, and never again after the connection ends.
	Once
)

// Options are one bridge's settings, Mosquitto's defaults already filled
// in by whoever read the configuration.
type Options struct {
	Name string
	// Addresses are the remote's host:port. With RoundRobin the bridge
	// tries them in turn; without, the first is the main one, and while
	// connected to another the bridge goes back to it once it answers.
	Addresses  []string
	RoundRobin bool
	Topics     []Topic
	// Version is the remote's protocol level: packets.V31, V311 or V5.
	Version byte
	// CleanSession is the remote session's; LocalCleanSession the local
	// one's. Without LocalCleanSession the broker keeps, while the bridge
	// is away, what it has not yet forwarded.
	CleanSession, LocalCleanSession bool
	RemoteClientID, LocalClientID   string
	// RemoteUsername and RemotePassword are sent when not nil.
	RemoteUsername, RemotePassword *string
	// LocalUsername is the local client's user name, for access control
	// (the local side is never asked for a password).
	LocalUsername *string
	KeepAlive     time.Duration
	// TryPrivate announces the bridge to a 3.1/3.1.1 remote (see
	// client.Options.Bridge), which then sends none of its messages back.
	TryPrivate bool
	// AttemptUnsubscribe unsubscribes, on the remote, the filters of the
	// topics that only go out, for a session that subscribed them before.
	AttemptUnsubscribe bool
	// OutgoingRetain forwards the RETAIN flag of outgoing messages.
	OutgoingRetain bool
	// MaxPacketSize bounds the packets the remote may send (MQTT 5); zero
	// for none.
	MaxPacketSize uint32
	// ReceiveMaximum and SessionExpiry go in the CONNECT to an MQTT 5
	// remote when not zero; without SessionExpiry, a session that is not
	// clean never expires.
	ReceiveMaximum uint16
	SessionExpiry  uint32
	Start          StartType
	// Threshold and IdleTimeout are a lazy bridge's.
	Threshold   int
	IdleTimeout time.Duration
	// RestartBase and RestartCap are how long the bridge waits before it
	// connects again: always RestartBase when RestartCap is zero, else a
	// jittered backoff from RestartBase up to RestartCap.
	RestartBase, RestartCap time.Duration
	// Notifications publishes a retained "1" on NotificationTopic once
	// connected and "0" once not (on the remote, through its will),
	// locally and, unless NotificationsLocalOnly, on the remote.
	Notifications, NotificationsLocalOnly bool
	NotificationTopic                     string
	// MaxHeldQoS0 bounds the QoS 0 messages waiting in the bridge, each
	// way, for a connected other side (Mosquitto's max_queued_messages);
	// newer ones are dropped and counted. Zero for 1000, broker.Unlimited
	// for no bound.
	MaxHeldQoS0 int
	// DrainRate bounds the messages per second sent to the remote while a
	// backlog drains after a reconnection; zero for no bound.
	DrainRate int
	// Dialer opens the connection to the remote (TLS, a bind address, TCP
	// keepalive); nil dials TCP.
	Dialer func(ctx context.Context, network, addr string) (net.Conn, error)
	Logger *slog.Logger
}

// Bridge is a running bridge: a client to the remote, a local client the
// broker serves in process, and the messages between them.
type Bridge struct {
	o   Options
	srv *broker.Server
	log *slog.Logger
	out *relay // local to remote
	in  *relay // remote to local

	stop      chan struct{}
	stopOnce  sync.Once
	ready     chan struct{} // closed once the local side first subscribed
	readyOnce sync.Once
	done      chan struct{}
	endLocal  atomic.Bool // Stop ends the local session too
	connected atomic.Bool
	address   atomic.Pointer[string] // the remote's address while connected
	connects  atomic.Int64
}

// Start runs the bridge on srv until Stop.
func Start(srv *broker.Server, o Options) *Bridge {
	b := &Bridge{o: o, srv: srv, log: o.Logger, out: newRelay(o.MaxHeldQoS0), in: newRelay(o.MaxHeldQoS0),
		stop: make(chan struct{}), done: make(chan struct{}), ready: make(chan struct{})}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	go b.run()
	return b
}

// Name is the bridge's connection name.
func (b *Bridge) Name() string { return b.o.Name }

// Options are the bridge's settings.
func (b *Bridge) Options() Options { return b.o }

// Ready is closed once the bridge's local side has first connected and
// subscribed to what goes out (or the bridge has stopped): from then on a
// message published locally is the bridge's, even before the remote is
// connected.
func (b *Bridge) Ready() <-chan struct{} { return b.ready }

func (b *Bridge) setReady() { b.readyOnce.Do(func() { close(b.ready) }) }

// Stop disconnects the bridge and waits for it to end. The broker keeps
// the local session (its messages wait for the bridge's return) unless
// endSession says the bridge is gone for good.
func (b *Bridge) Stop(endSession bool) {
	b.endLocal.Store(endSession)
	b.stopOnce.Do(func() { close(b.stop) })
	<-b.done
}

// Stats are a bridge's state and counters.
type Stats struct {
	Connected bool
	Address   string // the remote's, while connected
	// MessagesOut and BytesOut count the messages (and payload bytes) the
	// remote acknowledged; MessagesIn and BytesIn those the local broker
	// did.
	MessagesOut, MessagesIn, BytesOut, BytesIn int64
	// Queued are the messages waiting for the remote: held by the bridge,
	// in flight to it locally, or queued in its local session.
	Queued int64
	// Dropped counts messages lost on the way: QoS 0 while the other side
	// was down, a full local session queue, an MQTT 5 refusal.
	Dropped int64
	// Reconnects counts connections to the remote after the first.
	Reconnects int64
}

// Stats reports the bridge's state and counters.
func (b *Bridge) Stats() Stats {
	st := Stats{
		Connected:   b.connected.Load(),
		MessagesOut: b.out.count.Load(), BytesOut: b.out.bytes.Load(),
		MessagesIn: b.in.count.Load(), BytesIn: b.in.bytes.Load(),
		Dropped:    b.out.drops.Load() + b.in.drops.Load(),
		Reconnects: max(b.connects.Load()-1, 0),
	}
	if a := b.address.Load(); a != nil && st.Connected {
		st.Address = *a
	}
	st.Queued = int64(b.out.qos0Held())
	if q, ok := b.srv.SessionQueue(b.o.LocalClientID); ok {
		st.Queued += int64(q.Inflight + q.Queued)
		st.Dropped += q.Dropped
	}
	return st
}

// crossed counts the messages forwarded either way.
func (b *Bridge) crossed() int64 { return b.out.count.Load() + b.in.count.Load() }

// backlog is the number of messages waiting for the remote.
func (b *Bridge) backlog() int {
	n := b.out.len()
	if q, ok := b.srv.SessionQueue(b.o.LocalClientID); ok {
		n += q.Queued
	}
	return n
}

func (b *Bridge) stopping() bool {
	select {
	case <-b.stop:
		return true
	default:
		return false
	}
}

// sleep waits d, or less if the bridge stops or done closes; false when
// the wait was cut short.
func (b *Bridge) sleep(d time.Duration, done <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-b.stop:
	case <-done:
	}
	return false
}

func (b *Bridge) logf(format string, args ...any) {
	b.log.Info(fmt.Sprintf(format, args...))
}

// run keeps the local client connected, and the remote one as the start
// type says, until Stop.
func (b *Bridge) run() {
	defer close(b.done)
	defer b.setReady()
	for !b.stopping() {
		from := newSide()
		local, err := b.dialLocal(from)
		from.set(local)
		if err != nil {
			b.logf("Bridge %s: connecting to the local broker: %v.", b.o.Name, err)
			b.sleep(b.o.RestartBase, nil)
			continue
		}
		b.setReady()
		b.in.setOpen(true)
		if b.serveLocal(local, from) {
			return
		}
		b.in.setOpen(false)
		local.Close()
		if !b.o.LocalCleanSession {
			b.out.forget(from) // the broker sends them again
		}
	}
}

// serveLocal runs remote connections over one local connection; true when
// the bridge stopped (and its clients are closed).
func (b *Bridge) serveLocal(local *client.Client, from *side) bool {
	backoff := newBackoff(b.o.RestartBase, b.o.RestartCap)
	index := 0
	for {
		if b.o.Start == Lazy && !b.awaitThreshold(local) {
			return b.end(local, nil)
		}
		addr := b.o.Addresses[index]
		remote, via, err := b.dialRemote(addr)
		if err != nil {
			b.logf("Bridge %s: connecting to %s: %v.", b.o.Name, addr, err)
			if len(b.o.Addresses) > 1 {
				index = (index + 1) % len(b.o.Addresses)
			}
		} else {
			backoff.reset()
			err = b.forward(local, remote, via, addr, index)
			if b.stopping() {
				return b.end(local, remote)
			}
			remote.Close()
			if err != nil {
				b.logf("Bridge %s: %v.", b.o.Name, err)
			}
			if b.o.RoundRobin {
				index = (index + 1) % len(b.o.Addresses)
			} else {
				index = 0
			}
		}
		if b.o.Start == Once {
			b.logf("Bridge %s: start_type once: not connecting again.", b.o.Name)
			<-b.stop
			return b.end(local, nil)
		}
		select {
		case <-local.Done():
			return false
		default:
		}
		if !b.sleep(backoff.next(), local.Done()) {
			if b.stopping() {
				return b.end(local, nil)
			}
			return false
		}
	}
}

// end closes the bridge's clients as it stops. The remote learns the
// bridge is gone from the notification its will would have sent.
func (b *Bridge) end(local, remote *client.Client) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if remote != nil {
		if b.o.Notifications && !b.o.NotificationsLocalOnly {
			remote.Publish(ctx, b.notification("0"))
		}
		remote.Disconnect(ctx)
	}
	if b.o.Notifications {
		local.Publish(ctx, b.notification("0"))
	}
	if b.endLocal.Load() && !b.o.LocalCleanSession {
		d := &packets.Disconnect{}
		d.Properties.Set(packets.PropSessionExpiry) // zero: the session ends now
		local.DisconnectWith(ctx, d)
	} else {
		local.Disconnect(ctx)
	}
	return true
}

// awaitThreshold waits until Threshold messages wait for the remote;
// false if the bridge stopped or the local connection ended first.
func (b *Bridge) awaitThreshold(local *client.Client) bool {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for b.backlog() < max(b.o.Threshold, 1) {
		select {
		case <-tick.C:
		case <-b.stop:
			return false
		case <-local.Done():
			return false
		}
	}
	return true
}

// forward carries messages both ways until the remote or local
// connection ends, the bridge stops, a lazy bridge idles, or a bridge on
// a secondary address finds its main one answering.
func (b *Bridge) forward(local, remote *client.Client, via *side, addr string, index int) error {
	ctx, cancel := context.WithCancel(context.Background())
	b.connects.Add(1)
	b.address.Store(&addr)
	b.connected.Store(true)
	b.logf("Bridge %s connected to %s.", b.o.Name, addr)
	b.notify(ctx, local, remote, "1")

	b.out.setOpen(true)
	var pumps sync.WaitGroup
	pumps.Add(2)
	go func() {
		defer pumps.Done()
		b.out.pump(ctx, remote, b.toRemote, b.pacer())
	}()
	go func() {
		defer pumps.Done()
		b.in.pump(ctx, local, b.toLocal, nil)
	}()

	var err error
	watch := time.NewTicker(time.Second)
	defer watch.Stop()
	crossed, active, probed := b.crossed(), time.Now(), time.Now()
	for err == nil {
		select {
		case <-remote.Done():
			err = fmt.Errorf("the connection to %s ended: %v", addr, remote.Err())
		case <-local.Done():
			err = fmt.Errorf("the local connection ended: %v", local.Err())
		case <-b.stop:
			err = errStopped
		case now := <-watch.C:
			if n := b.crossed(); n != crossed || b.backlog() > 0 {
				crossed, active = n, now
			}
			if b.o.Start == Lazy && b.o.IdleTimeout > 0 && now.Sub(active) >= b.o.IdleTimeout {
				err = fmt.Errorf("idle for %s, disconnecting (start_type lazy)", b.o.IdleTimeout)
			} else if index != 0 && !b.o.RoundRobin && now.Sub(probed) >= max(b.o.RestartBase, time.Second) {
				probed = now
				if b.mainAnswers() {
					err = fmt.Errorf("the main address %s answers again, going back to it", b.o.Addresses[0])
				}
			}
		}
	}
	if err == errStopped {
		err = nil
	}
	cancel()
	b.out.setOpen(false)
	b.connected.Store(false)
	pumps.Wait()
	if !b.o.CleanSession {
		b.in.forget(via) // the remote sends them again
	}
	if b.o.Notifications && !b.stopping() {
		nctx, ncancel := context.WithTimeout(context.Background(), time.Second)
		local.Publish(nctx, b.notification("0"))
		ncancel()
	}
	return err
}

var errStopped = fmt.Errorf("stopped")

// mainAnswers tries a connection to the main address.
func (b *Bridge) mainAnswers() bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	dial := b.o.Dialer
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	nc, err := dial(ctx, "tcp", b.o.Addresses[0])
	if err != nil {
		return false
	}
	nc.Close()
	return true
}

// pacer paces the messages to the remote while a backlog drains after a
// connection, at DrainRate per second; nil without a DrainRate. Draining
// ends once nothing waits.
func (b *Bridge) pacer() func(context.Context) bool {
	if b.o.DrainRate <= 0 {
		return nil
	}
	interval := time.Second / time.Duration(b.o.DrainRate)
	draining := true
	next := time.Now()
	return func(ctx context.Context) bool {
		if !draining {
			return true
		}
		if b.backlog() == 0 {
			draining = false
			return true
		}
		if wait := time.Until(next); wait > 0 {
			t := time.NewTimer(wait)
			defer t.Stop()
			select {
			case <-t.C:
			case <-ctx.Done():
				return false
			}
		}
		if late := time.Now().Add(-interval); next.Before(late) {
			next = late // no burst to make up for a pause
		}
		next = next.Add(interval)
		return true
	}
}

// backoff is the wait before the next connection: constant, or a
// decorrelated jitter between base and limit.
type backoff struct {
	base, limit, last time.Duration
}

func newBackoff(base, limit time.Duration) *backoff {
	return &backoff{base: base, limit: limit, last: base}
}

func (bo *backoff) reset() { bo.last = bo.base }

func (bo *backoff) next() time.Duration {
	if bo.limit <= bo.base {
		return bo.base
	}
	upper := min(bo.last*3, bo.limit)
	bo.last = bo.base
	if upper > bo.base {
		bo.last += rand.N(upper - bo.base + 1)
	}
	return bo.last
}
