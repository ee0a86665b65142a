package client_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/packets"
)

// waitTimeout bounds every wait in these tests.
const waitTimeout = 10 * time.Second

// TestMain fails the run if a client goroutine outlives the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaked := leakedGoroutines(); leaked != "" {
			fmt.Fprintf(os.Stderr, "leaked client goroutines:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// leakedGoroutines polls until no goroutine runs client code, and returns
// the stacks of those still running after a deadline.
func leakedGoroutines() string {
	deadline := time.Now().Add(5 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var leaked []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "midge/client.(*Client)") {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 || time.Now().After(deadline) {
			return strings.Join(leaked, "\n\n")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// testBroker is a broker the client tests run against.
type testBroker struct {
	name string
	// start runs a broker that admits anonymous clients; refusing one
	// that refuses them with "not authorised". Both return "host:port".
	start, refusing func(t *testing.T) string
}

// brokers are midge's own broker, in process, and Debian's mosquitto.
var brokers = []testBroker{
	{
		name:  "midge",
		start: func(t *testing.T) string { return brokertest.Start(t, broker.Options{}).Addr },
		refusing: func(t *testing.T) string {
			return brokertest.Start(t, broker.Options{Authenticator: broker.AnonymousOnly(false)}).Addr
		},
	},
	{
		name:     "mosquitto",
		start:    func(t *testing.T) string { return startMosquitto(t, "allow_anonymous true") },
		refusing: func(t *testing.T) string { return startMosquitto(t, "allow_anonymous false") },
	},
}

// forEachBroker runs test as a subtest against every broker.
func forEachBroker(t *testing.T, test func(t *testing.T, b testBroker)) {
	for _, b := range brokers {
		t.Run(b.name, func(t *testing.T) { test(t, b) })
	}
}

// mosquittoPath finds Debian's mosquitto. When it is missing the test is
// skipped, unless CI is set: there it must be installed.
func mosquittoPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"mosquitto", "/usr/sbin/mosquitto"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("mosquitto is not installed, and CI is set")
	}
	t.Skip("mosquitto is not installed")
	return ""
}

// startMosquitto runs mosquitto on a free loopback port with a config made
// of the listener line and extra, stops it when the test ends, and returns
// its address once it accepts connections.
func startMosquitto(t *testing.T, extra string) string {
	t.Helper()
	path := mosquittoPath(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)
	conf := filepath.Join(t.TempDir(), "mosquitto.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("listener %s 127.0.0.1\n%s\n", port, extra)), 0o600); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	cmd := exec.Command(path, "-c", conf)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("mosquitto log:\n%s", log.String())
		}
	})
	deadline := time.Now().Add(waitTimeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return addr
		}
		select {
		case <-exited:
			t.Fatalf("mosquitto exited: %s", log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto does not accept on %s: %v", addr, err)
		}
		time.Sleep(10 * time.Millisecond) // polling for the listener
	}
}

// dial connects a client and closes it when the test ends.
func dial(t *testing.T, opts client.Options) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c, err := client.Dial(ctx, opts)
	if err != nil {
		t.Fatalf("Dial %s: %v", opts.Addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// message is a copy of a received PUBLISH.
type message struct {
	Topic   string
	Payload string
	QoS     byte
	Retain  bool
	Dup     bool
}

// inbox collects the messages a client receives.
type inbox chan message

func newInbox() inbox { return make(inbox, 10000) }

// onMessage is an Options.OnMessage that copies each message into the inbox.
func (in inbox) onMessage(m *packets.Publish) {
	in <- message{Topic: m.Topic, Payload: string(m.Payload), QoS: m.QoS, Retain: m.Retain, Dup: m.Dup}
}

// next returns the next message, failing the test after waitTimeout.
func (in inbox) next(t *testing.T) message {
	t.Helper()
	select {
	case m := <-in:
		return m
	case <-time.After(waitTimeout):
		t.Fatal("no message within", waitTimeout)
		return message{}
	}
}

// subscriber connects a client that records what it receives on filter.
func subscriber(t *testing.T, addr, filter string, qos byte) inbox {
	t.Helper()
	in := newInbox()
	c := dial(t, client.Options{Addr: addr, CleanStart: true, ClientID: uniqueID("sub"), OnMessage: in.onMessage})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	codes, err := c.Subscribe(ctx, packets.Subscription{Filter: filter, QoS: qos})
	if err != nil || len(codes) != 1 || codes[0] != packets.ReasonCode(qos) {
		t.Fatalf("Subscribe(%s, %d) = %v, %v", filter, qos, codes, err)
	}
	return in
}

// idCounter numbers the client ids of this test binary.
var idCounter atomic.Int64

// uniqueID returns a client id unique within the test binary.
func uniqueID(role string) string {
	return fmt.Sprintf("%s-%d", role, idCounter.Add(1))
}

// syncBuffer is a bytes.Buffer safe for concurrent use, for logs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor polls cond until it holds, failing the test after waitTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling
	}
}
