package broker_test

import (
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/packets"
)

func connectWithWill(t *testing.T, addr, id string, keepAlive uint16) *brokertest.Conn {
	t.Helper()
	c := brokertest.Dial(t, addr, packets.V311)
	c.Send(&packets.Connect{ProtocolName: "MQTT", Version: 4, CleanStart: true, KeepAlive: keepAlive, ClientID: id,
		Will: &packets.Will{Topic: "will/" + id, Payload: []byte("gone"), QoS: 1}})
	if ack := c.Expect().(*packets.Connack); ack.ReasonCode != 0 {
		t.Fatalf("CONNACK %d", ack.ReasonCode)
	}
	return c
}

func TestWill(t *testing.T) {
	t.Parallel()
	clock := brokertest.NewClock()
	b := brokertest.Start(t, broker.Options{Clock: clock})
	watcher := brokertest.Connect(t, b.Addr, packets.V311, "watcher", true)
	subscribe(t, watcher, "will/#", 1)

	t.Run("not after DISCONNECT", func(t *testing.T) {
		c := connectWithWill(t, b.Addr, "polite", 60)
		c.Send(&packets.Disconnect{})
		c.ExpectClosed()
	})
	t.Run("on socket error", func(t *testing.T) {
		c := connectWithWill(t, b.Addr, "dropped", 60)
		c.Net.Close()
		p := expectPublish(t, watcher)
		if p.Topic != "will/dropped" || string(p.Payload) != "gone" {
			t.Fatalf("will = %+v (a will after DISCONNECT would show up here first)", p)
		}
		watcher.Send(&packets.Ack{Kind: packets.TypePuback, PacketID: p.PacketID})
	})
	t.Run("on protocol violation", func(t *testing.T) {
		c := connectWithWill(t, b.Addr, "violator", 60)
		c.Write([]byte{0x36, 0x05, 0, 1, 'a', 0, 1}) // QoS 3
		c.ExpectClosed()
		p := expectPublish(t, watcher)
		if p.Topic != "will/violator" {
			t.Fatalf("will = %+v", p)
		}
		watcher.Send(&packets.Ack{Kind: packets.TypePuback, PacketID: p.PacketID})
	})
	t.Run("MQTT-3.1.2-24 on keep alive timeout", func(t *testing.T) {
		c := connectWithWill(t, b.Addr, "silent", 1)
		clock.Advance(time.Second) // within 1.5 × keep alive
		expectOpen(t, c)
		clock.Advance(time.Second)
		c.ExpectClosed()
		p := expectPublish(t, watcher)
		if p.Topic != "will/silent" {
			t.Fatalf("will = %+v", p)
		}
		watcher.Send(&packets.Ack{Kind: packets.TypePuback, PacketID: p.PacketID})
	})
}

func TestKeepAlivePingKeepsConnection(t *testing.T) {
	t.Parallel()
	clock := brokertest.NewClock()
	b := brokertest.Start(t, broker.Options{Clock: clock})
	c := connectWithWill(t, b.Addr, "pinger", 1)
	for i := 0; i < 4; i++ {
		clock.Advance(time.Second) // the client's own pace: inside 1.5 × keep alive
		c.Send(&packets.Pingreq{})
		if _, ok := c.Expect().(*packets.Pingresp); !ok {
			t.Fatal("no PINGRESP")
		}
	}
	clock.Advance(2 * time.Second) // silent past 1.5 × keep alive
	c.ExpectClosed()
}

// A second connection with the same client id takes the session over and
// the first connection is closed [MQTT-3.1.4-2].
func TestTakeover(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{})
	first := brokertest.Connect(t, b.Addr, packets.V311, "same", false)
	subscribe(t, first, "t", 1)
	second := brokertest.Dial(t, b.Addr, packets.V311)
	second.Send(&packets.Connect{ProtocolName: "MQTT", Version: 4, KeepAlive: 60, ClientID: "same"})
	if ack := second.Expect().(*packets.Connack); !ack.SessionPresent {
		t.Fatal("session not present after takeover")
	}
	first.ExpectClosed()
	pub := brokertest.Connect(t, b.Addr, packets.V311, "pub", true)
	pub.Send(&packets.Publish{Topic: "t", Payload: []byte("hi")})
	if p := expectPublish(t, second); string(p.Payload) != "hi" {
		t.Fatalf("got %q", p.Payload)
	}
	waitFor(t, func() bool { return b.Server.Stats().ClientsConnected == 2 })
}

