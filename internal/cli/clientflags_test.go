package cli

import (
	"context"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/internal/mosquittotest"
)

// waitTimeout bounds every wait in these tests.
const waitTimeout = 10 * time.Second

// toolBroker is a broker the pub/sub tests run against.
type toolBroker struct {
	name string
	// start runs a broker that admits anonymous clients; refusing one
	// that refuses them with "not authorised".
	start, refusing func(t *testing.T) (host, port string)
}

func splitAddr(t *testing.T, addr string) (string, string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return host, port
}

// toolBrokers are midge's broker, in process, and Debian's mosquitto.
func toolBrokers() []toolBroker {
	return []toolBroker{
		{
			name: "midge",
			start: func(t *testing.T) (string, string) {
				return splitAddr(t, brokertest.Start(t, broker.Options{}).Addr)
			},
			refusing: func(t *testing.T) (string, string) {
				return splitAddr(t, brokertest.Start(t, broker.Options{Authenticator: broker.AnonymousOnly(false)}).Addr)
			},
		},
		{
			name:  "mosquitto",
			start: func(t *testing.T) (string, string) { return splitAddr(t, mosquittotest.Start(t, "")) },
			refusing: func(t *testing.T) (string, string) {
				return splitAddr(t, mosquittotest.Start(t, "allow_anonymous false"))
			},
		},
	}
}

// forEachBroker runs test as a subtest against every broker.
func forEachBroker(t *testing.T, test func(t *testing.T, b toolBroker)) {
	for _, b := range toolBrokers() {
		t.Run(b.name, func(t *testing.T) { test(t, b) })
	}
}

// result is what a tool run left behind.
type result struct {
	status      int
	stdout      string
	stderr      string
	interrupted bool
}

// run runs tool (Pub or Sub) in process with stdin and waits for it.
func run(t *testing.T, tool func(context.Context, []string, Stdio) int, stdin string, args ...string) result {
	t.Helper()
	return start(t, tool, stdin, args...).wait(t)
}

// running is a tool run in progress.
type running struct {
	stdout, stderr mosquittotest.SyncBuffer
	status         chan int
	cancel         context.CancelFunc
}

// start runs tool in the background; wait collects it.
func start(t *testing.T, tool func(context.Context, []string, Stdio) int, stdin string, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{status: make(chan int, 1), cancel: cancel}
	go func() {
		r.status <- tool(ctx, args, Stdio{In: strings.NewReader(stdin), Out: &r.stdout, Err: &r.stderr})
	}()
	t.Cleanup(func() {
		cancel()
		<-r.status // never leave a tool running past its test
	})
	return r
}

func (r *running) wait(t *testing.T) result {
	t.Helper()
	select {
	case status := <-r.status:
		r.status <- status // for the cleanup
		return result{status: status, stdout: r.stdout.String(), stderr: r.stderr.String()}
	case <-time.After(waitTimeout):
		t.Fatalf("tool still running after %v; stdout:\n%s\nstderr:\n%s", waitTimeout, r.stdout.String(), r.stderr.String())
		return result{}
	}
}

// startSub starts midge sub with -d (so the test can see the SUBACK) and
// waits until it has subscribed.
func startSub(t *testing.T, host, port string, args ...string) *running {
	t.Helper()
	r := start(t, Sub, "", append([]string{"-h", host, "-p", port, "-d"}, args...)...)
	mosquittotest.WaitFor(t, waitTimeout, "midge sub to subscribe", func() bool {
		select {
		case status := <-r.status:
			r.status <- status
			t.Fatalf("midge sub exited with %d: %s%s", status, r.stdout.String(), r.stderr.String())
		default:
		}
		return strings.Contains(r.stdout.String(), "Subscribed (mid:")
	})
	return r
}

// traceLine matches a line of -d's trace, which may follow a payload
// printed without a newline (-N).
var traceLine = regexp.MustCompile(`(Client \S+ (sending|received) |Subscribed \(mid: )[^\n]*\n`)

// messages drops -d's trace lines from a sub's stdout.
func messages(stdout string) string {
	return traceLine.ReplaceAllString(stdout, "")
}

