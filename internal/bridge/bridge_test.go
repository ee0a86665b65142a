package bridge_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/internal/bridge"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/packets"
)

const waitTimeout = 10 * time.Second

// topics parses topic lines, each as the words of a `topic` line.
func topics(t *testing.T, lines ...string) []bridge.Topic {
	t.Helper()
	var out []bridge.Topic
	for _, l := range lines {
		tp, err := bridge.ParseTopic(strings.Fields(l))
		if err != nil {
			t.Fatalf("topic %s: %v", l, err)
		}
		out = append(out, tp)
	}
	return out
}

// options are a bridge from local to remote with the test's topics,
// reconnecting quickly.
func options(remote string, tps []bridge.Topic) bridge.Options {
	return bridge.Options{
		Name: "test", Addresses: []string{remote}, Topics: tps, Version: packets.V311,
		RemoteClientID: "edge.test", LocalClientID: "local.edge.test", KeepAlive: 60 * time.Second,
		TryPrivate: true, AttemptUnsubscribe: true, OutgoingRetain: true,
		RestartBase: 50 * time.Millisecond, Notifications: true,
		NotificationTopic: "$SYS/broker/connection/edge.test/state",
	}
}

// start runs a bridge on local's server until the test ends.
func start(t *testing.T, local *brokertest.Broker, o bridge.Options) *bridge.Bridge {
	t.Helper()
	b := bridge.Start(local.Server, o)
	t.Cleanup(func() { b.Stop(false) })
	return b
}

// inbox is a subscriber's messages.
type inbox chan *packets.Publish

// subscribe connects a client to addr subscribed to filter at qos.
func subscribe(t *testing.T, addr, id string, version byte, filter string, qos byte) inbox {
	t.Helper()
	return subscribeWith(t, client.Options{Addr: addr, ClientID: id, CleanStart: true, Version: version}, filter, qos)
}

