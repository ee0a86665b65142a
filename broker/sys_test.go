package broker_test

import (
	"bytes"
	"context"
	"net"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/packets"
)

// sysInterval is short so that the tests see several updates quickly.
const sysInterval = 100 * time.Millisecond

// sysTopics are every topic the broker publishes under $SYS/broker/, with
// the form of its payload.
var sysTopics = func() map[string]*regexp.Regexp {
	integer := regexp.MustCompile(`^[0-9]+$`)
	load := regexp.MustCompile(`^[0-9]+\.[0-9]{2}$`)
	m := map[string]*regexp.Regexp{
		"version": regexp.MustCompile(`^midge version 1\.2\.3$`),
		"uptime":  regexp.MustCompile(`^[0-9]+ seconds$`),
	}
	for _, name := range []string{
		"clients/total", "clients/maximum", "clients/connected", "clients/active",
		"clients/disconnected", "clients/inactive", "clients/expired",
		"store/messages/count", "messages/stored", "store/messages/bytes",
		"subscriptions/count", "shared_subscriptions/count", "retained messages/count",
		"heap/current", "heap/maximum",
		"messages/received", "messages/sent",
		"publish/messages/dropped", "publish/messages/received", "publish/messages/sent",
		"bytes/received", "bytes/sent", "publish/bytes/received", "publish/bytes/sent",
	} {
		m[name] = integer
	}
	for _, series := range []string{
		"messages/received", "messages/sent", "publish/dropped", "publish/received", "publish/sent",
		"bytes/received", "bytes/sent", "sockets", "connections",
	} {
		for _, period := range []string{"1min", "5min", "15min"} {
			m["load/"+series+"/"+period] = load
		}
	}
	return m
}()

// sysWatcher is a client subscribed to $SYS topics at QoS 0 that keeps the
// last figure of each.
type sysWatcher struct {
	t      *testing.T
	c      *brokertest.Conn
	values map[string]string // name below $SYS/broker/ -> last payload
	count  map[string]int    // name -> messages received
}

// watchSys connects a client that subscribes to filter. Messages may
// arrive before the SUBACK: the broker publishes $SYS as the subscription
// is made, which MQTT allows (3.1.1 §3.8.4).
func watchSys(t *testing.T, addr, clientID, filter string) *sysWatcher {
	t.Helper()
	c := brokertest.Connect(t, addr, packets.V311, clientID, true)
	w := &sysWatcher{t: t, c: c, values: make(map[string]string), count: make(map[string]int)}
	c.Send(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: filter}}})
	for {
		switch p := c.Expect().(type) {
		case *packets.Suback:
			if len(p.ReasonCodes) != 1 || p.ReasonCodes[0] != 0 {
				t.Fatalf("SUBACK = %+v", p)
			}
			return w
		case *packets.Publish:
			w.record(p)
		default:
			t.Fatalf("got %T, want SUBACK", p)
		}
	}
}

// until reads $SYS messages until cond holds, failing after five seconds.
func (w *sysWatcher) until(what string, cond func() bool) {
	w.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			w.t.Fatalf("$SYS: %s: not within 5s; last figures %v", what, w.values)
		}
		w.record(expectPublish(w.t, w.c))
	}
}

func (w *sysWatcher) record(p *packets.Publish) {
	w.t.Helper()
	name, ok := strings.CutPrefix(p.Topic, "$SYS/broker/")
	if !ok {
		w.t.Fatalf("unexpected PUBLISH on %q", p.Topic)
	}
	w.values[name] = string(p.Payload)
	w.count[name]++
}

// int returns the last figure of name, or -1 if none arrived yet.
func (w *sysWatcher) int(name string) int64 {
	v, err := strconv.ParseInt(w.values[name], 10, 64)
	if err != nil {
		return -1
	}
	return v
}

// float returns the last load average of name, or -1 if none arrived yet.
func (w *sysWatcher) float(name string) float64 {
	v, err := strconv.ParseFloat(w.values[name], 64)
	if err != nil {
		return -1
	}
	return v
}

