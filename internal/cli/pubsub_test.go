package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/internal/mosquittotest"
)

// pub runs midge pub against host:port and fails the test unless it exits 0.
func pub(t *testing.T, host, port, stdin string, args ...string) result {
	t.Helper()
	r := run(t, Pub, stdin, append([]string{"-h", host, "-p", port}, args...)...)
	if r.status != 0 {
		t.Fatalf("midge pub %v: status %d, stderr %q", args, r.status, r.stderr)
	}
	return r
}

// waitMessages waits until the running midge sub has printed the
// messages want, so that the next publisher's cannot overtake them: MQTT
// keeps the order of one client's messages only, and a broker that reads
// its connections in parallel may route a later client's first.
func waitMessages(t *testing.T, sub *running, want string) {
	t.Helper()
	mosquittotest.WaitFor(t, waitTimeout, fmt.Sprintf("midge sub to print %q", want), func() bool {
		return messages(sub.stdout.String()) == want
	})
}

func TestPubSub(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b toolBroker) {
		host, port := b.start(t)
		for qos := range 3 {
			q := fmt.Sprint(qos)
			sub := startSub(t, host, port, "-t", "ps/#", "-C", "1", "-v", "-q", q)
			pub(t, host, port, "", "-t", "ps/"+q, "-m", "hello world", "-q", q)
			r := sub.wait(t)
			if want := "ps/" + q + " hello world\n"; r.status != 0 || messages(r.stdout) != want {
				t.Errorf("QoS %d: status %d, messages %q, want %q", qos, r.status, messages(r.stdout), want)
			}
		}
	})
}

// TestPubLines sends stdin line by line: an empty line is an empty
// message, "\r" is kept, and a last line without "\n" is sent.
func TestPubLines(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b toolBroker) {
		host, port := b.start(t)
		sub := startSub(t, host, port, "-t", "lines", "-C", "5", "-v", "-q", "2")
		pub(t, host, port, "one\ntwo\r\n\nthree four\nlast", "-t", "lines", "-l", "-q", "1")
		r := sub.wait(t)
		want := "lines one\nlines two\r\nlines (null)\nlines three four\nlines last\n"
		if r.status != 0 || messages(r.stdout) != want {
			t.Errorf("status %d, messages %q, want %q", r.status, messages(r.stdout), want)
		}
	})
}

// TestPubLinesMany pushes more lines than the in-flight window, at QoS 1
// and 2, and checks they all arrive in order.
func TestPubLinesMany(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b toolBroker) {
		host, port := b.start(t)
		for _, qos := range []string{"1", "2"} {
			var in, want strings.Builder
			for i := range 300 {
				fmt.Fprintf(&in, "%d\n", i)
				fmt.Fprintf(&want, "%d\n", i)
			}
			sub := startSub(t, host, port, "-t", "many", "-C", "300", "-q", qos)
			pub(t, host, port, in.String(), "-t", "many", "-l", "-q", qos, "-M", "7")
			r := sub.wait(t)
			if r.status != 0 || messages(r.stdout) != want.String() {
				t.Errorf("QoS %s: status %d, got %d bytes of messages, want %d", qos, r.status, len(messages(r.stdout)), want.Len())
			}
		}
	})
}

// TestNullMessage: -n sends an empty payload; sub prints nothing for it,
// or "topic (null)" with -v, as mosquitto_sub does.
func TestNullMessage(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b toolBroker) {
		host, port := b.start(t)
		quiet := startSub(t, host, port, "-t", "null", "-C", "2")
		verbose := startSub(t, host, port, "-t", "null", "-C", "2", "-v")
		// QoS 1: each pub returns once the broker has the message, so the
		// two arrive in order although they come over two connections.
		pub(t, host, port, "", "-t", "null", "-n", "-q", "1")
		pub(t, host, port, "", "-t", "null", "-m", "after", "-q", "1")
		if r := quiet.wait(t); r.status != 0 || messages(r.stdout) != "after\n" {
			t.Errorf("without -v: status %d, messages %q", r.status, messages(r.stdout))
		}
		if r := verbose.wait(t); r.status != 0 || messages(r.stdout) != "null (null)\nnull after\n" {
			t.Errorf("with -v: status %d, messages %q", r.status, messages(r.stdout))
		}
	})
}