func TestRetained(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{})
	pub := brokertest.Connect(t, b.Addr, packets.V311, "pub", true)
	live := brokertest.Connect(t, b.Addr, packets.V311, "live", true)
	subscribe(t, live, "r/#", 0)
	pub.Send(&packets.Publish{Retain: true, Topic: "r/a", Payload: []byte("old")})
	pub.Send(&packets.Publish{Retain: true, Topic: "r/a", Payload: []byte("new")})
	pub.Send(&packets.Publish{Retain: true, Topic: "r/b", Payload: []byte("b")})
	for i := 0; i < 3; i++ {
		if p := expectPublish(t, live); p.Retain {
			t.Fatalf("forwarded to an existing subscription with RETAIN set: %+v [MQTT-3.3.1-9]", p)
		}
	}

	late := brokertest.Connect(t, b.Addr, packets.V311, "late", true)
	subscribe(t, late, "r/+", 0)
	got := map[string]string{}
	for i := 0; i < 2; i++ {
		p := expectPublish(t, late)
		if !p.Retain {
			t.Fatalf("retained message without RETAIN: %+v [MQTT-3.3.1-8]", p)
		}
		got[p.Topic] = string(p.Payload)
	}
	if got["r/a"] != "new" || got["r/b"] != "b" {
		t.Fatalf("retained = %v, want the last per topic", got)
	}

	pub.Send(&packets.Publish{Retain: true, Topic: "r/a"}) // empty: clears
	waitFor(t, func() bool { return b.Server.Stats().Retained == 1 })
	again := brokertest.Connect(t, b.Addr, packets.V311, "again", true)
	subscribe(t, again, "r/#", 0)
	if p := expectPublish(t, again); p.Topic != "r/b" {
		t.Fatalf("got %+v, want only r/b", p)
	}
}

// Topics starting with $ are not matched by filters starting with a
// wildcard [MQTT-4.7.2-1], and clients cannot publish into $SYS.
func TestDollarTopics(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{})
	all := brokertest.Connect(t, b.Addr, packets.V311, "all", true)
	subscribe(t, all, "#", 0)
	dollar := brokertest.Connect(t, b.Addr, packets.V311, "dollar", true)
	subscribe(t, dollar, "$app/#", 0)
	pub := brokertest.Connect(t, b.Addr, packets.V311, "pub", true)
	pub.Send(&packets.Publish{Topic: "$app/x", Payload: []byte("1")})
	pub.Send(&packets.Publish{Topic: "plain", Payload: []byte("2")})
	if p := expectPublish(t, all); p.Topic != "plain" {
		t.Fatalf("# received %q [MQTT-4.7.2-1]", p.Topic)
	}
	if p := expectPublish(t, dollar); p.Topic != "$app/x" {
		t.Fatalf("$app/# received %q", p.Topic)
	}
}

// A client that trickles a packet one byte at a time is closed after one and
// a half times its keep alive, however steadily the bytes come.
func TestTrickleAfterConnectIsClosed(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{})
	c := connectWithWill(t, b.Addr, "trickler", 1)
	publish := append([]byte{0x30, 0x20, 0, 1, 't'}, make([]byte, 29)...) // 34 bytes
	start := time.Now()
	for _, by := range publish {
		c.Net.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := c.Net.Write([]byte{by}); err != nil {
			break // the broker closed the connection
		}
		time.Sleep(200 * time.Millisecond) // the attacker's pace: 6.8s for the packet
	}
	c.Timeout = 2 * time.Second
	c.ExpectClosed()
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("closed after %v, want about 1.5s (keep alive 1s)", d)
	}
}

