package bench_test

import (
	"context"
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/bench"
	"github.com/midge-mqtt/midge/internal/brokertest"
)

// BenchmarkInProcessBroker runs the comparison's message scenarios, at a
// smaller size, against an in-process midge broker, so that one profile
// shows the broker and the generator together:
//
//	go test ./internal/bench -run '^$' -bench InProcessBroker/fanin-q1 -cpuprofile cpu.out
//	go tool pprof -top -focus 'midge/(broker|topic|packets)' cpu.out
//
// The broker's queues are unlimited here, so nothing is dropped.
func BenchmarkInProcessBroker(b *testing.B) {
	for _, tc := range []struct {
		name string
		cfg  bench.Config
	}{
		{"fanin-q0", bench.Config{Clients: 64, Subscribers: 1, Topic: "fanin/%i", Filter: "fanin/+", QoS: 0, Count: 500}},
		{"fanin-q1", bench.Config{Clients: 64, Subscribers: 1, Topic: "fanin/%i", Filter: "fanin/+", QoS: 1, Count: 500}},
		{"fanin-q2", bench.Config{Clients: 64, Subscribers: 1, Topic: "fanin/%i", Filter: "fanin/+", QoS: 2, Count: 250}},
		{"fanout-q0", bench.Config{Clients: 1, Subscribers: 256, Topic: "fanout", QoS: 0, Count: 200}},
		{"fanout-q1", bench.Config{Clients: 1, Subscribers: 256, Topic: "fanout", QoS: 1, Count: 100}},
		{"pairs-q1", bench.Config{Clients: 100, Subscribers: 100, Topic: "pair/%i", QoS: 1, Count: 300}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			server := brokertest.Start(b, broker.Options{MaxQueued: broker.Unlimited})
			cfg := tc.cfg
			cfg.Mode, cfg.Addr = bench.ModeRun, server.Addr
			var received uint64
			var seconds float64
			b.ReportAllocs()
			for b.Loop() {
				res, err := bench.Run(context.Background(), cfg)
				if err != nil {
					b.Fatal(err)
				}
				if res.Lost != 0 || res.Errors != 0 {
					b.Fatalf("lost %d, errors %d (%s)", res.Lost, res.Errors, res.FirstError)
				}
				received += res.Received
				seconds += res.ElapsedSeconds
			}
			b.ReportMetric(float64(received)/seconds, "msgs/s")
		})
	}
}