// TestRetain: -r keeps the message for later subscribers; -R skips it.
func TestRetain(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b toolBroker) {
		host, port := b.start(t)
		pub(t, host, port, "", "-t", "ret/a", "-m", "stale", "-r", "-q", "1")
		if r := run(t, Sub, "", "-h", host, "-p", port, "-t", "ret/#", "-C", "1", "-v"); r.status != 0 || r.stdout != "ret/a stale\n" {
			t.Errorf("retained: status %d, stdout %q", r.status, r.stdout)
		}
		skip := startSub(t, host, port, "-t", "ret/#", "-C", "1", "-v", "-R")
		pub(t, host, port, "", "-t", "ret/a", "-m", "fresh")
		if r := skip.wait(t); r.status != 0 || messages(r.stdout) != "ret/a fresh\n" {
			t.Errorf("-R: status %d, messages %q", r.status, messages(r.stdout))
		}
	})
}

// TestRetainedOnly prints the retained messages and exits at the first
// live one, which it does not print.
func TestRetainedOnly(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b toolBroker) {
		host, port := b.start(t)
		pub(t, host, port, "", "-t", "ro/1", "-m", "one", "-r", "-q", "1")
		pub(t, host, port, "", "-t", "ro/2", "-m", "two", "-r", "-q", "1")
		sub := startSub(t, host, port, "-t", "ro/#", "-v", "--retained-only")
		mosquittotest.WaitFor(t, waitTimeout, "both retained messages", func() bool {
			got := messages(sub.stdout.String())
			return strings.Contains(got, "ro/1 one\n") && strings.Contains(got, "ro/2 two\n")
		})
		pub(t, host, port, "", "-t", "ro/3", "-m", "live")
		r := sub.wait(t)
		if got := messages(r.stdout); r.status != 0 || len(got) != len("ro/1 one\nro/2 two\n") {
			t.Errorf("status %d, messages %q", r.status, got)
		}
	})
}

// TestRemoveRetained clears the retained message it prints; the broker's
// echo of the clearing is the live message that ends --retained-only.
func TestRemoveRetained(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b toolBroker) {
		host, port := b.start(t)
		pub(t, host, port, "", "-t", "rm/1", "-m", "one", "-r", "-q", "1")
		r := run(t, Sub, "", "-h", host, "-p", port, "-t", "rm/#", "-v", "-q", "1", "--retained-only", "--remove-retained")
		if r.status != 0 || r.stdout != "rm/1 one\n" {
			t.Errorf("status %d, stdout %q", r.status, r.stdout)
		}
		// Nothing retained is left: a marker published after is the first
		// message a new subscriber sees.
		pub(t, host, port, "", "-t", "rm/marker", "-m", "m", "-r", "-q", "1")
		if r := run(t, Sub, "", "-h", host, "-p", port, "-t", "rm/#", "-v", "-C", "1"); r.stdout != "rm/marker m\n" {
			t.Errorf("after --remove-retained: stdout %q", r.stdout)
		}
	})
}

func TestTimeout(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b toolBroker) {
		host, port := b.start(t)
		r := run(t, Sub, "", "-h", host, "-p", port, "-t", "nothing", "-W", "1")
		if r.status != 27 || r.stdout != "" || r.stderr != "Timed out\n" {
			t.Errorf("status %d, stdout %q, stderr %q; want 27, Timed out", r.status, r.stdout, r.stderr)
		}
		r = run(t, Sub, "", "-h", host, "-p", port, "-t", "nothing", "-W", "1", "--quiet")
		if r.status != 27 || r.stderr != "" {
			t.Errorf("--quiet: status %d, stderr %q", r.status, r.stderr)
		}
	})
}

