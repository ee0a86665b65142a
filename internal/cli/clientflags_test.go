package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"net"
	"path/filepath"
	"regexp"
	"slices"
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
	status int
	stdout string
	stderr string
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

// tools are the subcommands by name.
var tools = map[string]func(context.Context, []string, Stdio) int{"pub": Pub, "sub": Sub, "rr": RR}

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
		{"pub", "-t a -m x -p 70000", "Error: Invalid port given: 70000" + hint("pub")},
		{"pub", "-t a -m x --will-payload p", "Error: Will payload given, but no will topic given." + hint("pub")},
		{"pub", "-t a -m x --will-retain", "Error: Will retain given, but no will topic given." + hint("pub")},
		{"pub", "-t a -m x --will-topic w/+", "Error: Invalid will topic 'w/+', does it contain '+' or '#'?" + hint("pub")},
		{"pub", "-t a -m x --will-topic w --will-qos 3", "Error: Invalid will QoS 3." + hint("pub")},
		{"pub", "-t a -m x -M 0", "Error: Maximum inflight messages must be greater than 0." + hint("pub")},
		{"pub", "-t a -m x --repeat 0", "Error: --repeat argument must be >0." + hint("pub")},
		{"pub", "-t a -m x -P secret", "Error: Problem setting username and/or password.\nError: -P needs -u: MQTT 3.1 and 3.1.1 send a password only with a user name (-V 5 sends one alone).\n"},
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
		{"pub", "-t a -m x --cert c.crt", "Error: Both certfile and keyfile must be provided if one of them is set." + hint("pub")},
		{"sub", "-t a --cafile ca.crt --key c.key", "Error: Both certfile and keyfile must be provided if one of them is set." + hint("sub")},
		{"pub", "-t a -m x --cafile", "Error: --cafile argument given but no file specified." + hint("pub")},
		{"pub", "-t a -m x --capath", "Error: --capath argument given but no directory specified." + hint("pub")},
		{"sub", "-t a --cert", "Error: --cert argument given but no file specified." + hint("sub")},
		{"sub", "-t a --tls-version", "Error: --tls-version argument given but no version specified." + hint("sub")},
		// Found when connecting, after every other check, as mosquitto_pub does.
		{"pub", "-t a -m x --cafile /nonexistent/ca.crt", "Error: Problem setting TLS options: File not found.\n"},
		{"sub", "-t a --cafile /nonexistent/ca.crt", "Error: Problem setting TLS options: File not found.\n"},
		{"pub", "-t a -m x --cafile /nonexistent/ca.crt --tls-version tlsv1.0", "Error: Problem setting TLS options: File not found.\n"},
		{"pub", "-t a -m x --tls-version tlsv1.0", "Error: Problem setting TLS options, check the options are valid.\n"},
		// MQTT 5: -D, -x, --scram.
		{"pub", "-t a -m x -D connect foo 1", "Error: Invalid property name given in --property argument." + hint("pub")},
		{"pub", "-t a -m x -D bogus content-type 1", "Error: Invalid command given in --property argument." + hint("pub")},
		{"pub", "-t a -m x -D publish receive-maximum 1", "Error: receive-maximum property not allowed for publish in --property argument." + hint("pub")},
		{"pub", "-t a -m x -D Publish Will-Delay-Interval 1", "Error: Will-Delay-Interval property not allowed for Publish in --property argument." + hint("pub")},
		{"pub", "-t a -m x -D publish subscription-identifier 1", "Error: subscription-identifier property not supported for publish in --property argument." + hint("pub")},
		{"pub", "-t a -m x -D auth authentication-method x", "Error: authentication-method property not supported for auth in --property argument." + hint("pub")},
		{"pub", "-t a -m x -D puback reason-string x", "Error: reason-string property not supported for puback in --property argument." + hint("pub")},
		{"pub", "-t a -m x -D publish user-property a", "Error: --property argument given but not enough arguments specified." + hint("pub")},
		{"pub", "-t a -m x -D publish", "Error: --property argument given but not enough arguments specified." + hint("pub")},
		{"pub", "-t a -m x -D publish message-expiry-interval -1", "Error: Property value (-1) out of range for property message-expiry-interval." + hint("pub")},
		{"pub", "-t a -m x -D publish payload-format-indicator 300", "Error: Property value (300) out of range for property payload-format-indicator." + hint("pub")},
		{"pub", "-t a -m x -D publish topic-alias 70000", "Error: Property value (70000) out of range for property topic-alias." + hint("pub")},
		{"pub", "-t a -m x -D publish topic-alias 0", "Error in PUBLISH properties: A network protocol error occurred when communicating with the broker." + hint("pub")},
		{"pub", "-t a -m x -D connect receive-maximum 0", "Error in CONNECT properties: A network protocol error occurred when communicating with the broker." + hint("pub")},
		{"pub", "-t a -m x -D connect request-problem-information 2", "Error in CONNECT properties: A network protocol error occurred when communicating with the broker." + hint("pub")},
		{"pub", "-t a -m x -D publish content-type x -D publish content-type y", "Error in PUBLISH properties: Duplicate property in property list" + hint("pub")},
		{"pub", "-t a -m x -D connect session-expiry-interval 5 -x 10", "Error in CONNECT properties: Duplicate property in property list" + hint("pub")},
		{"pub", "-t a -m x -V 5 -c", "Error: You must provide a client id if you are using an infinite session expiry interval." + hint("pub")},
		{"pub", "-t a -m x -V 5 -x -1", "Error: You must provide a client id if you are using an infinite session expiry interval." + hint("pub")},
		{"pub", "-t a -m x -x abc", "Error: session-expiry-interval not a number." + hint("pub")},
		{"pub", "-t a -m x -x 5000000000", "Error: session-expiry-interval out of range." + hint("pub")},
		{"pub", "-t a -m x --scram", "Error: --scram needs a username (-u) and a password (-P)." + hint("pub")},
		{"pub", "-t a -m x --scram -u u -P p -V 311", "Error: --scram needs MQTT v5." + hint("pub")},
		{"pub", "-t a -m x --scram -u u -P p -D connect authentication-method X", "Error: --scram and an authentication-method or authentication-data property cannot be used together." + hint("pub")},
		{"sub", "-t a --rh 3", "Error: Invalid retain handling \"3\", it must be 0, 1 or 2." + hint("sub")},
		{"sub", "-t a -F %", "Error: Incomplete format specifier." + hint("sub")},
		{"sub", "-t a -F %-08", "Error: Incomplete format specifier." + hint("sub")},
		{"sub", "-t a -F x%z", "Error: Invalid format specifier 'z'." + hint("sub")},
		{"sub", "-t a -F @", "Error: Incomplete format specifier." + hint("sub")},
		{"sub", "-t a -F \\", "Error: Incomplete escape specifier." + hint("sub")},
		{"sub", "-t a -F \\q", "Error: Invalid escape specifier 'q'." + hint("sub")},
		{"sub", "-t a -D subscribe content-type x", "Error: content-type property not allowed for subscribe in --property argument." + hint("sub")},
		{"sub", "-t a -D subscribe subscription-identifier 0", "Error in SUBSCRIBE properties: A network protocol error occurred when communicating with the broker." + hint("sub")},
		{"rr", "-t a -m x", "Error: All of topic, message, and response topic must be supplied." + hint("rr")},
		{"rr", "-e r -m x", "Error: All of topic, message, and response topic must be supplied." + hint("rr")},
		{"rr", "-t a -e r/# -m x", "Error: Invalid response topic 'r/#', does it contain '+' or '#'?" + hint("rr")},
		{"rr", "-t a -e r -m x -D publish response-topic x", "Error in PUBLISH properties: Duplicate response topic.\n"},
		{"rr", "-t a -e r -m x -V 311", "Error: midge rr needs MQTT v5: the response topic and correlation data are MQTT v5 properties." + hint("rr")},
		{"rr", "-t a -e r -l", "Error: Unknown option '-l'." + hint("rr")},
		{"rr", "-t a -e r -m x -n", "Error: Only one type of message can be sent at once." + hint("rr")},
		{"rr", "-t a -e r -m x -W 0", "Error: Invalid timeout \"0\"." + hint("rr")},
	}
	for _, tc := range cases {
		t.Run(tc.tool+" "+tc.args, func(t *testing.T) {
			tool := tools[tc.tool]
			r := run(t, tool, "", strings.Fields(tc.args)...)
			if r.status != 1 || r.stderr != tc.stderr {
				t.Errorf("status %d, stderr %q; want 1, %q", r.status, r.stderr, tc.stderr)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for name, tool := range tools {
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

func TestTLSDefaultPort(t *testing.T) {
	cases := []struct {
		args    string
		addr    string
		dialler bool
	}{
		{"-t a -m x", "localhost:1883", false},
		{"-t a -m x --cafile ca.crt", "localhost:8883", true},
		{"-t a -m x --capath certs", "localhost:8883", true},
		{"-t a -m x --tls-use-os-certs -h broker", "broker:8883", true},
		{"-t a -m x --cafile ca.crt -p 1884", "localhost:1884", true},
		// mosquitto_pub -p 8883 is TLS with the system's CA certificates.
		{"-t a -m x -p 8883", "localhost:8883", true},
		// As in mosquitto_pub, a client certificate or --insecure alone
		// leaves TLS off.
		{"-t a -m x --cert c.crt --key c.key --insecure", "localhost:1883", false},
	}
	for _, tc := range cases {
		pf, err := parsePub(strings.Fields(tc.args))
		if err != nil {
			t.Fatalf("%s: %v", tc.args, err)
		}
		opts := pf.options("id", &traceHandler{})
		if opts.Addr != tc.addr || (opts.Dialer != nil) != tc.dialler {
			t.Errorf("%s: address %s, dialer %v; want %s, %v", tc.args, opts.Addr, opts.Dialer != nil, tc.addr, tc.dialler)
		}
	}
}

// TestPubSubOverTLS runs midge pub and sub through Debian's mosquitto over
// TLS, with certificates from midge cert.
func TestPubSubOverTLS(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	makeCerts(t, "--dir", dir, "--host", "localhost", "--host", "127.0.0.1")
	makeCerts(t, "--dir", dir, "--client", "alice")
	port := startTLSMosquitto(t, dir, "")
	ca := filepath.Join(dir, "ca.crt")

	sub := startSub(t, "127.0.0.1", port, "--cafile", ca, "-t", "tls/#", "-v", "-C", "2")
	pub(t, "127.0.0.1", port, "", "--cafile", ca, "-t", "tls/file", "-m", "one")
	pub(t, "localhost", port, "", "--capath", dir, "-t", "tls/path", "-m", "two")
	if r := sub.wait(t); r.status != 0 || messages(r.stdout) != "tls/file one\ntls/path two\n" {
		t.Errorf("sub: status %d, messages %q, stderr %q", r.status, messages(r.stdout), r.stderr)
	}

	// A CA that did not sign the broker's certificate.
	otherDir := filepath.Join(t.TempDir(), "other")
	makeCerts(t, "--dir", otherDir, "--host", "localhost")
	otherCA := filepath.Join(otherDir, "ca.crt")
	r := run(t, Pub, "", "-h", "127.0.0.1", "-p", port, "--cafile", otherCA, "-t", "tls/x", "-m", "x")
	want := "Unable to connect (A TLS error occurred.).\nError: tls: failed to verify certificate: x509: certificate signed by unknown authority"
	if r.status != 1 || !strings.HasPrefix(r.stderr, want) {
		t.Errorf("wrong CA: status %d, stderr %q; want 1, %q", r.status, r.stderr, want)
	}
	// --insecure skips the name check but not the chain.
	if r := run(t, Pub, "", "-h", "127.0.0.1", "-p", port, "--cafile", otherCA, "--insecure", "-t", "tls/x", "-m", "x"); r.status != 1 || !strings.Contains(r.stderr, "unknown authority") {
		t.Errorf("wrong CA with --insecure: status %d, stderr %q", r.status, r.stderr)
	}
}

// TestTLSNameCheckAndClientCertificate uses a broker certificate for
// another name, and a listener that requires client certificates.
func TestTLSNameCheckAndClientCertificate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	makeCerts(t, "--dir", dir, "--host", "broker.invalid")
	makeCerts(t, "--dir", dir, "--client", "alice")
	port := startTLSMosquitto(t, dir, "require_certificate true\nuse_identity_as_username true")
	ca, cert, key := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "alice.crt"), filepath.Join(dir, "alice.key")

	r := run(t, Pub, "", "-h", "127.0.0.1", "-p", port, "--cafile", ca, "--cert", cert, "--key", key, "-t", "a", "-m", "x")
	if r.status != 1 || !strings.Contains(r.stderr, "127.0.0.1") {
		t.Errorf("name mismatch: status %d, stderr %q", r.status, r.stderr)
	}
	pub(t, "127.0.0.1", port, "", "--cafile", ca, "--cert", cert, "--key", key, "--insecure", "-t", "a", "-m", "x")
	if r := run(t, Pub, "", "-h", "127.0.0.1", "-p", port, "--cafile", ca, "--insecure", "-t", "a", "-m", "x"); r.status == 0 {
		t.Error("a client without a certificate was let in")
	}
	// A TLS 1.3 minimum is fine with mosquitto 2.0.
	pub(t, "127.0.0.1", port, "", "--cafile", ca, "--cert", cert, "--key", key, "--insecure", "--tls-version", "tlsv1.3", "-t", "a", "-m", "x")
}

// TestBenchSharesClientTLS checks midge bench takes the same TLS flags,
// through the same setup, as pub and sub.
func TestBenchSharesClientTLS(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	makeCerts(t, "--dir", dir, "--host", "broker.invalid")
	ca := filepath.Join(dir, "ca.crt")
	bf, err := parseBench("pub", []string{"--cafile", ca, "-h", "broker.invalid"})
	if err != nil {
		t.Fatal(err)
	}
	if bf.cfg.TLS == nil || bf.cfg.TLS.RootCAs == nil || bf.cfg.Addr != "broker.invalid:8883" {
		t.Errorf("--cafile: TLS %v, address %s", bf.cfg.TLS != nil, bf.cfg.Addr)
	}
	if bf, err := parseBench("pub", nil); err != nil || bf.cfg.TLS != nil || bf.cfg.Addr != "localhost:1883" {
		t.Errorf("no TLS flags: %v, TLS %v, address %s", err, bf.cfg.TLS != nil, bf.cfg.Addr)
	}
	if _, err := parseBench("pub", []string{"--cert", "c.crt"}); err == nil {
		t.Error("--cert without --key accepted")
	}
	if _, err := parseBench("pub", []string{"--tls-version", "tlsv9"}); err == nil {
		t.Error("--tls-version tlsv9 accepted")
	}

	// --insecure: the name is not checked, the chain is.
	port := startTLSMosquitto(t, dir, "")
	res := benchJSON(t, "127.0.0.1:"+port, "pub", "--cafile", ca, "--insecure", "-C", "10")
	if res.Sent != 10 || res.Errors != 0 {
		t.Errorf("bench over TLS: sent %d, errors %d (%s)", res.Sent, res.Errors, res.FirstError)
	}
	var out, stderr bytes.Buffer
	status := Bench(context.Background(), []string{"pub", "-h", "127.0.0.1", "-p", port, "--cafile", ca, "-C", "10", "--json"},
		Stdio{In: strings.NewReader(""), Out: &out, Err: &stderr})
	if status != 1 || !strings.Contains(stderr.String(), "127.0.0.1 because it doesn't contain any IP SANs") {
		t.Errorf("bench without --insecure, to a broker whose certificate names broker.invalid: status %d, stderr %q", status, stderr.String())
	}
}

// TestHelpListsEveryFlag checks that pub, sub and rr --help name every
// flag they accept. (From helper-18's branch, which did this item too.)
func TestHelpListsEveryFlag(t *testing.T) {
	pf, errPub := parsePub([]string{"-t", "a", "-m", "x"})
	sf, errSub := parseSub([]string{"-t", "a"})
	rf, errRR := parseRR([]string{"-t", "a", "-e", "b", "-m", "x"})
	if err := errors.Join(errPub, errSub, errRR); err != nil {
		t.Fatal(err)
	}
	for name, cf := range map[string]*clientFlags{"pub": pf.clientFlags, "sub": sf.clientFlags, "rr": rf.clientFlags} {
		help := run(t, tools[name], "", "--help").stdout
		// A flag's names share its Value (a boolean's, its *bool): one of
		// them must be described.
		names := map[flag.Value][]string{}
		var order []flag.Value
		cf.fs.VisitAll(func(f *flag.Flag) {
			spelled := "--" + f.Name
			if len(f.Name) == 1 {
				spelled = "-" + f.Name
			}
			if names[f.Value] == nil {
				order = append(order, f.Value)
			}
			names[f.Value] = append(names[f.Value], spelled)
		})
		for _, v := range order {
			if !slices.ContainsFunc(names[v], func(n string) bool {
				return strings.Contains(help, "\n "+n+" ") || strings.Contains(help, "\n "+n+",") || strings.Contains(help, ", "+n+" ")
			}) {
				t.Errorf("midge %s --help does not describe %s", name, strings.Join(names[v], " or "))
			}
		}
	}
}
