package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/packets"
)

// Damage a compaction finds under a running broker (issue 12, item 10)
// stops persistence, not the broker: an MQTT 5 publisher's QoS 1 message
// is answered with 0x80, its connection stays, and QoS 0 still flows.
func TestBrokerOverDamageFoundWhileRunning(t *testing.T) {
	dir := t.TempDir()
	failed := make(chan error, 4)
	d := openDisk(t, dir, DiskOptions{tune: noCompactions, Failed: func(err error) { failed <- err }})
	t.Cleanup(func() { d.Close() }) // after the broker stops
	b := brokertest.Start(t, broker.Options{Store: d})
	pub := brokertest.Connect(t, b.Addr, packets.V5, "pub", true)
	payload := make([]byte, 1024)
	rand.Read(payload) // incompressible
	id := uint16(0)
	publish := func(topic string) *packets.Ack {
		id++
		pub.Send(&packets.Publish{Topic: topic, QoS: 1, Retain: true, PacketID: id, Payload: payload})
		a, ok := pub.Expect().(*packets.Ack)
		if !ok || a.PacketID != id {
			t.Fatalf("PUBLISH %d: got %+v", id, a)
		}
		return a
	}
	for round := range 2 { // two tables the broker wrote, and never read
		for i := range 100 {
			if a := publish(fmt.Sprintf("damage/%d/%d", round, i)); a.ReasonCode >= 0x80 {
				t.Fatalf("before the damage: PUBACK %v", a.ReasonCode)
			}
		}
		if err := d.db.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	damageTable(t, dir)
	if err := d.db.Compact(context.Background(), []byte{0}, []byte{0xff}, false); err == nil {
		t.Fatal("compacting a damaged table: no error")
	}
	select {
	case err := <-failed:
		if !errors.Is(err, ErrDamaged) {
			t.Fatalf("reported %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no failure reported")
	}
	if a := publish("damage/after"); a.ReasonCode != packets.UnspecifiedError {
		t.Fatalf("after the damage: PUBACK %v, want 0x80", a.ReasonCode)
	}
	sub := brokertest.Connect(t, b.Addr, packets.V311, "sub", true)
	sub.Send(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: "zero"}}})
	sub.Expect()
	pub.Send(&packets.Publish{Topic: "zero", Payload: []byte("still flowing")})
	if p, ok := sub.Expect().(*packets.Publish); !ok || string(p.Payload) != "still flowing" {
		t.Fatalf("QoS 0 after the damage: %+v", p)
	}
	pub.Send(&packets.Pingreq{})
	if _, ok := pub.Expect().(*packets.Pingresp); !ok {
		t.Fatal("the publisher's connection did not stay")
	}
}
