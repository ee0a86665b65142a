package bridge_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/internal/bridge"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/packets"
)

// restartOn serves a fresh broker on addr, where one was stopped.
func restartOn(t *testing.T, addr string) *brokertest.Broker {
	t.Helper()
	r, open := restartGated(t, addr)
	open()
	return r
}

// gatedListener accepts nothing until its gate opens.
type gatedListener struct {
	net.Listener
	gate chan struct{}
}

func (l gatedListener) Accept() (net.Conn, error) {
	<-l.gate
	return l.Listener.Accept()
}

// restartGated is restartOn whose listener accepts only once open is
// called, so that a test can subscribe (subscribeInProcess) before the
// bridge can reconnect.
func restartGated(t *testing.T, addr string) (*brokertest.Broker, func()) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	g := gatedListener{Listener: l, gate: make(chan struct{})}
	var once sync.Once
	open := func() { once.Do(func() { close(g.gate) }) }
	t.Cleanup(open)
	return brokertest.Serve(t, broker.Options{}, g, broker.ListenerOptions{}), open
}

// subscribeInProcess is subscribe over a pipe straight into srv, not
// through its listener.
func subscribeInProcess(t *testing.T, srv *broker.Server, id, filter string, qos byte) inbox {
	t.Helper()
	return subscribeWith(t, client.Options{Addr: "pipe", ClientID: id, CleanStart: true, Version: packets.V311,
		Dialer: func(context.Context, string, string) (net.Conn, error) {
			mine, theirs := net.Pipe()
			go srv.ServeConn(theirs)
			return mine, nil
		}}, filter, qos)
}

// With a DrainRate, a backlog queued while the remote was away drains in
// order at no more than that rate; a live message sent meanwhile comes
// after it.
func TestDrainRate(t *testing.T) {
	t.Parallel()
	remote := brokertest.Start(t, broker.Options{})
	addr := remote.Addr
	local := brokertest.Start(t, broker.Options{})
	o := options(addr, topics(t, "q/# out 1"))
	o.DrainRate = 20
	b := start(t, local, o)
	waitConnected(t, b, true)
	remote.Stop()
	waitConnected(t, b, false)
	lp := publisher(t, local.Addr, "lp", packets.V311)
	const n = 30
	for i := range n {
		publish(t, lp, "q/m", 1, fmt.Sprint(i))
	}
	remote, open := restartGated(t, addr)
	up := subscribeInProcess(t, remote.Server, "up", "q/#", 1)
	open()
	up.expect(t, "q/m", "0")
	began := time.Now()
	publish(t, lp, "q/m", 1, "live")
	for i := 1; i < n; i++ {
		up.expect(t, "q/m", fmt.Sprint(i))
	}
	up.expect(t, "q/m", "live")
	// 29 more at 20 a second take 1.45s at the least; allow for the
	// first tick.
	if elapsed := time.Since(began); elapsed < time.Second {
		t.Fatalf("the backlog drained in %v, faster than 20 messages a second", elapsed)
	}
}

// Without round_robin the first address is the main one: a bridge whose
// main remote does not answer connects to the next, and its Stats say
// which.
func TestFailoverToTheNextAddress(t *testing.T) {
	t.Parallel()
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()
	remote := brokertest.Start(t, broker.Options{})
	local := brokertest.Start(t, broker.Options{})
	o := options(deadAddr, topics(t, "f/# out 1"))
	o.Addresses = append(o.Addresses, remote.Addr)
	b := start(t, local, o)
	waitConnected(t, b, true)
	if got := b.Stats().Address; got != remote.Addr {
		t.Fatalf("connected to %q, want the second address %q", got, remote.Addr)
	}
	up := subscribe(t, remote.Addr, "up", packets.V311, "f/#", 1)
	publish(t, publisher(t, local.Addr, "lp", packets.V311), "f/x", 1, "via the second")
	up.expect(t, "f/x", "via the second")
}

// A lazy bridge connects once Threshold messages wait for the remote, and
// they all cross.
func TestLazyStartWaitsForThreshold(t *testing.T) {
	t.Parallel()
	remote := brokertest.Start(t, broker.Options{})
	local := brokertest.Start(t, broker.Options{})
	o := options(remote.Addr, topics(t, "l/# out 1"))
	o.Start, o.Threshold, o.IdleTimeout = bridge.Lazy, 3, time.Minute
	b := start(t, local, o)
	up := subscribe(t, remote.Addr, "up", packets.V311, "l/#", 1)
	// Ready: the local side has subscribed, before any remote connection.
	select {
	case <-b.Ready():
	case <-time.After(waitTimeout):
		t.Fatal("the lazy bridge never became ready")
	}
	if n := local.Server.Stats().Subscriptions; n < 1 {
		t.Fatalf("ready with %d subscriptions on the local broker", n)
	}
	lp := publisher(t, local.Addr, "lp", packets.V311)
	publish(t, lp, "l/m", 1, "0")
	publish(t, lp, "l/m", 1, "1")
	time.Sleep(300 * time.Millisecond) // the threshold is checked every 100ms: nothing to poll for
	if b.Stats().Connected {
		t.Fatal("a lazy bridge connected with 2 messages waiting, threshold 3")
	}
	publish(t, lp, "l/m", 1, "2")
	for i := range 3 {
		up.expect(t, "l/m", fmt.Sprint(i))
	}
	waitConnected(t, b, true)
}

// start_type once: the bridge connects once and never again once that
// connection ends.
func TestStartOnceDoesNotReconnect(t *testing.T) {
	t.Parallel()
	remote := brokertest.Start(t, broker.Options{})
	addr := remote.Addr
	local := brokertest.Start(t, broker.Options{})
	o := options(addr, topics(t, "o/# out 1"))
	o.Start = bridge.Once
	b := start(t, local, o)
	waitConnected(t, b, true)
	remote.Stop()
	waitConnected(t, b, false)
	restartOn(t, addr)
	time.Sleep(500 * time.Millisecond) // ten restart intervals: nothing to poll for
	if st := b.Stats(); st.Connected || st.Reconnects != 0 {
		t.Fatalf("a once bridge came back: %+v", st)
	}
}
