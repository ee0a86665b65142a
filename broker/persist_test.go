package broker_test

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/internal/store"
	"github.com/midge-mqtt/midge/packets"
)

// Retained messages outlive a restart over the same store; one removed
// before the restart stays removed.
func TestStoreKeepsRetained(t *testing.T) {
	t.Parallel()
	st := new(store.Memory)
	b := brokertest.Start(t, broker.Options{Store: st})
	pub := brokertest.Connect(t, b.Addr, packets.V5, "pub", true)
	p := publish5("keep/a", 1, 1, "kept", 0)
	p.Retain = true
	p.Properties.ContentType = "text/plain"
	p.Properties.Set(packets.PropContentType)
	pub.Send(p)
	pub.Expect()
	pub.Send(&packets.Publish{Topic: "keep/b", Retain: true, Payload: []byte("removed")})
	pub.Send(&packets.Publish{Topic: "keep/b", Retain: true})
	pub.Send(&packets.Pingreq{})
	pub.Expect()
	b.Stop()

	b = brokertest.Start(t, broker.Options{Store: st.Reopen()})
	sub, _ := connect5(t, b.Addr, "sub", true, nil)
	subscribe5(t, sub, 0, packets.Subscription{Filter: "keep/#", QoS: 1})
	got := expectPublish(t, sub)
	if got.Topic != "keep/a" || string(got.Payload) != "kept" || !got.Retain || got.Properties.ContentType != "text/plain" {
		t.Fatalf("after restart got %+v", got)
	}
	expectNothing(t, sub)
}

// A persistent session and its subscriptions outlive a restart: the client
// resumes it, and messages published after the restart while it is away
// are waiting for it.
func TestStoreKeepsSessions(t *testing.T) {
	t.Parallel()
	st := new(store.Memory)
	b := brokertest.Start(t, broker.Options{Store: st})
	c := brokertest.Connect(t, b.Addr, packets.V311, "durable", false)
	subscribe(t, c, "d/#", 1)
	v5, _ := connect5(t, b.Addr, "durable5", true, withExpiry(3600))
	subscribe5(t, v5, 7, packets.Subscription{Filter: "e/+", QoS: 1, NoLocal: true})
	c.Net.Close()
	v5.Net.Close()
	waitFor(t, func() bool { return b.Server.Stats().ClientsConnected == 0 })
	b.Stop()

	b = brokertest.Start(t, broker.Options{Store: st.Reopen()})
	pub := brokertest.Connect(t, b.Addr, packets.V311, "pub", true)
	publishQoS1(t, pub, "d/1", "for durable", 1)
	publishQoS1(t, pub, "e/1", "for durable5", 2)

	c = brokertest.Dial(t, b.Addr, packets.V311)
	c.Send(&packets.Connect{ProtocolName: "MQTT", Version: packets.V311, KeepAlive: 60, ClientID: "durable"})
	if ack, ok := c.Expect().(*packets.Connack); !ok || !ack.SessionPresent {
		t.Fatalf("got %+v, want the session present", ack)
	}
	if p := expectPublish(t, c); string(p.Payload) != "for durable" || p.QoS != 1 {
		t.Fatalf("got %+v", p)
	}
	v5, ack := connect5(t, b.Addr, "durable5", false, withExpiry(3600))
	if !ack.SessionPresent {
		t.Fatal("MQTT 5 session lost")
	}
	p := expectPublish(t, v5)
	if string(p.Payload) != "for durable5" || len(p.Properties.SubscriptionIDs) != 1 || p.Properties.SubscriptionIDs[0] != 7 {
		t.Fatalf("got %+v, want the message with subscription identifier 7", p)
	}
}

// A session whose expiry passes while the broker is down is gone after the
// restart, and so are its records.
func TestStoreDropsSessionsExpiredWhileDown(t *testing.T) {
	t.Parallel()
	st := new(store.Memory)
	b := brokertest.Start(t, broker.Options{Store: st})
	c, _ := connect5(t, b.Addr, "brief", true, withExpiry(1))
	subscribe5(t, c, 0, packets.Subscription{Filter: "x"})
	c.Net.Close()
	waitFor(t, func() bool { return b.Server.Stats().ClientsConnected == 0 })
	b.Stop()
	if st.Len() != 2 {
		t.Fatalf("store holds %d records, want the session and its subscription", st.Len())
	}
	time.Sleep(1100 * time.Millisecond)

	b = brokertest.Start(t, broker.Options{Store: st.Reopen()})
	if _, ack := connect5(t, b.Addr, "brief", false, withExpiry(1)); ack.SessionPresent {
		t.Fatal("a session expired while the broker was down came back")
	}
	if n := b.Server.Stats().SessionsExpired; n != 1 {
		t.Errorf("SessionsExpired = %d, want 1", n)
	}
}

