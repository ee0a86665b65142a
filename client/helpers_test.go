package client_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/internal/mosquittotest"
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
		start:    func(t *testing.T) string { return mosquittotest.Start(t, "") },
		refusing: func(t *testing.T) string { return mosquittotest.Start(t, "allow_anonymous false") },
	},
}

// forEachBroker runs test as a subtest against every broker.
func forEachBroker(t *testing.T, test func(t *testing.T, b testBroker)) {
	for _, b := range brokers {
		t.Run(b.name, func(t *testing.T) { test(t, b) })
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