// TestFilterOutAndUnsubscribe: -T hides matching topics; -U unsubscribes
// after subscribing.
func TestFilterOutAndUnsubscribe(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b toolBroker) {
		host, port := b.start(t)
		sub := startSub(t, host, port, "-t", "f/#", "-t", "g/#", "-T", "f/skip/#", "-T", "f/also", "-U", "g/#", "-C", "1", "-v")
		pub(t, host, port, "", "-t", "f/skip/deep", "-m", "1")
		pub(t, host, port, "", "-t", "f/also", "-m", "2")
		pub(t, host, port, "", "-t", "g/x", "-m", "3")
		pub(t, host, port, "", "-t", "f/keep", "-m", "4")
		r := sub.wait(t)
		if r.status != 0 || messages(r.stdout) != "f/keep 4\n" {
			t.Errorf("status %d, messages %q", r.status, messages(r.stdout))
		}
		if !strings.Contains(r.stdout, "sending UNSUBSCRIBE (Mid: 2, Topic: g/#)") {
			t.Errorf("no UNSUBSCRIBE in the trace:\n%s", r.stdout)
		}
	})
}

// TestNoEOL: -N prints payloads back to back.
func TestNoEOL(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b toolBroker) {
		host, port := b.start(t)
		sub := startSub(t, host, port, "-t", "n", "-C", "3", "-N")
		pub(t, host, port, "a\n\nb\n", "-t", "n", "-l", "-q", "1")
		if r := sub.wait(t); r.status != 0 || messages(r.stdout) != "ab" {
			t.Errorf("status %d, messages %q", r.status, messages(r.stdout))
		}
	})
}

func TestPayloadSources(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b toolBroker) {
		host, port := b.start(t)
		file := filepath.Join(t.TempDir(), "payload")
		if err := os.WriteFile(file, []byte("from\nfile"), 0o600); err != nil {
			t.Fatal(err)
		}
		sub := startSub(t, host, port, "-t", "src/#", "-C", "5", "-v")
		pub(t, host, port, "", "-t", "src/f", "-f", file)
		waitMessages(t, sub, "src/f from\nfile\n")
		pub(t, host, port, "whole\nstdin\n", "-t", "src/s", "-s")
		waitMessages(t, sub, "src/f from\nfile\nsrc/s whole\nstdin\n\n")
		pub(t, host, port, "", "-t", "src/r", "-m", "again", "--repeat", "3", "--repeat-delay", "0.01", "-q", "1")
		want := "src/f from\nfile\nsrc/s whole\nstdin\n\nsrc/r again\nsrc/r again\nsrc/r again\n"
		if r := sub.wait(t); r.status != 0 || messages(r.stdout) != want {
			t.Errorf("status %d, messages %q, want %q", r.status, messages(r.stdout), want)
		}
		missing := filepath.Join(t.TempDir(), "missing")
		r := run(t, Pub, "", "-h", host, "-p", port, "-t", "src/f", "-f", missing)
		want = fmt.Sprintf("Error: Unable to open file \"%s\".\nError loading input file \"%s\".\n", missing, missing)
		if r.status != 1 || r.stderr != want {
			t.Errorf("missing file: status %d, stderr %q", r.status, r.stderr)
		}
	})
}

// TestDebugTrace checks -d prints libmosquitto's trace on stdout, with
// the client id from -i or -I.
func TestDebugTrace(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b toolBroker) {
		host, port := b.start(t)
		r := pub(t, host, port, "", "-t", "dbg", "-m", "hi", "-q", "2", "-d", "-i", "tracer")
		want := "Client tracer sending CONNECT\n" +
			"Client tracer received CONNACK (0)\n" +
			"Client tracer sending PUBLISH (d0, q2, r0, m1, 'dbg', ... (2 bytes))\n" +
			"Client tracer received PUBREC (Mid: 1)\n" +
			"Client tracer sending PUBREL (m1)\n" +
			"Client tracer received PUBCOMP (Mid: 1, RC:0)\n" +
			"Client tracer sending DISCONNECT\n"
		if r.stdout != want {
			t.Errorf("trace:\n%s\nwant:\n%s", r.stdout, want)
		}
		r = pub(t, host, port, "", "-t", "dbg", "-m", "hi", "-d", "-I", "pre-")
		if want := fmt.Sprintf("Client pre-%d sending CONNECT\n", os.Getpid()); !strings.HasPrefix(r.stdout, want) {
			t.Errorf("-I trace starts %q, want %q", r.stdout, want)
		}
		r = pub(t, host, port, "", "-t", "dbg", "-m", "hi", "-d")
		if !regexp.MustCompile(`^Client midge-pub-[a-zA-Z0-9]{13} sending CONNECT\n`).MatchString(r.stdout) {
			t.Errorf("generated id trace: %q", r.stdout)
		}
	})
}