// A record the broker cannot read stops Open with ErrStoreDamaged rather
// than serving without it.
func TestStoreDamagedRecordRefused(t *testing.T) {
	t.Parallel()
	st := new(store.Memory)
	st.Write([][]byte{[]byte("s\x00victim")}, [][]byte{{1, 2, 3}}, true, nil)
	_, err := broker.Open(broker.Options{Store: st})
	if !errors.Is(err, broker.ErrStoreDamaged) {
		t.Fatalf("Open = %v, want ErrStoreDamaged", err)
	}
}

// Messages queued for an offline persistent session, and one in flight to
// it, outlive a restart: the client gets them all on resuming, in order,
// the one in flight again with DUP. A message held by two sessions is
// stored once and removed with its last holder.
func TestStoreKeepsQueuedAndInflight(t *testing.T) {
	t.Parallel()
	st := new(store.Memory)
	b := brokertest.Start(t, broker.Options{Store: st})
	c := brokertest.Connect(t, b.Addr, packets.V311, "slow", false)
	subscribe(t, c, "w", 1)
	other := brokertest.Connect(t, b.Addr, packets.V311, "other", false)
	subscribe(t, other, "w", 1)
	other.Net.Close()
	pub := brokertest.Connect(t, b.Addr, packets.V311, "pub", true)
	publishQoS1(t, pub, "w", "in flight", 1)
	if p := expectPublish(t, c); string(p.Payload) != "in flight" {
		t.Fatalf("got %q", p.Payload)
	}
	c.Net.Close() // leaves without acknowledging
	waitFor(t, func() bool { return b.Server.Stats().ClientsConnected == 1 })
	for i, payload := range []string{"queued 1", "queued 2"} {
		publishQoS1(t, pub, "w", payload, uint16(2+i))
	}
	b.Stop()

	b = brokertest.Start(t, broker.Options{Store: st.Reopen()})
	c = brokertest.Dial(t, b.Addr, packets.V311)
	c.Send(&packets.Connect{ProtocolName: "MQTT", Version: packets.V311, KeepAlive: 60, ClientID: "slow"})
	if ack, ok := c.Expect().(*packets.Connack); !ok || !ack.SessionPresent {
		t.Fatalf("got %+v, want the session present", ack)
	}
	for i, want := range []string{"in flight", "queued 1", "queued 2"} {
		p := expectPublish(t, c)
		if string(p.Payload) != want || p.Dup != (i == 0) {
			t.Fatalf("message %d: got %q (dup %v), want %q", i, p.Payload, p.Dup, want)
		}
		c.Send(&packets.Ack{Kind: packets.TypePuback, PacketID: p.PacketID})
	}
	expectNothing(t, c)

	// "other" still holds all three; once it has them too, nothing is left
	// but the two sessions and their subscriptions.
	other = brokertest.Dial(t, b.Addr, packets.V311)
	other.Send(&packets.Connect{ProtocolName: "MQTT", Version: packets.V311, KeepAlive: 60, ClientID: "other"})
	other.Expect()
	for range 3 {
		p := expectPublish(t, other)
		other.Send(&packets.Ack{Kind: packets.TypePuback, PacketID: p.PacketID})
	}
	other.Send(&packets.Pingreq{})
	other.Expect()
	c.Send(&packets.Pingreq{})
	c.Expect()
	if n := st.Len(); n != 4 {
		t.Fatalf("store holds %d records, want 4 (two sessions, two subscriptions)", n)
	}
}