// Every topic Mosquitto publishes arrives, with its payload in Mosquitto's
// form; the ones already published reach a new subscriber as retained
// messages.
func TestSysTopicsAndFormats(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{SysInterval: sysInterval, Version: "1.2.3"})
	first := watchSys(t, b.Addr, "first", "$SYS/#")
	first.until("every topic", func() bool { return len(first.values) == len(sysTopics) })
	for name, form := range sysTopics {
		if !form.MatchString(first.values[name]) {
			t.Errorf("$SYS/broker/%s = %q, want the form %s", name, first.values[name], form)
		}
	}
	for name := range first.values {
		if sysTopics[name] == nil {
			t.Errorf("unexpected topic $SYS/broker/%s", name)
		}
	}

	late := brokertest.Connect(t, b.Addr, packets.V311, "late", true)
	late.Send(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: "$SYS/broker/version"}}})
	if _, ok := late.Expect().(*packets.Suback); !ok {
		t.Fatal("no SUBACK")
	}
	if p := expectPublish(t, late); !p.Retain || string(p.Payload) != "midge version 1.2.3" {
		t.Fatalf("got %+v, want the retained version", p)
	}
}

// The figures follow the traffic: bytes, packets and PUBLISH counts, and
// their load averages, as in the Mosquitto tutorial's $SYS/broker/bytes/#.
func TestSysCountersMove(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{SysInterval: sysInterval})
	w := watchSys(t, b.Addr, "watcher", "$SYS/broker/#")
	w.until("every topic", func() bool { return len(w.values) == len(sysTopics) })
	bytesBefore, publishBytesBefore := w.int("bytes/received"), w.int("publish/bytes/received")
	receivedBefore, publishesBefore := w.int("messages/received"), w.int("publish/messages/received")

	pub := brokertest.Connect(t, b.Addr, packets.V311, "publisher", true)
	payload := bytes.Repeat([]byte("x"), 100)
	for i := range 10 {
		publishQoS1(t, pub, "data/x", string(payload), uint16(i+1))
	}
	w.until("traffic counted", func() bool {
		return w.int("publish/messages/received") == publishesBefore+10 &&
			w.int("publish/bytes/received") == publishBytesBefore+1000 &&
			w.int("bytes/received") >= bytesBefore+10*(2+2+6+2+100) &&
			w.int("messages/received") >= receivedBefore+11 // CONNECT and 10 PUBLISH
	})
	w.until("load averages move", func() bool {
		return w.float("load/publish/received/1min") > 0 && w.float("load/bytes/received/1min") > 0 &&
			w.float("load/connections/1min") > 0 && w.float("load/sockets/1min") > 0
	})
	if st := b.Server.Stats(); st.PublishBytesReceived != 1000 || st.PublishReceived != 10 {
		t.Errorf("Stats: %d PUBLISH, %d payload bytes received; want 10 and 1000", st.PublishReceived, st.PublishBytesReceived)
	}
}

// Clients: connected, disconnected (sessions kept offline), total,
// maximum, and expired sessions.
func TestSysClients(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{SysInterval: sysInterval})
	w := watchSys(t, b.Addr, "watcher", "$SYS/broker/clients/#")
	w.until("one client", func() bool { return w.int("clients/connected") == 1 && w.int("clients/total") == 1 })

	kept := brokertest.Connect(t, b.Addr, packets.V311, "kept", false)
	short, _ := connect5(t, b.Addr, "short", true, withExpiry(1))
	w.until("three connected", func() bool {
		return w.int("clients/connected") == 3 && w.int("clients/total") == 3 && w.int("clients/maximum") == 3
	})
	kept.Send(&packets.Disconnect{})
	kept.ExpectClosed()
	short.Send(&packets.Disconnect{})
	short.ExpectClosed()
	w.until("two kept offline", func() bool {
		return w.int("clients/connected") == 1 && w.int("clients/active") == 1 &&
			w.int("clients/disconnected") == 2 && w.int("clients/inactive") == 2 &&
			w.int("clients/total") == 3 && w.int("clients/maximum") == 3
	})
	w.until("one expired", func() bool { // after its 1 s session expiry interval
		return w.int("clients/expired") == 1 && w.int("clients/disconnected") == 1 && w.int("clients/total") == 2
	})
}

