package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/mosquittotest"
)

// Interoperability with Debian's mosquitto_pub and mosquitto_sub: each
// tool talks to the other through both brokers, and the same command line
// gives the same output and exit status from both implementations. Skipped
// when mosquitto-clients is missing, unless CI is set.

// mosquittoTool is a mosquitto_pub or mosquitto_sub process.
type mosquittoTool struct {
	cmd            *exec.Cmd
	stdout, stderr mosquittotest.SyncBuffer
	exited         chan struct{}
}

// startMosquittoTool starts name (mosquitto_pub or mosquitto_sub, or an
// absolute path) with args and stdin, and kills it if it is still running
// when the test ends.
func startMosquittoTool(t *testing.T, name, stdin string, args ...string) *mosquittoTool {
	t.Helper()
	path := name
	if !filepath.IsAbs(name) {
		path = mosquittotest.NeedBinary(t, name)
	}
	m := &mosquittoTool{cmd: exec.Command(path, args...), exited: make(chan struct{})}
	m.cmd.Stdin = strings.NewReader(stdin)
	m.cmd.Stdout, m.cmd.Stderr = &m.stdout, &m.stderr
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		m.cmd.Wait()
		close(m.exited)
	}()
	t.Cleanup(func() {
		m.cmd.Process.Kill()
		<-m.exited
	})
	return m
}

// wait waits for the process and returns what it left.
func (m *mosquittoTool) wait(t *testing.T) result {
	t.Helper()
	select {
	case <-m.exited:
	case <-time.After(waitTimeout):
		t.Fatalf("%s still running; stdout %q, stderr %q", m.cmd.Path, m.stdout.String(), m.stderr.String())
	}
	return result{status: m.cmd.ProcessState.ExitCode(), stdout: m.stdout.String(), stderr: m.stderr.String()}
}

// runMosquittoTool runs name to completion.
func runMosquittoTool(t *testing.T, name, stdin string, args ...string) result {
	t.Helper()
	return startMosquittoTool(t, name, stdin, args...).wait(t)
}

// startMosquittoSub starts mosquitto_sub with -d and waits for its SUBACK.
// Its trace lines are not flushed into a pipe, so it runs under coreutils'
// stdbuf -oL.
func startMosquittoSub(t *testing.T, host, port string, args ...string) *mosquittoTool {
	t.Helper()
	sub := mosquittotest.NeedBinary(t, "mosquitto_sub")
	stdbuf, err := exec.LookPath("stdbuf")
	if err != nil {
		t.Skip("stdbuf (coreutils) is missing")
	}
	m := startMosquittoTool(t, stdbuf, "", append([]string{"-oL", sub, "-h", host, "-p", port, "-d"}, args...)...)
	mosquittotest.WaitFor(t, waitTimeout, "mosquitto_sub to subscribe", func() bool {
		select {
		case <-m.exited:
			t.Fatalf("mosquitto_sub exited: %s%s", m.stdout.String(), m.stderr.String())
		default:
		}
		return strings.Contains(m.stdout.String(), "Subscribed (mid:")
	})
	return m
}

// interopSteps are publishes in each payload mode at each QoS, with what a
// "-v" subscriber prints for each. Each step is awaited before the next:
// MQTT orders messages only per topic and QoS.
var interopSteps = []struct {
	args   []string
	stdin  string
	prints string
}{
	{[]string{"-t", "io/m", "-m", "hello", "-q", "0"}, "", "io/m hello\n"},
	{[]string{"-t", "io/n", "-n", "-q", "1"}, "", "io/n (null)\n"},
	{[]string{"-t", "io/l", "-l", "-q", "2"}, "line 1\nline 2\n", "io/l line 1\nio/l line 2\n"},
	{[]string{"-t", "io/s", "-s", "-q", "1"}, "all\nof it", "io/s all\nof it\n"},
	{[]string{"-t", "io/r", "-m", "kept", "-r", "-q", "2", "-V", "mqttv31"}, "", "io/r kept\n"},
}

// TestInteropMidgePubToMosquittoSub publishes with midge pub in every mode
// and reads with mosquitto_sub.
func TestInteropMidgePubToMosquittoSub(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b toolBroker) {
		host, port := b.start(t)
		sub := startMosquittoSub(t, host, port, "-t", "io/#", "-v", "-q", "2", "-C", "6")
		var want string
		for _, step := range interopSteps {
			pub(t, host, port, step.stdin, step.args...)
			want += step.prints
			mosquittotest.WaitFor(t, waitTimeout, "mosquitto_sub to print "+step.prints, func() bool {
				return messages(sub.stdout.String()) == want
			})
		}
		if r := sub.wait(t); r.status != 0 || messages(r.stdout) != want {
			t.Errorf("mosquitto_sub: status %d, messages %q, want %q; stderr %q", r.status, messages(r.stdout), want, r.stderr)
		}
	})
}