// A QoS 2 message received and not yet released outlives a restart: the
// client's resent PUBLISH is acknowledged but not delivered twice, and its
// PUBREL completes the flow.
func TestStoreKeepsQoS2ReceiverState(t *testing.T) {
	t.Parallel()
	st := new(store.Memory)
	b := brokertest.Start(t, broker.Options{Store: st})
	sub := brokertest.Connect(t, b.Addr, packets.V311, "sub", true)
	subscribe(t, sub, "x", 2)
	pub := brokertest.Connect(t, b.Addr, packets.V311, "pub2", false)
	pub.Send(&packets.Publish{Topic: "x", QoS: 2, PacketID: 9, Payload: []byte("once")})
	expectAck(t, pub, packets.TypePubrec, 9)
	if p := expectPublish(t, sub); string(p.Payload) != "once" {
		t.Fatalf("got %q", p.Payload)
	}
	pub.Net.Close()
	b.Stop()

	b = brokertest.Start(t, broker.Options{Store: st.Reopen()})
	sub = brokertest.Connect(t, b.Addr, packets.V311, "sub", true)
	subscribe(t, sub, "x", 2)
	pub = brokertest.Dial(t, b.Addr, packets.V311)
	pub.Send(&packets.Connect{ProtocolName: "MQTT", Version: packets.V311, KeepAlive: 60, ClientID: "pub2"})
	pub.Expect()
	pub.Send(&packets.Publish{Topic: "x", QoS: 2, PacketID: 9, Dup: true, Payload: []byte("once")})
	expectAck(t, pub, packets.TypePubrec, 9)
	pub.Send(&packets.Ack{Kind: packets.TypePubrel, PacketID: 9})
	expectAck(t, pub, packets.TypePubcomp, 9)
	expectNothing(t, sub)
}

// heldStore is a Store whose syncs wait until the test lets them through,
// or fail.
type heldStore struct {
	store.Memory
	gate chan struct{} // a receive lets one sync complete
	fail atomic.Bool
}

func (s *heldStore) Write(keys, values [][]byte, sync bool, done func(error)) {
	if !sync {
		s.Memory.Write(keys, values, false, done)
		return
	}
	go func() {
		<-s.gate
		if s.fail.Load() {
			done(errors.New("disk full"))
			return
		}
		s.Memory.Write(keys, values, true, done)
	}()
}

// With a Store, the acknowledgement of a PUBLISH leaves only once the
// store has made it durable; a store that fails gets the MQTT 5 publisher
// 0x80 and the 3.1.1 publisher no acknowledgement, while QoS 0 messages
// still flow.
func TestStoreAcknowledgesAfterSync(t *testing.T) {
	t.Parallel()
	st := &heldStore{gate: make(chan struct{})}
	b := brokertest.Start(t, broker.Options{Store: st})
	sub := brokertest.Connect(t, b.Addr, packets.V311, "sub", true)
	subscribe(t, sub, "a", 1)
	pub, _ := connect5(t, b.Addr, "pub", true, nil)
	pub.Send(publish5("a", 1, 1, "m", 0))
	expectPublish(t, sub) // delivered at once
	expectNothing(t, pub) // acknowledged only after the sync
	st.gate <- struct{}{}
	if a, ok := pub.Expect().(*packets.Ack); !ok || a.PacketID != 1 || a.ReasonCode != packets.Success {
		t.Fatalf("got %+v, want PUBACK 1", a)
	}

	st.fail.Store(true)
	pub.Send(publish5("a", 1, 2, "m", 0))
	st.gate <- struct{}{}
	if a, ok := pub.Expect().(*packets.Ack); !ok || a.PacketID != 2 || a.ReasonCode != packets.UnspecifiedError {
		t.Fatalf("got %+v, want PUBACK 2 with 0x80", a)
	}
	old := brokertest.Connect(t, b.Addr, packets.V311, "old", true)
	old.Send(&packets.Publish{Topic: "a", QoS: 1, PacketID: 3, Payload: []byte("m")})
	st.gate <- struct{}{}
	expectNothing(t, old)
	old.Send(&packets.Publish{Topic: "a", Payload: []byte("qos 0 still flows")})
	for {
		if p := expectPublish(t, sub); string(p.Payload) == "qos 0 still flows" {
			break
		}
	}
}

