package broker_test

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/packets"
)

// BenchmarkFanIn measures messages through a real broker over loopback:
// 16 publishers send QoS 0 PUBLISH packets of 64 bytes to their own topics
// as fast as TCP lets them, and one subscriber to "fan/#" reads them all.
// It reports messages per second alongside ns/op (one op = one message).
func BenchmarkFanIn(b *testing.B) {
	for _, qos := range []byte{0, 1} {
		b.Run(fmt.Sprintf("qos=%d", qos), func(b *testing.B) { benchFanIn(b, 16, qos) })
	}
}

// BenchmarkTrace is BenchmarkFanIn at QoS 1 with a logger: "off" logs at
// the default level, where the packet trace is off and must cost nothing
// (the same ns/op and allocs/op as BenchmarkFanIn/qos=1); "on" writes the
// trace of every packet, as `midge broker -v` does, to io.Discard.
func BenchmarkTrace(b *testing.B) {
	for _, tc := range []struct {
		name  string
		level slog.Level
	}{{"off", slog.LevelInfo}, {"on", slog.LevelDebug}} {
		b.Run(tc.name, func(b *testing.B) {
			log := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: tc.level}))
			benchFanInWith(b, broker.Options{MaxQueued: broker.Unlimited, Logger: log}, 16, 1)
		})
	}
}

func benchFanIn(b *testing.B, publishers int, qos byte) {
	benchFanInWith(b, broker.Options{MaxQueued: broker.Unlimited}, publishers, qos)
}

func benchFanInWith(b *testing.B, opts broker.Options, publishers int, qos byte) {
	br := brokertest.Start(b, opts)
	sub := brokertest.Connect(b, br.Addr, packets.V311, "sink", true)
	sub.Send(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: "fan/#", QoS: qos}}})
	sub.Expect()

	perPublisher := b.N/publishers + 1
	total := perPublisher * publishers
	received := make(chan int, 1)
	go func() { received <- drain(sub.Net, total, qos) }()

	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < publishers; i++ {
		c := brokertest.Connect(b, br.Addr, packets.V311, fmt.Sprintf("pub%d", i), true)
		wg.Add(1)
		go func() {
			defer wg.Done()
			publishFlatOut(c.Net, fmt.Sprintf("fan/%d", i), perPublisher, qos)
		}()
	}
	wg.Wait()
	got := <-received
	elapsed := time.Since(start)
	b.StopTimer()
	if got != total {
		b.Fatalf("received %d of %d", got, total)
	}
	b.ReportMetric(float64(total)/elapsed.Seconds(), "msgs/s")
}

// publishFlatOut writes n PUBLISH packets in batches and, for QoS 1, reads
// the PUBACKs on the side (a window of 1000 unacknowledged messages).
func publishFlatOut(nc net.Conn, topic string, n int, qos byte) {
	w := bufio.NewWriterSize(nc, 32*1024)
	var acks chan struct{}
	if qos > 0 {
		acks = make(chan struct{}, 1000)
		go func() {
			r := packets.NewReader(nc, 4096)
			for i := 0; i < n; i++ {
				if _, _, err := r.ReadFrame(); err != nil {
					return
				}
				<-acks
			}
		}()
	}
	p := packets.Publish{Topic: topic, QoS: qos, Payload: make([]byte, 64)}
	var buf []byte
	for i := 0; i < n; i++ {
		if qos > 0 {
			acks <- struct{}{}
			p.PacketID = uint16(i%65535 + 1)
		}
		buf, _ = p.Encode(buf[:0], packets.V311)
		w.Write(buf)
		if qos > 0 && len(acks) == cap(acks) || i%64 == 63 {
			w.Flush()
		}
	}
	w.Flush()
}

// BenchmarkFanOut measures one publisher's QoS 0 messages of 64 bytes on
// one topic through a real broker over loopback to 8 MQTT 5 subscribers,
// with broker-assigned topic aliases off (no Topic Alias Maximum in their
// CONNECT) and on. One op is one message published; msgs/s counts
// deliveries, wire-B/msg the bytes the broker sent per delivery.
func BenchmarkFanOut(b *testing.B) {
	for _, aliases := range []bool{false, true} {
		b.Run(fmt.Sprintf("aliases=%v", aliases), func(b *testing.B) { benchFanOut(b, 8, aliases) })
	}
}

func benchFanOut(b *testing.B, subscribers int, aliases bool) {
	br := brokertest.Start(b, broker.Options{MaxQueued: broker.Unlimited})
	total := b.N
	received := make(chan int, subscribers)
	for i := 0; i < subscribers; i++ {
		sub := brokertest.Dial(b, br.Addr, packets.V5)
		connect := &packets.Connect{ProtocolName: "MQTT", Version: packets.V5, CleanStart: true, KeepAlive: 60, ClientID: fmt.Sprintf("sink%d", i)}
		if aliases {
			connect.Properties.TopicAliasMaximum = 10
			connect.Properties.Set(packets.PropTopicAliasMaximum)
		}
		sub.Send(connect)
		sub.Expect()
		sub.Send(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: "fan/#"}}})
		sub.Expect()
		go func() { received <- drain(sub.Net, total, 0) }()
	}
	pub := brokertest.Connect(b, br.Addr, packets.V311, "pub", true)
	sentBefore := br.Server.Stats().BytesSent

	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	publishFlatOut(pub.Net, "fan/sensors/room1/temperature", total, 0)
	got := 0
	for i := 0; i < subscribers; i++ {
		got += <-received
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if got != total*subscribers {
		b.Fatalf("received %d of %d", got, total*subscribers)
	}
	b.ReportMetric(float64(got)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(br.Server.Stats().BytesSent-sentBefore)/float64(got), "wire-B/msg")
}