// subscribeWith connects a client with o (OnMessage set here) subscribed
// to filter at qos.
func subscribeWith(t *testing.T, o client.Options, filter string, qos byte) inbox {
	t.Helper()
	in := make(inbox, 100000)
	o.OnMessage = func(p *packets.Publish) {
		m := *p
		m.Payload = append([]byte(nil), p.Payload...)
		in <- &m
	}
	c, err := client.Dial(ctx(t), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if codes, err := c.Subscribe(ctx(t), packets.Subscription{Filter: filter, QoS: qos}); err != nil || codes[0].IsError() {
		t.Fatalf("subscribe %s: %v %v", filter, codes, err)
	}
	return in
}

// publisher connects a client to addr.
func publisher(t *testing.T, addr, id string, version byte) *client.Client {
	t.Helper()
	c, err := client.Dial(ctx(t), client.Options{Addr: addr, ClientID: id, CleanStart: true, Version: version})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return c
}

func publish(t *testing.T, c *client.Client, name string, qos byte, payload string) {
	t.Helper()
	if err := c.Publish(ctx(t), &packets.Publish{Topic: name, QoS: qos, Payload: []byte(payload)}); err != nil {
		t.Fatalf("publish %s: %v", name, err)
	}
}

// expect waits for a message on name with payload.
func (in inbox) expect(t *testing.T, name, payload string) *packets.Publish {
	t.Helper()
	select {
	case p := <-in:
		if p.Topic != name || string(p.Payload) != payload {
			t.Fatalf("got %q on %s, want %q on %s", p.Payload, p.Topic, payload, name)
		}
		return p
	case <-time.After(waitTimeout):
		t.Fatalf("no message %q on %s", payload, name)
	}
	return nil
}

// expectNothing checks that no message arrives for a moment.
func (in inbox) expectNothing(t *testing.T) {
	t.Helper()
	select {
	case p := <-in:
		t.Fatalf("got %q on %s, want nothing", p.Payload, p.Topic)
	case <-time.After(200 * time.Millisecond):
	}
}

// waitConnected waits until the bridge has connected to its remote.
func waitConnected(t *testing.T, b *bridge.Bridge, want bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for b.Stats().Connected != want {
		if time.Now().After(deadline) {
			t.Fatalf("bridge connected = %v, want %v", !want, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Topics cross the way their lines say, with the prefixes swapped, at the
// lower of the topic's and the message's QoS.
func TestPrefixesAndDirections(t *testing.T) {
	t.Parallel()
	remote := brokertest.Start(t, broker.Options{})
	local := brokertest.Start(t, broker.Options{})
	b := start(t, local, options(remote.Addr, topics(t,
		"# out 1 site/ cloud/site/",
		"cmd/# in 2 \"\" edge/",
		"\"\" both 0 local/status remote/status")))
	upstairs := subscribe(t, remote.Addr, "up", packets.V311, "#", 2)
	downstairs := subscribe(t, local.Addr, "down", packets.V311, "#", 2)
	waitConnected(t, b, true)
	lp := publisher(t, local.Addr, "lp", packets.V311)
	rp := publisher(t, remote.Addr, "rp", packets.V311)

	publish(t, lp, "site/temp", 2, "21.5")
	downstairs.expect(t, "site/temp", "21.5")
	if p := upstairs.expect(t, "cloud/site/temp", "21.5"); p.QoS != 1 {
		t.Fatalf("crossed at QoS %d, want the topic's 1", p.QoS)
	}
	publish(t, rp, "edge/cmd/open", 1, "now")
	upstairs.expect(t, "edge/cmd/open", "now")
	if p := downstairs.expect(t, "cmd/open", "now"); p.QoS != 1 {
		t.Fatalf("crossed at QoS %d, want the message's 1", p.QoS)
	}
	publish(t, rp, "remote/status", 1, "ok")
	upstairs.expect(t, "remote/status", "ok")
	downstairs.expect(t, "local/status", "ok")
	publish(t, lp, "local/status", 0, "fine")
	downstairs.expect(t, "local/status", "fine")
	upstairs.expect(t, "remote/status", "fine")

	// Not carried: an in topic published locally, a remote topic outside
	// the patterns.
	publish(t, lp, "cmd/close", 1, "x")
	downstairs.expect(t, "cmd/close", "x")
	publish(t, rp, "cloud/other", 1, "y")
	upstairs.expect(t, "cloud/other", "y")
	upstairs.expectNothing(t)
	downstairs.expectNothing(t)
}

// With `both`, a message crosses once and never comes back, whichever side
// it was published on; heavy traffic both ways at once does not wedge the
// bridge (each side's reader used to wait for the other's).
func TestBothNoLoop(t *testing.T) {
	t.Parallel()
	for _, version := range []byte{packets.V311, packets.V5} {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			t.Parallel()
			// The subscribers below get bursts of 4000 messages.
			unbounded := broker.Options{MaxQueued: broker.Unlimited}
			remote := brokertest.Start(t, unbounded)
			local := brokertest.Start(t, unbounded)
			o := options(remote.Addr, topics(t, "x/# both 1"))
			o.Version = version
			b := start(t, local, o)
			up := subscribe(t, remote.Addr, "up", packets.V311, "x/#", 1)
			down := subscribe(t, local.Addr, "down", packets.V311, "x/#", 1)
			waitConnected(t, b, true)
			lp := publisher(t, local.Addr, "lp", packets.V311)
			rp := publisher(t, remote.Addr, "rp", packets.V311)
			publish(t, lp, "x/from-local", 1, "l")
			down.expect(t, "x/from-local", "l")
			up.expect(t, "x/from-local", "l")
			publish(t, rp, "x/from-remote", 1, "r")
			up.expect(t, "x/from-remote", "r")
			down.expect(t, "x/from-remote", "r")
			up.expectNothing(t)
			down.expectNothing(t)

			const n = 2000
			go func() {
				for i := range n {
					lp.PublishAsync(context.Background(), &packets.Publish{Topic: "x/l", QoS: 1, Payload: []byte(fmt.Sprint(i))})
				}
			}()
			for i := range n {
				rp.PublishAsync(ctx(t), &packets.Publish{Topic: "x/r", QoS: 1, Payload: []byte(fmt.Sprint(i))})
			}
			counts := map[string]int{}
			for range 4 * n {
				select {
				case p := <-up:
					counts["up "+p.Topic]++
				case p := <-down:
					counts["down "+p.Topic]++
				case <-time.After(waitTimeout):
					t.Fatalf("stalled: %v", counts)
				}
			}
			for _, k := range []string{"up x/l", "up x/r", "down x/l", "down x/r"} {
				if counts[k] != n {
					t.Fatalf("%s: %d messages, want %d (%v)", k, counts[k], n, counts)
				}
			}
			up.expectNothing(t)
		})
	}
}

// QoS 1 messages published while the remote is down wait in the bridge's
// local session and all arrive, in order, once it is back.
func TestQueuedWhileRemoteDown(t *testing.T) {
	t.Parallel()
	remote := brokertest.Start(t, broker.Options{})
	addr := remote.Addr
	local := brokertest.Start(t, broker.Options{})
	b := start(t, local, options(addr, topics(t, "q/# out 1")))
	waitConnected(t, b, true)
	remote.Stop()
	waitConnected(t, b, false)

	lp := publisher(t, local.Addr, "lp", packets.V311)
	const n = 200
	for i := range n {
		publish(t, lp, "q/m", 1, fmt.Sprint(i))
	}
	if st := b.Stats(); st.Queued != n {
		t.Fatalf("Stats().Queued = %d, want %d", st.Queued, n)
	}

	remote, open := restartGated(t, addr)
	up := subscribeInProcess(t, remote.Server, "up", "q/#", 1)
	open()
	for i := range n {
		up.expect(t, "q/m", fmt.Sprint(i))
	}
	up.expectNothing(t)
	st := b.Stats()
	if st.MessagesOut != n || st.Reconnects != 1 || st.Queued != 0 || st.Dropped != 0 {
		t.Fatalf("Stats() = %+v, want %d out, 1 reconnect, none queued or dropped", st, n)
	}
}

// The bridge's state is a retained 1 on its notification topic, locally
// and on the remote, and 0 once it has gone: on the remote by its will
// when the connection is lost, and by the bridge itself when it stops.
func TestNotifications(t *testing.T) {
	t.Parallel()
	remote := brokertest.Start(t, broker.Options{})
	local := brokertest.Start(t, broker.Options{})
	o := options(remote.Addr, topics(t, "n/# out 1"))
	b := bridge.Start(local.Server, o)
	waitConnected(t, b, true)
	state := "$SYS/broker/connection/edge.test/state"
	up := subscribe(t, remote.Addr, "up", packets.V311, state, 1)
	down := subscribe(t, local.Addr, "down", packets.V311, state, 1)
	if p := up.expect(t, state, "1"); !p.Retain {
		t.Fatal("remote state not retained")
	}
	if p := down.expect(t, state, "1"); !p.Retain {
		t.Fatal("local state not retained")
	}
	b.Stop(false)
	up.expect(t, state, "0")
	down.expect(t, state, "0")
}

// An MQTT 5 bridge keeps a message's properties across.
func TestV5Properties(t *testing.T) {
	t.Parallel()
	remote := brokertest.Start(t, broker.Options{})
	local := brokertest.Start(t, broker.Options{})
	o := options(remote.Addr, topics(t, "p/# out 1"))
	o.Version = packets.V5
	b := start(t, local, o)
	up := subscribe(t, remote.Addr, "up", packets.V5, "p/#", 1)
	waitConnected(t, b, true)
	lp := publisher(t, local.Addr, "lp", packets.V5)
	m := &packets.Publish{Topic: "p/req", QoS: 1, Payload: []byte("{}")}
	m.Properties.ContentType, m.Properties.ResponseTopic = "application/json", "p/reply"
	m.Properties.CorrelationData = []byte{1, 2, 3}
	m.Properties.MessageExpiry, m.Properties.PayloadFormat = 600, 1
	m.Properties.User = []packets.UserProperty{{Key: "site", Value: "workshop"}}
	for _, id := range []packets.PropertyID{packets.PropContentType, packets.PropResponseTopic, packets.PropCorrelationData,
		packets.PropMessageExpiry, packets.PropPayloadFormat} {
		m.Properties.Set(id)
	}
	if err := lp.Publish(ctx(t), m); err != nil {
		t.Fatal(err)
	}
	p := up.expect(t, "p/req", "{}")
	got := p.Properties
	if got.ContentType != "application/json" || got.ResponseTopic != "p/reply" || string(got.CorrelationData) != "\x01\x02\x03" ||
		got.PayloadFormat != 1 || got.MessageExpiry == 0 || got.MessageExpiry > 600 ||
		len(got.User) != 1 || got.User[0] != (packets.UserProperty{Key: "site", Value: "workshop"}) {
		t.Fatalf("properties across the bridge: %+v", got)
	}
}