// A client that subscribes while retained messages are being published to
// the topic gets each message once, retained or live, and never an older
// one after a newer: the retained message comes first, then live ones in
// the order they were published. Publications race the SUBSCRIBE here, so
// a broker that reads the retained store apart from adding the
// subscription shows a duplicate or a step back within a few rounds.
// It catches that race reliably only under -race, whose slower scheduling
// widens the window (without it the old code passed 3 runs of 3); CI runs
// go test -race, so it guards there.
func TestRetainedRacingSubscribe(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{})
	flood(t, b.Addr, "race/x", true)
	for round := range 200 {
		sub := brokertest.Connect(t, b.Addr, packets.V311, fmt.Sprintf("sub%d", round), true)
		subscribe(t, sub, "race/x", 0)
		last := int64(-1)
		for i := range 20 {
			p := expectPublish(t, sub)
			n, err := strconv.ParseInt(string(p.Payload), 10, 64)
			if err != nil {
				t.Fatalf("payload %q: %v", p.Payload, err)
			}
			if p.Retain && i > 0 {
				t.Fatalf("round %d: retained message %d after %d live ones", round, n, i)
			}
			if n <= last {
				t.Fatalf("round %d: message %d (retained %v) after %d: a duplicate or a step back", round, n, p.Retain, last)
			}
			last = n
		}
		sub.Net.Close()
	}
}

// flood publishes QoS 0 messages to topic, their payloads counting up from
// 1, as fast as the broker takes them until the test ends.
func flood(t *testing.T, addr, topic string, retain bool) {
	t.Helper()
	pub, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	connect, _ := (&packets.Connect{ProtocolName: "MQTT", Version: packets.V311, CleanStart: true, ClientID: "flood"}).Encode(nil, packets.V311)
	if _, err := pub.Write(connect); err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pub)
	stop := make(chan struct{})
	published := make(chan error, 1)
	go func() {
		var buf []byte
		for n := 1; ; n++ {
			select {
			case <-stop:
				published <- nil
				return
			default:
			}
			buf, _ = (&packets.Publish{Retain: retain, Topic: topic, Payload: strconv.AppendInt(nil, int64(n), 10)}).Encode(buf[:0], packets.V311)
			if _, err := pub.Write(buf); err != nil {
				published <- err
				return
			}
			if n%64 == 0 {
				runtime.Gosched()
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		if err := <-published; err != nil {
			t.Errorf("publisher: %v", err)
		}
		pub.Close()
	})
}

// A connection whose writes fail (its client reset it while messages
// were streaming to it) ends like any other: its clean session and
// subscription go, its will is published, and the broker keeps reading
// every other connection. On Linux an idle connection waits in epoll; one
// whose socket was closed behind the poller's back was never ended, and
// when the descriptor's number came back for a new connection, that one
// could go unread. Like TestRetainedRacingSubscribe, it catches the old
// bug reliably only under -race, as CI runs it.
func TestWriteFailureEndsConnection(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{})
	watcher := brokertest.Connect(t, b.Addr, packets.V311, "watcher", true)
	subscribe(t, watcher, "will/#", 0)
	flood(t, b.Addr, "flood/x", false)
	const rounds = 50
	for round := range rounds {
		id := fmt.Sprintf("sub%d", round)
		sub := brokertest.Dial(t, b.Addr, packets.V311)
		sub.Send(&packets.Connect{ProtocolName: "MQTT", Version: packets.V311, CleanStart: true, KeepAlive: 60, ClientID: id,
			Will: &packets.Will{Topic: "will/" + id, Payload: []byte("gone")}})
		if ack, ok := sub.Expect().(*packets.Connack); !ok || ack.ReasonCode != 0 {
			t.Fatalf("round %d: CONNACK %+v", round, ack)
		}
		subscribe(t, sub, "flood/x", 0)
		expectPublish(t, sub)
		sub.Net.(*net.TCPConn).SetLinger(0) // close with a reset, messages still coming
		sub.Net.Close()
	}
	wills := map[string]bool{}
	for len(wills) < rounds {
		p := expectPublish(t, watcher)
		wills[p.Topic] = true
	}
	waitFor(t, func() bool {
		st := b.Server.Stats()
		return st.ClientsConnected == 2 && st.Subscriptions == 1
	})
}