// TestWillAndSessions: --will-* reach the broker; -c keeps a session.
func TestWillAndSessions(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b toolBroker) {
		host, port := b.start(t)
		// A persistent session collects a QoS 1 message while away.
		if r := run(t, Sub, "", "-h", host, "-p", port, "-t", "sess", "-q", "1", "-c", "-i", "keeper", "-E"); r.status != 0 {
			t.Fatalf("sub -E: status %d, stderr %q", r.status, r.stderr)
		}
		pub(t, host, port, "", "-t", "sess", "-m", "while away", "-q", "1")
		if r := run(t, Sub, "", "-h", host, "-p", port, "-t", "sess", "-q", "1", "-c", "-i", "keeper", "-C", "1"); r.stdout != "while away\n" {
			t.Errorf("resumed session: status %d, stdout %q", r.status, r.stdout)
		}
		// A sub cancelled like by SIGINT sends DISCONNECT: no will, exit 0.
		watcher := startSub(t, host, port, "-t", "will/#", "-v", "-C", "1")
		victim := startSub(t, host, port, "-t", "x", "--will-topic", "will/t", "--will-payload", "gone", "--will-qos", "1")
		victim.cancel()
		if r := victim.wait(t); r.status != 0 {
			t.Errorf("cancelled sub: status %d", r.status)
		}
		pub(t, host, port, "", "-t", "will/marker", "-m", "m")
		if r := watcher.wait(t); messages(r.stdout) != "will/marker m\n" {
			t.Errorf("after a clean exit got %q, want only the marker", messages(r.stdout))
		}
	})
}

func TestConnectFailures(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b toolBroker) {
		host, port := b.refusing(t)
		refused := "Connection error: Connection Refused: not authorised.\n"
		r := run(t, Pub, "", "-h", host, "-p", port, "-t", "a", "-m", "x")
		if r.status != 5 || r.stderr != refused+"Error: The connection was refused.\n" {
			t.Errorf("pub: status %d, stderr %q", r.status, r.stderr)
		}
		r = run(t, Sub, "", "-h", host, "-p", port, "-t", "a")
		if r.status != 5 || r.stderr != refused {
			t.Errorf("sub: status %d, stderr %q", r.status, r.stderr)
		}
		r = run(t, Pub, "", "-h", host, "-p", port, "-t", "a", "-m", "x", "--quiet")
		if r.status != 5 || r.stderr != "" {
			t.Errorf("pub --quiet: status %d, stderr %q", r.status, r.stderr)
		}
	})
	// Nothing listens on a port just released.
	_, port := splitAddr(t, mosquittotest.FreeAddr(t))
	for name, tool := range map[string]func(t *testing.T, stdin string, args ...string) result{
		"pub": func(t *testing.T, stdin string, args ...string) result {
			return run(t, Pub, stdin, append(args, "-m", "x")...)
		},
		"sub": func(t *testing.T, stdin string, args ...string) result { return run(t, Sub, stdin, args...) },
	} {
		r := tool(t, "", "-h", "127.0.0.1", "-p", port, "-t", "a")
		if r.status != 1 || r.stderr != "Error: Connection refused\n" {
			t.Errorf("%s to a closed port: status %d, stderr %q", name, r.status, r.stderr)
		}
	}
}