// An MQTT 5 will waiting for its delay outlives a restart and is published
// when the delay ends.
func TestStoreKeepsDelayedWill(t *testing.T) {
	t.Parallel()
	st := new(store.Memory)
	b := brokertest.Start(t, broker.Options{Store: st})
	c := brokertest.Dial(t, b.Addr, packets.V5)
	conn := &packets.Connect{ProtocolName: "MQTT", Version: packets.V5, CleanStart: true, KeepAlive: 60, ClientID: "w",
		Will: &packets.Will{Topic: "will/w", Payload: []byte("gone")}}
	conn.Properties.SessionExpiry = 60
	conn.Properties.Set(packets.PropSessionExpiry)
	conn.Will.Properties.WillDelay = 1
	conn.Will.Properties.Set(packets.PropWillDelay)
	c.Send(conn)
	c.Expect()
	c.Net.Close() // no DISCONNECT: the will is due after its delay
	waitFor(t, func() bool { return b.Server.Stats().ClientsConnected == 0 })
	b.Stop()

	b = brokertest.Start(t, broker.Options{Store: st.Reopen()})
	sub := brokertest.Connect(t, b.Addr, packets.V311, "sub", true)
	subscribe(t, sub, "will/#", 0)
	if p := expectPublish(t, sub); string(p.Payload) != "gone" {
		t.Fatalf("got %q", p.Payload)
	}
}

// orderStore records, write by write, whether each synced and the kinds of
// its keys.
type orderStore struct {
	store.Memory
	mu     sync.Mutex
	writes []string // "sync" for a sync, else the kinds of the keys
}

func (s *orderStore) Write(keys, values [][]byte, sync bool, done func(error)) {
	s.mu.Lock()
	w := ""
	for _, k := range keys {
		w += string(k[0])
	}
	if sync {
		w = "sync"
	}
	s.writes = append(s.writes, w)
	s.mu.Unlock()
	s.Memory.Write(keys, values, sync, done)
}

// The acknowledgement's sync is asked for after the writes the routing of
// the message made, so that it covers them.
func TestStoreAcknowledgementSyncFollowsRouting(t *testing.T) {
	t.Parallel()
	st := new(orderStore)
	b := brokertest.Start(t, broker.Options{Store: st})
	c := brokertest.Connect(t, b.Addr, packets.V311, "away", false)
	subscribe(t, c, "o", 1)
	c.Net.Close()
	waitFor(t, func() bool { return b.Server.Stats().ClientsConnected == 0 })
	pub := brokertest.Connect(t, b.Addr, packets.V311, "pub", true)
	publishQoS1(t, pub, "o", "m", 1)
	st.mu.Lock()
	defer st.mu.Unlock()
	entry, ack := -1, -1
	for i, w := range st.writes {
		if strings.Contains(w, "q") && entry < 0 {
			entry = i
		}
		if w == "sync" {
			ack = i
		}
	}
	if entry < 0 || ack < entry {
		t.Fatalf("writes %q: the PUBACK's sync does not follow the queued entry", st.writes)
	}
}

// Restored counts what a restart found in the store: the persistent
// sessions, the retained messages and the messages queued toward those
// sessions (one for each session that holds one).
func TestStoreRestoredCounts(t *testing.T) {
	t.Parallel()
	st := new(store.Memory)
	b := brokertest.Start(t, broker.Options{Store: st})
	if got := b.Server.Restored(); got != (broker.Restored{}) {
		t.Fatalf("an empty store restored %+v", got)
	}
	for _, id := range []string{"one", "two"} {
		c := brokertest.Connect(t, b.Addr, packets.V311, id, false)
		subscribe(t, c, "w", 1)
		c.Net.Close()
	}
	waitFor(t, func() bool { return b.Server.Stats().ClientsConnected == 0 })
	pub := brokertest.Connect(t, b.Addr, packets.V311, "pub", true)
	for i, payload := range []string{"a", "b", "c"} {
		publishQoS1(t, pub, "w", payload, uint16(1+i))
	}
	pub.Send(&packets.Publish{Topic: "r/1", Retain: true, Payload: []byte("kept")})
	pub.Send(&packets.Publish{Topic: "r/2", Retain: true, Payload: []byte("kept")})
	pub.Send(&packets.Pingreq{})
	pub.Expect()
	b.Stop()

	b = brokertest.Start(t, broker.Options{Store: st.Reopen()})
	if got, want := b.Server.Restored(), (broker.Restored{Sessions: 2, Retained: 2, Queued: 6}); got != want {
		t.Fatalf("restored %+v, want %+v", got, want)
	}
}