// TestUsageErrors checks bad command lines exit with 1 and mosquitto's
// message.
func TestUsageErrors(t *testing.T) {
	hint := func(tool string) string { return "\n\nUse 'midge " + tool + " --help' to see usage.\n" }
	cases := []struct {
		tool   string
		args   string
		stderr string // exact, hint included
	}{
		{"pub", "-t a -m x -n", "Error: Only one type of message can be sent at once." + hint("pub")},
		{"pub", "-t a -m x -m y", "Error: Only one type of message can be sent at once." + hint("pub")},
		{"pub", "-t a -l -s", "Error: Only one type of message can be sent at once." + hint("pub")},
		{"pub", "-t a -f x -m y", "Error: Only one type of message can be sent at once." + hint("pub")},
		{"pub", "-t a/# -m x", "Error: Invalid publish topic 'a/#', does it contain '+' or '#'?" + hint("pub")},
		{"pub", "-t a -m x -q 3", "Error: Invalid QoS given: 3" + hint("pub")},
		{"pub", "-t a -m x -Z", "Error: Unknown option '-Z'." + hint("pub")},
		{"pub", "-t a -m x --bogus", "Error: Unknown option '--bogus'." + hint("pub")},
		{"pub", "-t a -m x extra", "Error: Unknown option 'extra'." + hint("pub")},
		{"pub", "-t a -m x -v", "Error: Unknown option '-v'." + hint("pub")},
		{"pub", "-t a -m x -k 2", "Error: Invalid keepalive given, it must be between 5 and 65535 inclusive." + hint("pub")},
		{"pub", "-t a -m x -k", "Error: -k argument given but no keepalive specified." + hint("pub")},
		{"pub", "-t a -m x --will-topic", "Error: --will-topic argument given but no will topic specified." + hint("pub")},
		{"pub", "-t a -m x -c", "Error: You must provide a client id if you are using the -c option." + hint("pub")},
		{"pub", "-t a -m x -c -I pre", "Error: You must provide a client id if you are using the -c option." + hint("pub")},
		{"pub", "-t a -m x -i a -I b", "Error: -i and -I argument cannot be used together." + hint("pub")},
		{"pub", "-t a -m x -V 7", "Error: Invalid protocol version argument given." + hint("pub")},
		{"pub", "-t a -m x -V mqttv5", "Error: MQTT v5 is not yet supported by midge pub; use mqttv311 or mqttv31." + hint("pub")},
		{"pub", "-t a -m x -p 70000", "Error: Invalid port given: 70000" + hint("pub")},
		{"pub", "-t a -m x --will-payload p", "Error: Will payload given, but no will topic given." + hint("pub")},
		{"pub", "-t a -m x --will-retain", "Error: Will retain given, but no will topic given." + hint("pub")},
		{"pub", "-t a -m x --will-topic w/+", "Error: Invalid will topic 'w/+', does it contain '+' or '#'?" + hint("pub")},
		{"pub", "-t a -m x --will-topic w --will-qos 3", "Error: Invalid will QoS 3." + hint("pub")},
		{"pub", "-t a -m x -M 0", "Error: Maximum inflight messages must be greater than 0." + hint("pub")},
		{"pub", "-t a -m x --repeat 0", "Error: --repeat argument must be >0." + hint("pub")},
		{"pub", "-t a -m x -P secret", "Error: Problem setting username and/or password.\n"},
		{"pub", "-m x", "Error: Both topic and message must be supplied.\n"},
		{"pub", "-t a", "Error: Both topic and message must be supplied.\n"},
		{"sub", "", "Error: You must specify a topic to subscribe to." + hint("sub")},
		{"sub", "-U a", "Error: You must specify a topic to subscribe to." + hint("sub")},
		{"sub", "-t a -C 0", "Error: Invalid message count \"0\"." + hint("sub")},
		{"sub", "-t a -W 0", "Error: Invalid timeout \"0\"." + hint("sub")},
		{"sub", "-t a -W x", "Error: Invalid timeout \"x\"." + hint("sub")},
		{"sub", "-t a/#/b", "Error: Invalid subscription topic 'a/#/b', are all '+' and '#' wildcards correct?" + hint("sub")},
		{"sub", "-t a -T b/#/x", "Error: Invalid filter topic 'b/#/x', are all '+' and '#' wildcards correct?" + hint("sub")},
		{"sub", "-t a -U b/#/x", "Error: Invalid unsubscribe topic 'b/#/x', are all '+' and '#' wildcards correct?" + hint("sub")},
		{"sub", "-t a -R --retained-only", "Error: Combining '-R' and '--retained-only' makes no sense.\n"},
		{"sub", "-t a -m x", "Error: Unknown option '-m'." + hint("sub")},
		{"sub", "-t a -r", "Error: Unknown option '-r'." + hint("sub")},
		{"sub", "-t a -c", "Error: You must provide a client id if you are using the -c option." + hint("sub")},
		{"sub", "-t a -q -1", "Error: Invalid QoS given: -1" + hint("sub")},
		{"sub", "-t", "Error: -t argument given but no topic specified." + hint("sub")},
	}
	for _, tc := range cases {
		t.Run(tc.tool+" "+tc.args, func(t *testing.T) {
			tool := Pub
			if tc.tool == "sub" {
				tool = Sub
			}
			r := run(t, tool, "", strings.Fields(tc.args)...)
			if r.status != 1 || r.stderr != tc.stderr {
				t.Errorf("status %d, stderr %q; want 1, %q", r.status, r.stderr, tc.stderr)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for name, tool := range map[string]func(context.Context, []string, Stdio) int{"pub": Pub, "sub": Sub} {
		r := run(t, tool, "", "--help")
		if r.status != 1 || !strings.Contains(r.stdout, "Usage: midge "+name) || r.stderr != "" {
			t.Errorf("%s --help: status %d, stdout %q, stderr %q", name, r.status, r.stdout, r.stderr)
		}
	}
	// Missing topic or message prints the usage too, like mosquitto_pub.
	if r := run(t, Pub, "", "-m", "x"); !strings.Contains(r.stdout, "Usage: midge pub") {
		t.Errorf("pub -m x: stdout %q", r.stdout)
	}
}
