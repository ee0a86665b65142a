package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/bench"
	"github.com/midge-mqtt/midge/internal/brokertest"
)

// benchJSON runs midge bench with --json against addr and decodes the
// result, failing the test unless it exits 0.
func benchJSON(t *testing.T, addr string, args ...string) bench.Result {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	args = append(args, "-h", host, "-p", port, "--json")
	if status := Bench(ctx, args, Stdio{In: strings.NewReader(""), Out: &out, Err: &errOut}); status != 0 {
		t.Fatalf("midge bench %v: status %d, stderr %q", args, status, errOut.String())
	}
	var res bench.Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("midge bench %v printed %q: %v", args, out.String(), err)
	}
	return res
}

// TestBenchRunEndToEnd runs publishers and subscribers through an
// in-process broker at every QoS and MQTT version: every message must
// arrive, and none twice at QoS 2.
func TestBenchRunEndToEnd(t *testing.T) {
	b := brokertest.Start(t, broker.Options{MaxQueued: broker.Unlimited})
	for _, version := range []string{"311", "5"} {
		for _, qos := range []string{"0", "1", "2"} {
			t.Run("v"+version+"/QoS"+qos, func(t *testing.T) {
				// Fan-in: 4 publishers to one wildcard subscriber, and a
				// second subscriber per publisher on its own topic.
				res := benchJSON(t, b.Addr, "run", "-V", version, "-q", qos, "-c", "4", "--subscribers", "1",
					"-t", "e2e/v"+version+"/q"+qos+"/%i", "--filter", "e2e/v"+version+"/q"+qos+"/+", "-C", "300", "-s", "32")
				if res.Sent != 1200 || res.Expected != 1200 {
					t.Fatalf("sent %d, expected %d; want 1200 and 1200", res.Sent, res.Expected)
				}
				if qos != "0" && (res.Received != res.Expected || res.Lost != 0) {
					t.Errorf("received %d of %d, lost %d", res.Received, res.Expected, res.Lost)
				}
				if qos == "2" && res.Duplicates != 0 {
					t.Errorf("%d duplicates at QoS 2", res.Duplicates)
				}
				if qos != "0" && res.Acked != res.Sent {
					t.Errorf("acknowledged %d of %d", res.Acked, res.Sent)
				}
				if res.Errors != 0 || res.Latency == nil || res.Latency.Count != res.Received {
					t.Errorf("errors %d (%s), latency %+v", res.Errors, res.FirstError, res.Latency)
				}
			})
		}
	}
}

// TestBenchFanOutAndPairs checks the expected counts of the other shapes:
// one publisher to many subscribers, and pairs on their own topics.
func TestBenchFanOutAndPairs(t *testing.T) {
	b := brokertest.Start(t, broker.Options{MaxQueued: broker.Unlimited})
	res := benchJSON(t, b.Addr, "run", "-q", "1", "-c", "1", "--subscribers", "8", "-t", "fanout", "-C", "100")
	if res.Expected != 800 || res.Received != 800 || res.Lost != 0 {
		t.Errorf("fan-out: expected %d, received %d, lost %d", res.Expected, res.Received, res.Lost)
	}
	res = benchJSON(t, b.Addr, "run", "-q", "1", "-c", "10", "--subscribers", "10", "-t", "pair/%i", "-C", "50")
	if res.Expected != 500 || res.Received != 500 || res.Lost != 0 || res.OutOfOrder != 0 {
		t.Errorf("pairs: expected %d, received %d, lost %d, out of order %d", res.Expected, res.Received, res.Lost, res.OutOfOrder)
	}
}

// TestBenchRate paces one publisher and measures its latency.
func TestBenchRate(t *testing.T) {
	b := brokertest.Start(t, broker.Options{})
	res := benchJSON(t, b.Addr, "run", "-q", "1", "-R", "200", "-d", "0.5s", "-t", "paced")
	if res.Sent < 80 || res.Sent > 120 {
		t.Errorf("at 200/s for 0.5 s: sent %d, want about 100", res.Sent)
	}
	if res.Lost != 0 || res.Latency == nil || res.Latency.P50 <= 0 || res.Latency.P50 > res.Latency.Max {
		t.Errorf("lost %d, latency %+v", res.Lost, res.Latency)
	}
}

