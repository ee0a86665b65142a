// Command bridge measures forwarding over one bridge, midge against
// Debian's mosquitto bridging the same way, and writes
// docs/benchmarks-bridges.md: medians and the ratio of midge to mosquitto.
//
// Run it from the repository root:
//
//	go run ./bench/bridge            # 3 runs of each scenario per broker
//	go run ./bench/bridge -reps 1 -n 20000
//
// Each run starts two brokers of one kind on 127.0.0.1, a remote and a
// local one whose configuration holds the same `connection` section for
// both kinds, and stops them by PID afterwards. The load comes from
// midge's client package in this process: publishers on the local broker,
// one subscriber on the remote.
//
// Scenarios: throughput at QoS 0 and QoS 1 (8 publishers, 64-byte
// payloads, timed from the first publish to the last message received),
// and the drain of a backlog: n QoS 1 messages published while the remote
// is down, timed from the first of them reaching the remote's subscriber
// to the last (the reconnection delay, which restart_timeout sets, is not
// counted).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/packets"
)

const publishers = 8

var payload = make([]byte, 64)

func main() {
	reps := flag.Int("reps", 3, "runs per scenario and broker")
	n := flag.Int("n", 100000, "messages per run")
	out := flag.String("o", "docs/benchmarks-bridges.md", "the report to write")
	flag.Parse()
	if err := run(*reps, *n, *out); err != nil {
		fmt.Fprintln(os.Stderr, "bridge:", err)
		os.Exit(1)
	}
}

// kind is a broker program: how to start it on a configuration file.
type kind struct {
	name string
	argv func(conf string) []string
}

func run(reps, n int, out string) error {
	tmp, err := os.MkdirTemp("", "midge-bridge-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	midge := filepath.Join(tmp, "midge")
	if b, err := exec.Command("go", "build", "-o", midge, "./cmd/midge").CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, b)
	}
	mosquitto, err := exec.LookPath("mosquitto")
	if err != nil {
		if mosquitto, err = exec.LookPath("/usr/sbin/mosquitto"); err != nil {
			return errors.New("mosquitto not found: install Debian's mosquitto")
		}
	}
	kinds := []kind{
		{"midge", func(conf string) []string { return []string{midge, "broker", "-c", conf} }},
		{"mosquitto", func(conf string) []string { return []string{mosquitto, "-c", conf} }},
	}
	scenarios := []struct {
		id, title string
		measure   func(k kind, dir string, n int) (rate float64, note string, err error)
	}{
		{"qos0", fmt.Sprintf("Forwarding, QoS 0: %d publishers on the local broker, 1 subscriber on the remote, %d messages", publishers, n),
			func(k kind, dir string, n int) (float64, string, error) { return throughput(k, dir, n, 0) }},
		{"qos1", fmt.Sprintf("Forwarding, QoS 1: %d publishers on the local broker, 1 subscriber on the remote, %d messages", publishers, n),
			func(k kind, dir string, n int) (float64, string, error) { return throughput(k, dir, n, 1) }},
		{"drain", fmt.Sprintf("Drain, QoS 1: %d messages queued while the remote was down, delivered after it returns", n), drain},
	}
	var doc strings.Builder
	fmt.Fprintf(&doc, "# Bridge benchmarks\n\nWritten by `go run ./bench/bridge -reps %d -n %d` on %s (%d CPUs, %s, %s).\n"+
		"Medians of %d runs per broker, brokers in alternation; the ratio is midge's median over mosquitto's.\n"+
		"This machine is shared: quote ratios, not absolute figures.\n\n"+
		"Both brokers run in memory (no persistence), with `max_queued_messages 0` and the same `connection` section:\n"+
		"`address`, `remote_clientid`, `cleansession false`, `restart_timeout 1`, `topic bench/# out QOS` (protocol 3.1.1,\n"+
		"`try_private true`). midge's `bridge_drain_rate` is 0 (no limit). The load is midge's client package, in the process\n"+
		"that runs the brokers: %d publishers on the local broker, one subscriber on the remote, 64-byte payloads.\n\n",
		reps, n, time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), runtime.GOOS+"/"+runtime.GOARCH, mosquittoVersion(mosquitto),
		reps, publishers)
	doc.WriteString("| scenario | midge (messages/s) | mosquitto (messages/s) | midge / mosquitto |\n| --- | --- | --- | --- |\n")
	for _, s := range scenarios {
		rates := map[string][]float64{}
		notes := map[string][]string{}
		for rep := range reps {
			for _, k := range kinds {
				dir, err := os.MkdirTemp(tmp, s.id)
				if err != nil {
					return err
				}
				rate, note, err := s.measure(k, dir, n)
				if err != nil {
					return fmt.Errorf("%s, %s, run %d: %w", s.id, k.name, rep+1, err)
				}
				fmt.Fprintf(os.Stderr, "bridge: %s, %s, run %d: %.0f messages/s %s\n", s.id, k.name, rep+1, rate, note)
				rates[k.name] = append(rates[k.name], rate)
				if note != "" {
					notes[k.name] = append(notes[k.name], note)
				}
			}
		}
		m, q := median(rates["midge"]), median(rates["mosquitto"])
		fmt.Fprintf(&doc, "| %s | %.0f%s | %.0f%s | %.2f |\n", s.title, m, noteText(notes["midge"]), q, noteText(notes["mosquitto"]), m/q)
	}
	doc.WriteString("\nQoS 0 rates count the messages that arrived; a bridge may drop QoS 0 when it falls behind, and the\n" +
		"parenthesis says how many were lost in each run. QoS 1 loses none.\n")
	return os.WriteFile(out, []byte(doc.String()), 0o644)
}