// TestInteropMosquittoPubToMidgeSub publishes with mosquitto_pub and reads
// with midge sub.
func TestInteropMosquittoPubToMidgeSub(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b toolBroker) {
		host, port := b.start(t)
		sub := startSub(t, host, port, "-t", "io/#", "-v", "-q", "2", "-C", "6")
		var want string
		for _, step := range interopSteps {
			args := append([]string{"-h", host, "-p", port}, step.args...)
			if r := runMosquittoTool(t, "mosquitto_pub", step.stdin, args...); r.status != 0 {
				t.Fatalf("mosquitto_pub %v: status %d, stderr %q", step.args, r.status, r.stderr)
			}
			want += step.prints
			mosquittotest.WaitFor(t, waitTimeout, "midge sub to print "+step.prints, func() bool {
				return messages(sub.stdout.String()) == want
			})
		}
		if r := sub.wait(t); r.status != 0 || messages(r.stdout) != want {
			t.Errorf("midge sub: status %d, messages %q, want %q; stderr %q", r.status, messages(r.stdout), want, r.stderr)
		}
	})
}

// TestInteropSameOutput feeds the same messages to mosquitto_sub and midge
// sub with the same output flags and compares what they print.
func TestInteropSameOutput(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b toolBroker) {
		host, port := b.start(t)
		input := "plain\n\ncarriage\r\nwith space\n" // the empty line is a null message
		const count = "4"
		for _, flags := range []string{"", "-v", "-N", "-v -N"} {
			args := append([]string{"-t", "same", "-q", "1", "-C", count}, strings.Fields(flags)...)
			theirs := startMosquittoSub(t, host, port, args...)
			ours := startSub(t, host, port, args...)
			pub(t, host, port, input, "-t", "same", "-l", "-q", "1")
			want, got := theirs.wait(t), ours.wait(t)
			if messages(got.stdout) != messages(want.stdout) || got.status != want.status {
				t.Errorf("flags %q: midge sub printed %q (status %d), mosquitto_sub %q (status %d)",
					flags, messages(got.stdout), got.status, messages(want.stdout), want.status)
			}
		}
	})
}

// TestInteropSameErrors runs bad command lines through both
// implementations: same exit status, same first line on stderr.
func TestInteropSameErrors(t *testing.T) {
	cases := []struct{ tool, args string }{
		{"pub", "-t a -m x -n"},
		{"pub", "-t a -m x -l"},
		{"pub", "-t a/# -m x"},
		{"pub", "-t a/+ -m x"},
		{"pub", "-t a -m x -q 3"},
		{"pub", "-t a -m x -Z"},
		{"pub", "-t a -m x extra"},
		{"pub", "-t a -m x -k 2"},
		{"pub", "-t a -m x -k 70000"},
		{"pub", "-t a -m x -k"},
		{"pub", "-t a -m x -c"},
		{"pub", "-t a -m x -c -I x"},
		{"pub", "-t a -m x -i a -I b"},
		{"pub", "-t a -m x -V 7"},
		{"pub", "-t a -m x -p 70000"},
		{"pub", "-t a -m x --will-payload p"},
		{"pub", "-t a -m x --will-retain"},
		{"pub", "-t a -m x --will-topic w/#"},
		{"pub", "-t a -m x -P pw"},
		{"pub", "-t a -m x -M 0"},
		{"pub", "-t a -m x --repeat 0"},
		{"pub", "-t a -m x -v"},
		{"pub", "-m x"},
		{"pub", "-t a"},
		{"pub", "--help"},
		{"sub", ""},
		{"sub", "-t a -c"},
		{"sub", "-t a -C 0"},
		{"sub", "-t a -W 0"},
		{"sub", "-t a/#/b"},
		{"sub", "-t a -T b/#/x"},
		{"sub", "-t a -U b/#/x"},
		{"sub", "-t a -q 3"},
		{"sub", "-t a -m x"},
		{"sub", "-t a -n"},
		{"sub", "--help"},
		{"pub", "-t a -m x -D connect foo 1"},
		{"pub", "-t a -m x -D bogus content-type 1"},
		{"pub", "-t a -m x -D publish receive-maximum 1"},
		{"pub", "-t a -m x -D publish subscription-identifier 1"},
		{"pub", "-t a -m x -D auth authentication-method x"},
		{"pub", "-t a -m x -D pubrel user-property a b"},
		{"pub", "-t a -m x -D publish user-property a"},
		{"pub", "-t a -m x -D publish"},
		{"pub", "-t a -m x -D publish message-expiry-interval -1"},
		{"pub", "-t a -m x -D publish payload-format-indicator 300"},
		{"pub", "-t a -m x -D publish topic-alias 0"},
		{"pub", "-t a -m x -D connect receive-maximum 0"},
		{"pub", "-t a -m x -D publish content-type x -D publish content-type y"},
		{"pub", "-t a -m x -V 5 -c"},
		{"pub", "-t a -m x -x abc"},
		{"pub", "-t a -m x -x 5000000000"},
		{"sub", "-t a -F x%z"},
		{"sub", "-t a -F %"},
		{"sub", "-t a -F @"},
		{"sub", "-t a -D subscribe content-type x"},
		{"rr", "-t a -m x"},
		{"rr", "-t a -e r/# -m x"},
		{"rr", "-t a -e r -m x -D publish response-topic x"},
		{"rr", "-t a -e r -l"},
		{"rr", "-t a -e r -m x -n"},
		{"rr", "--help"},
	}
	for _, tc := range cases {
		t.Run(tc.tool+" "+tc.args, func(t *testing.T) {
			args := strings.Fields(tc.args)
			tool := tools[tc.tool]
			want := runMosquittoTool(t, "mosquitto_"+tc.tool, "", args...)
			got := run(t, tool, "", args...)
			wantLine := strings.ReplaceAll(firstLine(want.stderr), "mosquitto_"+tc.tool, "midge "+tc.tool)
			if got.status != want.status || firstLine(got.stderr) != wantLine {
				t.Errorf("midge %s: status %d, %q; mosquitto_%s: status %d, %q",
					tc.tool, got.status, firstLine(got.stderr), tc.tool, want.status, wantLine)
			}
		})
	}
}

