// Command clusterprobe measures, on this machine, what the clustering
// design (docs/clustering.md) rests on: three nats-server nodes embedded
// in one process, routed over loopback, with JetStream. It reports the
// latency of a replicated stream publish acknowledged by a quorum, the
// rate of publishes with a window in flight, and the latency of a
// replicated key-value put and get: the costs of keeping sessions, QoS 1/2
// messages and the client id registry in JetStream.
//
//	go run ./bench/clusterprobe [-n 2000] [-replicas 3] [-memory] [-sync]
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func main() {
	n := flag.Int("n", 2000, "operations per measure")
	replicas := flag.Int("replicas", 3, "stream and bucket replicas")
	memory := flag.Bool("memory", false, "memory storage instead of file")
	syncAlways := flag.Bool("sync", false, "file storage syncs every write (sync_interval always)")
	flag.Parse()
	if err := run(*n, *replicas, *memory, *syncAlways); err != nil {
		fmt.Fprintln(os.Stderr, "clusterprobe:", err)
		os.Exit(1)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func run(n, replicas int, memory, syncAlways bool) error {
	dir, err := os.MkdirTemp("", "clusterprobe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var ports []int
	for range 3 {
		p, err := freePort()
		if err != nil {
			return err
		}
		ports = append(ports, p)
	}
	routes := ""
	for i, p := range ports {
		if i > 0 {
			routes += ","
		}
		routes += "nats://127.0.0.1:" + strconv.Itoa(p)
	}
	var nodes []*server.Server
	for i, p := range ports {
		o := &server.Options{ServerName: fmt.Sprintf("n%d", i+1), Host: "127.0.0.1", Port: -1, JetStream: true,
			StoreDir: filepath.Join(dir, fmt.Sprintf("n%d", i+1)), NoSigs: true, SyncAlways: syncAlways}
		o.Cluster.Name, o.Cluster.Host, o.Cluster.Port = "probe", "127.0.0.1", p
		o.Routes = server.RoutesFromStr(routes)
		s, err := server.NewServer(o)
		if err != nil {
			return err
		}
		s.Start()
		nodes = append(nodes, s)
	}
	defer func() {
		done := make(chan struct{})
		go func() {
			for _, s := range nodes {
				go s.Shutdown()
			}
			for _, s := range nodes {
				s.WaitForShutdown()
			}
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			fmt.Fprintln(os.Stderr, "clusterprobe: the nodes did not shut down within 10s")
		}
	}()
	for _, s := range nodes {
		if !s.ReadyForConnections(10 * time.Second) {
			return fmt.Errorf("node %s not ready", s.Name())
		}
	}
	nc, err := nats.Connect("", nats.InProcessServer(nodes[0]))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	storage := jetstream.FileStorage
	if memory {
		storage = jetstream.MemoryStorage
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = js.CreateStream(cctx, jetstream.StreamConfig{Name: "probe", Subjects: []string{"probe.>"},
			Replicas: replicas, Storage: storage})
		ccancel()
		if err != nil {
			fmt.Fprintln(os.Stderr, "clusterprobe: create stream (the meta leader may not be elected yet):", err)
		}
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond) // the meta leader is being elected
	}
	if err != nil {
		return fmt.Errorf("create stream: %w", err)
	}
	payload := make([]byte, 64)
	lat := make([]time.Duration, 0, n)
	for i := range n {
		t0 := time.Now()
		if _, err := js.Publish(ctx, "probe.s."+strconv.Itoa(i%100), payload); err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		lat = append(lat, time.Since(t0))
	}
	report("stream publish, acked by a quorum, one at a time", lat)

	t0 := time.Now()
	for range n {
		if _, err := js.PublishAsync("probe.a", payload, jetstream.WithStallWait(time.Minute)); err != nil {
			return err
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		return fmt.Errorf("async publishes not acknowledged within a minute")
	}
	fmt.Printf("%-55s %8.0f messages/s\n", "stream publish, async window", float64(n)/time.Since(t0).Seconds())

	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "clients", Replicas: replicas, Storage: storage})
	if err != nil {
		return fmt.Errorf("create bucket: %w", err)
	}
	lat = lat[:0]
	for i := range n {
		t0 := time.Now()
		if _, err := kv.Put(ctx, "c"+strconv.Itoa(i%500), payload); err != nil {
			return fmt.Errorf("kv put: %w", err)
		}
		lat = append(lat, time.Since(t0))
	}
	report("kv put", lat)
	lat = lat[:0]
	for i := range n {
		t0 := time.Now()
		if _, err := kv.Get(ctx, "c"+strconv.Itoa(i%500)); err != nil {
			return fmt.Errorf("kv get: %w", err)
		}
		lat = append(lat, time.Since(t0))
	}
	report("kv get", lat)
	return nil
}

func report(what string, lat []time.Duration) {
	slices.Sort(lat)
	q := func(f float64) time.Duration { return lat[int(f*float64(len(lat)-1))] }
	fmt.Printf("%-55s p50 %8v  p99 %8v  (%d)\n", what, q(0.5).Round(time.Microsecond), q(0.99).Round(time.Microsecond), len(lat))
}