func noteText(notes []string) string {
	if len(notes) == 0 {
		return ""
	}
	return " (" + strings.Join(notes, "; ") + ")"
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

func mosquittoVersion(path string) string {
	b, _ := exec.Command("dpkg-query", "-W", "-f", "${Version}", "mosquitto").Output()
	if len(b) == 0 {
		return "mosquitto " + path
	}
	return "mosquitto " + string(b)
}

// broker is a running broker process.
type broker struct {
	addr string
	cmd  *exec.Cmd
	done chan struct{}
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startBroker writes a configuration for addr with extra lines and starts
// k on it, waiting until it accepts connections.
func startBroker(k kind, dir, name, addr, extra string) (*broker, error) {
	_, port, _ := net.SplitHostPort(addr)
	conf := filepath.Join(dir, name+".conf")
	text := "listener " + port + " 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n" + extra
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		return nil, err
	}
	log, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	argv := k.argv(conf)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	b := &broker{addr: addr, cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); log.Close(); close(b.done) }()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return b, nil
		}
		select {
		case <-b.done:
			text, _ := os.ReadFile(filepath.Join(dir, name+".log"))
			return nil, fmt.Errorf("%s exited at start: %s", k.name, text)
		default:
		}
		if time.Now().After(deadline) {
			b.stop()
			return nil, fmt.Errorf("%s did not accept within 10s", k.name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (b *broker) stop() {
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(10 * time.Second):
		b.cmd.Process.Kill()
		<-b.done
	}
}

func bridgeSection(remote string, qos int) string {
	return fmt.Sprintf("connection bench\naddress %s\nremote_clientid bench-bridge\ncleansession false\nrestart_timeout 1\ntopic bench/# out %d\n", remote, qos)
}

// receiver is the remote's subscriber: it counts messages on bench/data
// and notes when the first and the last of want arrived.
type receiver struct {
	c           *client.Client
	got, probes atomic.Int64
	want        int64
	first, last atomic.Int64 // unix nanoseconds
	all         chan struct{}
	once        sync.Once
}

func subscribe(addr string, qos byte, want int) (*receiver, error) {
	r := &receiver{want: int64(want), all: make(chan struct{})}
	var err error
	r.c, err = client.Dial(context.Background(), client.Options{Addr: addr, ClientID: "bench-sub", CleanStart: true,
		Version: packets.V311, OnMessage: func(p *packets.Publish) {
			if p.Topic != "bench/data" {
				r.probes.Add(1)
				return
			}
			now := time.Now().UnixNano()
			r.first.CompareAndSwap(0, now)
			r.last.Store(now)
			if r.got.Add(1) == r.want {
				r.once.Do(func() { close(r.all) })
			}
		}})
	if err != nil {
		return nil, err
	}
	if _, err := r.c.Subscribe(context.Background(), packets.Subscription{Filter: "bench/#", QoS: qos}); err != nil {
		r.c.Close()
		return nil, err
	}
	return r, nil
}

// waitQuiet waits until all messages arrived, or none arrived for quiet.
func (r *receiver) waitQuiet(quiet, limit time.Duration) {
	end := time.After(limit)
	for {
		before := r.got.Load()
		select {
		case <-r.all:
			return
		case <-end:
			return
		case <-time.After(quiet):
			if r.got.Load() == before {
				return
			}
		}
	}
}

// untilBridged publishes probes on local until the subscriber has one.
func untilBridged(pub *client.Client, r *receiver) error {
	for deadline := time.Now().Add(30 * time.Second); r.probes.Load() == 0; {
		if time.Now().After(deadline) {
			return errors.New("the bridge did not forward a probe within 30s")
		}
		pub.Publish(context.Background(), &packets.Publish{Topic: "bench/probe", Payload: payload})
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// publishAll sends n messages on bench/data from the publishers at qos.
func publishAll(clients []*client.Client, n int, qos byte) error {
	var wg sync.WaitGroup
	errs := make(chan error, len(clients))
	for i, c := range clients {
		count := n / len(clients)
		if i < n%len(clients) {
			count++
		}
		wg.Go(func() {
			for range count {
				if err := c.Publish(context.Background(), &packets.Publish{Topic: "bench/data", QoS: qos, Payload: payload}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func dialPublishers(addr string) ([]*client.Client, error) {
	var list []*client.Client
	for i := range publishers {
		c, err := client.Dial(context.Background(), client.Options{Addr: addr, ClientID: fmt.Sprintf("bench-pub-%d", i),
			CleanStart: true, Version: packets.V311})
		if err != nil {
			closeAll(list)
			return nil, err
		}
		list = append(list, c)
	}
	return list, nil
}

func closeAll(list []*client.Client) {
	for _, c := range list {
		c.Close()
	}
}

func throughput(k kind, dir string, n int, qos byte) (float64, string, error) {
	raddr, err := freeAddr()
	if err != nil {
		return 0, "", err
	}
	remote, err := startBroker(k, dir, "remote", raddr, "")
	if err != nil {
		return 0, "", err
	}
	defer remote.stop()
	laddr, err := freeAddr()
	if err != nil {
		return 0, "", err
	}
	local, err := startBroker(k, dir, "local", laddr, bridgeSection(raddr, int(qos)))
	if err != nil {
		return 0, "", err
	}
	defer local.stop()
	r, err := subscribe(raddr, qos, n)
	if err != nil {
		return 0, "", err
	}
	defer r.c.Close()
	pubs, err := dialPublishers(laddr)
	if err != nil {
		return 0, "", err
	}
	defer closeAll(pubs)
	if err := untilBridged(pubs[0], r); err != nil {
		return 0, "", err
	}
	start := time.Now()
	if err := publishAll(pubs, n, qos); err != nil {
		return 0, "", err
	}
	r.waitQuiet(2*time.Second, 2*time.Minute)
	got := r.got.Load()
	if got == 0 {
		return 0, "", errors.New("no message arrived")
	}
	elapsed := time.Duration(r.last.Load() - start.UnixNano())
	note := ""
	if got < int64(n) {
		if qos > 0 {
			return 0, "", fmt.Errorf("%d of %d QoS 1 messages arrived", got, n)
		}
		note = fmt.Sprintf("%.1f%% lost", 100*float64(int64(n)-got)/float64(n))
	}
	return float64(got) / elapsed.Seconds(), note, nil
}

func drain(k kind, dir string, n int) (float64, string, error) {
	raddr, err := freeAddr()
	if err != nil {
		return 0, "", err
	}
	laddr, err := freeAddr()
	if err != nil {
		return 0, "", err
	}
	// The local broker starts with its remote down: the bridge queues.
	local, err := startBroker(k, dir, "local", laddr, bridgeSection(raddr, 1))
	if err != nil {
		return 0, "", err
	}
	defer local.stop()
	pubs, err := dialPublishers(laddr)
	if err != nil {
		return 0, "", err
	}
	defer closeAll(pubs)
	// Let the bridge try once and fail, so that its local session exists
	// and takes the messages.
	time.Sleep(1500 * time.Millisecond)
	if err := publishAll(pubs, n, 1); err != nil {
		return 0, "", err
	}
	remote, err := startBroker(k, dir, "remote", raddr, "")
	if err != nil {
		return 0, "", err
	}
	defer remote.stop()
	r, err := subscribe(raddr, 1, n)
	if err != nil {
		return 0, "", err
	}
	defer r.c.Close()
	r.waitQuiet(10*time.Second, 3*time.Minute)
	if got := r.got.Load(); got < int64(n) {
		return 0, "", fmt.Errorf("%d of %d queued messages arrived", got, n)
	}
	elapsed := time.Duration(r.last.Load() - r.first.Load())
	return float64(n) / elapsed.Seconds(), "", nil
}