// Retained messages and subscriptions are counted; shared subscriptions
// apart, as Mosquitto counts them.
func TestSysRetainedAndSubscriptions(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{SysInterval: sysInterval})
	w := watchSys(t, b.Addr, "watcher", "$SYS/broker/#")
	// The $SYS topics are retained messages themselves: the figure counts
	// them, as Mosquitto's does, and Stats.Retained does not.
	w.until("retained count settled", func() bool {
		return w.int("retained messages/count") == int64(len(sysTopics)) && b.Server.Stats().Retained == 0
	})
	retained := w.int("retained messages/count")
	w.until("one subscription", func() bool {
		return w.int("subscriptions/count") == 1 && w.int("shared_subscriptions/count") == 0
	})

	c := brokertest.Connect(t, b.Addr, packets.V311, "client", true)
	c.Send(&packets.Publish{QoS: 1, PacketID: 1, Topic: "keep/1", Retain: true, Payload: []byte("a")})
	expectAck(t, c, packets.TypePuback, 1)
	c.Send(&packets.Publish{Topic: "keep/2", Retain: true, Payload: []byte("b")})
	c.Send(&packets.Publish{Topic: "keep/3", Retain: true, Payload: []byte("c")})
	c.Send(&packets.Publish{Topic: "keep/3", Retain: true}) // clears it
	subscribe(t, c, "a/#", 1)
	subscribe(t, c, "b/+", 0)
	subscribe(t, c, "$share/g/c", 1)
	w.until("counts", func() bool {
		return w.int("retained messages/count") == retained+2 &&
			w.int("subscriptions/count") == 3 && w.int("shared_subscriptions/count") == 1
	})
	c.Send(&packets.Publish{QoS: 1, PacketID: 2, Topic: "keep/1", Retain: true, Payload: []byte("again")})
	expectAck(t, c, packets.TypePuback, 2)
	c.Send(&packets.Publish{QoS: 1, PacketID: 3, Topic: "keep/4", Retain: true, Payload: []byte("d")})
	expectAck(t, c, packets.TypePuback, 3)
	c.Send(&packets.Unsubscribe{PacketID: 4, Filters: []string{"b/+"}})
	if _, ok := c.Expect().(*packets.Unsuback); !ok {
		t.Fatal("no UNSUBACK")
	}
	w.until("counts after a replacement, one more, and an unsubscribe", func() bool {
		return w.int("retained messages/count") == retained+3 && w.int("subscriptions/count") == 2
	})
}

// Messages a session holds for delivery count in the store figures.
func TestSysStore(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{SysInterval: sysInterval})
	w := watchSys(t, b.Addr, "watcher", "$SYS/broker/store/#")
	w.until("empty store", func() bool { return w.int("store/messages/count") == 0 })

	offline := brokertest.Connect(t, b.Addr, packets.V311, "offline", false)
	subscribe(t, offline, "queued/#", 1)
	offline.Send(&packets.Disconnect{})
	offline.ExpectClosed()
	pub := brokertest.Connect(t, b.Addr, packets.V311, "publisher", true)
	publishQoS1(t, pub, "queued/a", "12345", 1)
	publishQoS1(t, pub, "queued/b", "123", 2)
	w.until("two queued", func() bool {
		return w.int("store/messages/count") == 2 && w.int("store/messages/bytes") == 8
	})
}

// A figure that stays the same is not published again; the uptime is
// published at every interval.
func TestSysChangeOnly(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{SysInterval: sysInterval})
	// The first update is made before the first client is served, so the
	// watcher finds it retained and nothing from it arrives twice.
	w := watchSys(t, b.Addr, "watcher", "$SYS/broker/#")
	w.until("five updates", func() bool { return w.count["uptime"] >= 5 })
	for _, name := range []string{"version", "clients/expired", "publish/messages/dropped", "load/publish/dropped/15min"} {
		if w.count[name] != 1 {
			t.Errorf("$SYS/broker/%s arrived %d times, want once (retained)", name, w.count[name])
		}
	}
}