// TestBenchPubThenSub runs the two halves separately, as two generators
// would: sub counts what pub sent.
func TestBenchPubThenSub(t *testing.T) {
	b := brokertest.Start(t, broker.Options{MaxQueued: broker.Unlimited})
	host, port, _ := net.SplitHostPort(b.Addr)
	done := make(chan bench.Result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var out bytes.Buffer
		Bench(ctx, []string{"sub", "-h", host, "-p", port, "-t", "halves/#", "-q", "1", "-C", "400", "--json"}, Stdio{Out: &out, Err: &out})
		var res bench.Result
		json.Unmarshal(out.Bytes(), &res)
		done <- res
	}()
	// Wait until the subscription exists before publishing.
	deadline := time.Now().Add(5 * time.Second)
	for b.Server.Stats().Subscriptions == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	pub := benchJSON(t, b.Addr, "pub", "-c", "2", "-t", "halves/%i", "-q", "1", "-C", "200")
	if pub.Sent != 400 || pub.Acked != 400 {
		t.Fatalf("pub sent %d, acknowledged %d", pub.Sent, pub.Acked)
	}
	sub := <-done
	if sub.Received != 400 || sub.Lost != 0 || sub.Duplicates != 0 {
		t.Errorf("sub received %d, lost %d, duplicates %d", sub.Received, sub.Lost, sub.Duplicates)
	}
}

// TestBenchConnAndRetained covers the two other modes with small counts.
func TestBenchConnAndRetained(t *testing.T) {
	b := brokertest.Start(t, broker.Options{MaxQueued: broker.Unlimited})
	res := benchJSON(t, b.Addr, "conn", "-c", "50", "-d", "0.2s", "--per-source", "20")
	c := res.Connections
	if c == nil || c.Connected != 50 || c.Failed != 0 || c.Dropped != 0 {
		t.Fatalf("conn: %+v (%s)", c, res.FirstError)
	}
	if isLinux() && len(c.Sources) != 3 {
		t.Errorf("50 clients at 20 per source used %v, want 3 addresses", c.Sources)
	}
	res = benchJSON(t, b.Addr, "retained", "-C", "500", "-t", "kept/%i")
	r := res.Retained
	if r == nil || r.Stored != 500 || r.Delivered != 500 || res.Lost != 0 || r.Filter != "kept/#" {
		t.Fatalf("retained: %+v, lost %d (%s)", r, res.Lost, res.FirstError)
	}
	// The run cleared them: a second subscriber finds none.
	if n := b.Server.Stats().Retained; n != 0 {
		t.Errorf("%d retained messages left after the run", n)
	}
}

func TestBenchUsage(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		status int
		errOut string
	}{
		{[]string{"--help"}, 0, ""},
		{[]string{"run", "--help"}, 0, ""},
		{[]string{"nonsense"}, 1, `unknown bench mode "nonsense"`},
		{[]string{"run", "-s", "8"}, 1, "at least 16 bytes"},
		{[]string{"run", "-q", "3"}, 1, "invalid QoS 3"},
		{[]string{"run", "-V", "4"}, 1, "invalid protocol version"},
		{[]string{"run", "-d", "soon"}, 1, "invalid duration"},
		{[]string{"retained", "-t", "no/index"}, 1, "needs %i"},
		{[]string{"run", "--cert", "x.pem"}, 1, "--cert and --key go together"},
	} {
		var out, errOut bytes.Buffer
		status := Bench(context.Background(), tc.args, Stdio{Out: &out, Err: &errOut})
		if status != tc.status || !strings.Contains(errOut.String(), tc.errOut) {
			t.Errorf("midge bench %v: status %d, stderr %q; want %d and %q", tc.args, status, errOut.String(), tc.status, tc.errOut)
		}
		if tc.status == 0 && !strings.Contains(out.String(), "Usage: midge bench") {
			t.Errorf("midge bench %v printed no usage", tc.args)
		}
	}
}

func isLinux() bool { return runtime.GOOS == "linux" }
