package broker

import (
	"fmt"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/store"
	"github.com/midge-mqtt/midge/packets"
)

// BenchmarkRestart measures Open over a store on disk holding 1,000,000
// retained messages (topic about 30 bytes, payload 64) and 10,000
// persistent sessions with 5 subscriptions each: the restart time the
// persistence issue asks for. Building the store takes a while; run it
// with -benchtime 3x.
func BenchmarkRestart(b *testing.B) {
	const retained, sessions, subs = 1_000_000, 10_000, 5
	dir := b.TempDir()
	st, err := store.OpenDisk(dir, store.DiskOptions{})
	if err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, 64)
	const batch = 10_000
	keys, values := make([][]byte, 0, batch), make([][]byte, 0, batch)
	flush := func() {
		st.Write(keys, values, false, nil)
		keys, values = make([][]byte, 0, batch), make([][]byte, 0, batch)
	}
	for i := range retained {
		m := newMessage(&packets.Publish{Topic: fmt.Sprintf("site/%03d/sensor/%06d/value", i%1000, i), Retain: true, Payload: payload}, packets.V311, systemClock{})
		keys, values = append(keys, storeKey(kindRetained, m.Topic)), append(values, encodeMessage(m))
		if len(keys) == batch {
			flush()
		}
	}
	for i := range sessions {
		id := fmt.Sprintf("client-%05d", i)
		ss := newSession(id, neverExpires, "", false)
		keys, values = append(keys, storeKey(kindSession, id)), append(values, encodeSession(ss))
		for j := range subs {
			sub := packets.Subscription{Filter: fmt.Sprintf("site/%03d/sensor/+/value%d", i%1000, j), QoS: 1}
			keys, values = append(keys, storeKey(kindSubscription, id, sub.Filter)), append(values, encodeSubscription(&sub, nil))
		}
		if len(keys) >= batch {
			flush()
		}
	}
	flush()
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		st, err := store.OpenDisk(dir, store.DiskOptions{})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		s, err := Open(Options{Store: st})
		if err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(start)
		if s.retained.count() != retained || len(s.sessions.m) != sessions {
			b.Fatalf("restored %d retained, %d sessions", s.retained.count(), len(s.sessions.m))
		}
		b.ReportMetric(elapsed.Seconds(), "s/restart")
		b.StopTimer()
		st.Close()
		b.StartTimer()
	}
}