// "#" and "+/..." do not match topics starting with '$' [MQTT-4.7.2-1].
func TestSysNotMatchedByWildcards(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{SysInterval: sysInterval})
	t.Run("MQTT-4.7.2-1", func(t *testing.T) {
		all := brokertest.Connect(t, b.Addr, packets.V311, "all", true)
		subscribe(t, all, "#", 0)
		plus := brokertest.Connect(t, b.Addr, packets.V311, "plus", true)
		subscribe(t, plus, "+/broker/#", 0)
		w := watchSys(t, b.Addr, "watcher", "$SYS/#")
		w.until("three updates", func() bool { return w.count["uptime"] >= 3 })
		expectNothingFor(t, all, 3*sysInterval)
		expectNothingFor(t, plus, sysInterval)
	})
}

// A negative interval turns $SYS off: nothing is published, nothing
// retained.
func TestSysDisabled(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{SysInterval: -1})
	c := brokertest.Connect(t, b.Addr, packets.V311, "watcher", true)
	subscribe(t, c, "$SYS/#", 0)
	expectNothingFor(t, c, 3*sysInterval)
	if n := b.Server.Stats().Retained; n != 0 {
		t.Fatalf("%d retained messages, want none", n)
	}
}

// Shutdown waits for the $SYS publisher, which then no longer runs. It
// counts the process's goroutines, so it does not run in parallel.
func TestSysStopsAtShutdown(t *testing.T) {
	publishers := func() int {
		buf := make([]byte, 1<<20)
		return bytes.Count(buf[:runtime.Stack(buf, true)], []byte("broker.(*sysTree).run("))
	}
	before := publishers()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := broker.New(broker.Options{SysInterval: sysInterval})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	w := watchSys(t, l.Addr().String(), "watcher", "$SYS/broker/uptime")
	w.until("two updates", func() bool { return w.count["uptime"] >= 2 })

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-served; err != broker.ErrServerClosed {
		t.Fatalf("Serve returned %v", err)
	}
	if n := publishers(); n > before {
		t.Fatalf("%d $SYS publishers running after Shutdown, %d before the server started", n, before)
	}
}

// The figures of Options.SysFigures are published with the broker's own,
// when they change, and deleted once no longer given; the retained count
// follows them.
func TestSysFigures(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	figures := map[string]string{"bridges/up/connected": "1", "bridges/down/connected": "0"}
	b := brokertest.Start(t, broker.Options{SysInterval: sysInterval, SysFigures: func(put func(name, payload string)) {
		mu.Lock()
		defer mu.Unlock()
		for name, v := range figures {
			put(name, v)
		}
	}})
	w := watchSys(t, b.Addr, "watcher", "$SYS/broker/bridges/#")
	w.until("both figures", func() bool {
		return w.values["bridges/up/connected"] == "1" && w.values["bridges/down/connected"] == "0"
	})
	before := b.Server.Stats().Retained

	mu.Lock()
	figures["bridges/down/connected"] = "1"
	delete(figures, "bridges/up/connected")
	mu.Unlock()
	w.until("changed and deleted", func() bool {
		_, deleted := w.values["bridges/up/connected"]
		return w.values["bridges/down/connected"] == "1" && deleted && w.values["bridges/up/connected"] == ""
	})
	if w.count["bridges/down/connected"] != 2 {
		t.Errorf("bridges/down/connected arrived %d times, want 2 (once per value)", w.count["bridges/down/connected"])
	}
	if after := b.Server.Stats().Retained; after != before {
		t.Errorf("Stats.Retained went from %d to %d; $SYS figures should not count", before, after)
	}
	late := watchSys(t, b.Addr, "late", "$SYS/broker/bridges/#")
	late.until("the remaining figure", func() bool { return late.values["bridges/down/connected"] == "1" })
	if _, ok := late.values["bridges/up/connected"]; ok {
		t.Errorf("a deleted figure is still retained")
	}
}