// firstLine is the first non-empty line of s.
func firstLine(s string) string {
	for _, line := range strings.Split(s, "\n") {
		if line != "" {
			return line
		}
	}
	return ""
}

// TestInteropSameConnectionOutcome compares exit statuses and messages
// when the broker refuses the client, when nothing listens, and when -W
// runs out.
func TestInteropSameConnectionOutcome(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b toolBroker) {
		host, port := b.refusing(t)
		for _, tc := range []struct{ tool, args string }{
			{"pub", "-t a -m x"},
			{"pub", "-t a -m x -V mqttv31"},
			{"sub", "-t a"},
		} {
			args := append([]string{"-h", host, "-p", port}, strings.Fields(tc.args)...)
			tool := Pub
			if tc.tool == "sub" {
				tool = Sub
			}
			want := runMosquittoTool(t, "mosquitto_"+tc.tool, "", args...)
			got := run(t, tool, "", args...)
			if got.status != want.status || got.stderr != want.stderr {
				t.Errorf("refused %s %s: midge status %d, %q; mosquitto status %d, %q",
					tc.tool, tc.args, got.status, got.stderr, want.status, want.stderr)
			}
		}
		host, port = b.start(t)
		args := []string{"-h", host, "-p", port, "-t", "silence", "-W", "1"}
		want := runMosquittoTool(t, "mosquitto_sub", "", args...)
		got := run(t, Sub, "", args...)
		if got.status != want.status || got.stderr != want.stderr || got.stdout != want.stdout {
			t.Errorf("-W 1: midge %+v; mosquitto %+v", got, want)
		}
	})
	// Nothing listens on a port just released: "Error: Connection refused".
	host, port := splitAddr(t, mosquittotest.FreeAddr(t))
	for _, tool := range []string{"pub", "sub"} {
		args := []string{"-h", host, "-p", port, "-t", "a"}
		if tool == "pub" {
			args = append(args, "-m", "x")
		}
		want := runMosquittoTool(t, "mosquitto_"+tool, "", args...)
		f := Pub
		if tool == "sub" {
			f = Sub
		}
		got := run(t, f, "", args...)
		if got.status != want.status || got.stderr != want.stderr {
			t.Errorf("closed port, %s: midge status %d, %q; mosquitto status %d, %q", tool, got.status, got.stderr, want.status, want.stderr)
		}
	}
}

// TestInteropSubInterrupted: both subs exit 0 when interrupted.
func TestInteropSubInterrupted(t *testing.T) {
	host, port := toolBrokers()[0].start(t)
	theirs := startMosquittoSub(t, host, port, "-t", "x")
	ours := startSub(t, host, port, "-t", "x")
	theirs.cmd.Process.Signal(os.Interrupt)
	ours.cancel() // main cancels the context on SIGINT
	want, got := theirs.wait(t), ours.wait(t)
	if got.status != want.status {
		t.Errorf("interrupted: midge sub status %d, mosquitto_sub %d", got.status, want.status)
	}
}
