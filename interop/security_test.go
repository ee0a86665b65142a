package interop

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/brokercmd"
	"github.com/midge-mqtt/midge/internal/mosquittotest"
)

// secureBroker is a `midge broker -c FILE` run in-process for one test,
// with a configuration that needs files (passwords, ACL, certificates).
type secureBroker struct {
	addr   string // the first listener's 127.0.0.1:PORT
	port   string
	log    *mosquittotest.SyncBuffer
	reload chan struct{}
	stop   func() // stops the broker and waits for it (once; the test's end calls it too)
}

// startSecureBroker writes conf (with {port} replaced by a free port, and
// {dir} by dir) to dir/midge.conf and runs the broker until the test ends.
func startSecureBroker(t *testing.T, dir, conf string) *secureBroker {
	t.Helper()
	addr := mosquittotest.FreeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	conf = strings.ReplaceAll(strings.ReplaceAll(conf, "{port}", port), "{dir}", dir)
	path := filepath.Join(dir, "midge.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	b := &secureBroker{addr: addr, port: port, log: &mosquittotest.SyncBuffer{}, reload: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- brokercmd.RunWithReload(ctx, []string{"-c", path}, brokercmd.Stdio{Out: b.log, Err: b.log}, b.reload)
	}()
	b.stop = sync.OnceFunc(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("broker did not stop")
		}
		if t.Failed() {
			t.Logf("broker log:\n%s", b.log)
		}
	})
	t.Cleanup(b.stop)
	mosquittotest.WaitFor(t, 10*time.Second, "broker listening", func() bool {
		select {
		case status := <-done:
			t.Fatalf("broker exited with %d:\n%s", status, b.log)
		default:
		}
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return b
}

// doReload asks the broker to reload, as SIGHUP does, and waits for the
// reload to be logged.
func (b *secureBroker) doReload(t *testing.T) {
	t.Helper()
	before := strings.Count(b.log.String(), "Reloading config.")
	b.reload <- struct{}{}
	mosquittotest.WaitFor(t, 5*time.Second, "reload logged", func() bool {
		log := b.log.String()
		if strings.Count(log, "Reloading config.") <= before {
			return false
		}
		since := log[strings.LastIndex(log, "Reloading config."):]
		return strings.Contains(since, "Config reloaded from") || strings.Contains(since, "stays in force")
	})
}

// tool runs a mosquitto client tool and returns its combined output and
// error.
func tool(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	path := mosquittotest.NeedBinary(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
	return string(out), err
}

// startSub runs mosquitto_sub in the background until it exits or the test
// ends, returning its output buffer and a channel closed when it exits.
func startSub(t *testing.T, args ...string) (*mosquittotest.SyncBuffer, <-chan struct{}) {
	t.Helper()
	path := mosquittotest.NeedBinary(t, "mosquitto_sub")
	out := &mosquittotest.SyncBuffer{}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = out, out
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
	})
	return out, exited
}

// waitSubscribed publishes a probe with publish until mosquitto_sub prints
// it: then its subscription is in place. (Its -d output cannot tell: it is
// buffered when stdout is a pipe.)
func waitSubscribed(t *testing.T, out *mosquittotest.SyncBuffer, publish func(payload string)) {
	t.Helper()
	mosquittotest.WaitFor(t, 10*time.Second, "mosquitto_sub subscribed", func() bool {
		publish("probe")
		time.Sleep(50 * time.Millisecond)
		return strings.Contains(out.String(), "probe")
	})
}

// A password file made by Debian's mosquitto_passwd works in midge
// unchanged: the right password is admitted, a wrong one, a missing one,
// an unknown user and an anonymous client are refused with CONNACK 5, and
// the log names the client and the reason. A reload picks up a new user
// without dropping a connected client, and a broken file on reload keeps
// the previous one.
func TestPasswordFileWithMosquittoTools(t *testing.T) {
	dir := t.TempDir()
	passwd := filepath.Join(dir, "passwd")
	if out, err := tool(t, "mosquitto_passwd", "-c", "-b", passwd, "alice", "s3cret"); err != nil {
		t.Fatalf("mosquitto_passwd: %v\n%s", err, out)
	}
	b := startSecureBroker(t, dir, "listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {dir}/passwd\n")
	pub := func(clientID string, auth ...string) (string, error) {
		args := append([]string{"-h", "127.0.0.1", "-p", b.port, "-i", clientID, "-t", "t", "-m", "x", "-q", "1"}, auth...)
		return tool(t, "mosquitto_pub", args...)
	}
	if out, err := pub("good", "-u", "alice", "-P", "s3cret"); err != nil {
		t.Fatalf("right password refused: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		id   string
		auth []string
	}{
		{"wrongpw", []string{"-u", "alice", "-P", "nope"}},
		{"nopw", []string{"-u", "alice"}},
		{"nouser", []string{"-u", "mallory", "-P", "s3cret"}},
		{"anon", nil},
	} {
		out, err := pub(tc.id, tc.auth...)
		if err == nil || !strings.Contains(out, "not authorised") {
			t.Errorf("%s: mosquitto_pub err=%v output %q, want a refusal (not authorised)", tc.id, err, out)
		}
		// The log line follows the CONNACK, so it may come a moment later.
		mosquittotest.WaitFor(t, 5*time.Second, tc.id+": a log line naming the refused client", func() bool {
			return strings.Contains(b.log.String(), "Client "+tc.id+" disconnected, not authorised")
		})
	}

	// A subscriber stays connected across reloads.
	sub, exited := startSub(t, "-h", "127.0.0.1", "-p", b.port, "-u", "alice", "-P", "s3cret", "-t", "news", "-q", "1")
	waitSubscribed(t, sub, func(payload string) {
		tool(t, "mosquitto_pub", "-h", "127.0.0.1", "-p", b.port, "-u", "alice", "-P", "s3cret", "-t", "news", "-m", payload)
	})
	if out, err := tool(t, "mosquitto_passwd", "-b", passwd, "carol", "pw2"); err != nil {
		t.Fatalf("mosquitto_passwd: %v\n%s", err, out)
	}
	if _, err := pub("carol1", "-u", "carol", "-P", "pw2"); err == nil {
		t.Fatal("carol admitted before the reload")
	}
	b.doReload(t)
	if out, err := pub("carol2", "-u", "carol", "-P", "pw2"); err != nil {
		t.Fatalf("carol refused after the reload: %v\n%s", err, out)
	}
	// A broken file is not taken: the previous users still work.
	if err := os.WriteFile(passwd, []byte("carol:plaintext\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b.doReload(t)
	if !strings.Contains(b.log.String(), "passwd:1") {
		t.Errorf("the failed reload does not name file and line")
	}
	if out, err := pub("carol3", "-u", "carol", "-P", "pw2"); err != nil {
		t.Fatalf("a broken file on reload replaced the good one: %v\n%s", err, out)
	}
	if _, err := tool(t, "mosquitto_pub", "-h", "127.0.0.1", "-p", b.port, "-u", "alice", "-P", "s3cret",
		"-t", "news", "-m", "still here", "-q", "1"); err != nil {
		t.Fatal(err)
	}
	mosquittotest.WaitFor(t, 5*time.Second, "subscriber receives after the reloads", func() bool {
		return strings.Contains(sub.String(), "still here")
	})
	select {
	case <-exited:
		t.Fatal("the subscriber was disconnected")
	default:
	}
}

// An ACL file in Mosquitto's syntax, driven by mosquitto_pub and
// mosquitto_sub: a subscription to # delivers only readable topics, $SYS
// included; writes to forbidden topics are dropped; %c and %u patterns
// give each client its own subtree; a will to a forbidden topic is not
// published; an empty ACL file denies everything.
func TestACLFileWithMosquittoTools(t *testing.T) {
	dir := t.TempDir()
	writeACLFiles(t, dir)
	b := startSecureBroker(t, dir, "listener {port} 127.0.0.1\nallow_anonymous true\npassword_file {dir}/passwd\nacl_file {dir}/acl\n")
	aclScenario(t, b.port, dir, func() { b.doReload(t) })
}

// The same files and checks against Debian's mosquitto: the semantics midge
// copies are Mosquitto's, so the scenario must hold there too (all but the
// reload, which needs a signal to that process).
func TestACLScenarioHoldsForMosquitto(t *testing.T) {
	dir := t.TempDir()
	writeACLFiles(t, dir)
	os.Chmod(dir, 0o755) // mosquitto may drop to its own user
	addr := mosquittotest.Start(t, "user root\npassword_file "+dir+"/passwd\nacl_file "+dir+"/acl\n")
	_, port, _ := net.SplitHostPort(addr)
	aclScenario(t, port, dir, nil)
}

// writeACLFiles writes dir/passwd (alice, bob) with mosquitto_passwd and
// dir/acl.
func writeACLFiles(t *testing.T, dir string) {
	passwd := filepath.Join(dir, "passwd")
	for _, u := range []string{"alice", "bob"} {
		args := []string{"-b", passwd, u, u + "pw"}
		if u == "alice" {
			args = append([]string{"-c"}, args...)
		}
		if out, err := tool(t, "mosquitto_passwd", args...); err != nil {
			t.Fatalf("mosquitto_passwd: %v\n%s", err, out)
		}
	}
	acl := `# anonymous clients: read-only
topic read lobby/#
topic read clients/#

user alice
topic read public/#
topic readwrite alice/#
topic deny public/private

user bob
topic write public/#
topic write alice/inbox
topic write users/#

pattern readwrite clients/%c/#
pattern read users/%u/#
`
	if err := os.WriteFile(filepath.Join(dir, "acl"), []byte(acl), 0o644); err != nil {
		t.Fatal(err)
	}
}

// aclScenario drives a broker on port that uses the files of
// writeACLFiles; reload, when not nil, makes it read them again.
func aclScenario(t *testing.T, port, dir string, reload func()) {
	common := []string{"-h", "127.0.0.1", "-p", port}
	pubAs := func(user, clientID, topicName, payload string) {
		t.Helper()
		args := append(append([]string{}, common...), "-i", clientID, "-t", topicName, "-m", payload, "-q", "1")
		if user != "" {
			args = append(args, "-u", user, "-P", user+"pw")
		}
		// 3.1.1 has no way to refuse a PUBLISH: a forbidden one is
		// acknowledged too, so mosquitto_pub succeeds either way.
		if out, err := tool(t, "mosquitto_pub", args...); err != nil {
			t.Fatalf("mosquitto_pub %s: %v\n%s", topicName, err, out)
		}
	}

	sub, _ := startSub(t, append(append([]string{}, common...), "-u", "alice", "-P", "alicepw", "-i", "alice-sub",
		"-t", "#", "-t", "$SYS/#", "-t", "+/+/+", "-v", "-q", "1")...)
	waitSubscribed(t, sub, func(payload string) { pubAs("alice", "alice-pub", "alice/probe", payload) })
	// An anonymous subscriber may read clients/#: it shows what %c let
	// alice-pub write.
	anon, _ := startSub(t, append(append([]string{}, common...), "-i", "anon-sub", "-t", "clients/#", "-v", "-q", "1")...)
	waitSubscribed(t, anon, func(payload string) { pubAs("alice", "alice-pub", "clients/alice-pub/probe", payload) })

	pubAs("bob", "bob1", "public/news", "for everyone")                     // readable by alice
	pubAs("bob", "bob1", "public/private", "denied to alice")               // deny rule wins
	pubAs("bob", "bob1", "secret/x", "bob may not write")                   // bob cannot write
	pubAs("bob", "bob1", "alice/inbox", "to alice")                         // bob may write here
	pubAs("bob", "bob1", "bob/x", "not readable by alice")                  // alice cannot read
	pubAs("alice", "alice-pub", "clients/alice-pub/state", "own subtree")   // %c: own client id
	pubAs("alice", "alice-pub", "clients/someone-else/state", "not her id") // %c: another id
	pubAs("bob", "bob1", "users/alice/note", "for alice via %u")            // %u: alice reads her own
	pubAs("bob", "bob1", "users/bob/note", "not alice's")                   // %u: not another user's
	pubAs("", "anon", "lobby/x", "anonymous cannot write")                  // lobby is read-only
	pubAs("alice", "alice-pub", "alice/done", "end")

	mosquittotest.WaitFor(t, 10*time.Second, "alice's last message", func() bool {
		return strings.Contains(sub.String(), "alice/done end")
	})
	if got := anon.String(); !strings.Contains(got, "clients/alice-pub/state own subtree") || strings.Contains(got, "not her id") {
		t.Errorf("%%c: alice-pub should write clients/alice-pub/# only; the anonymous reader got:\n%s", got)
	}
	got := sub.String()
	for _, want := range []string{"public/news for everyone", "alice/inbox to alice", "users/alice/note for alice via %u"} {
		if !strings.Contains(got, want) {
			t.Errorf("alice did not receive %q", want)
		}
	}
	for _, banned := range []string{"denied to alice", "bob may not write", "not readable by alice", "not her id",
		"not alice's", "own subtree", "anonymous cannot write", "$SYS"} {
		if strings.Contains(got, banned) {
			t.Errorf("alice received %q:\n%s", banned, got)
		}
	}

	// A client whose id tries to widen a %c pattern gets nothing from it.
	out, err := tool(t, "mosquitto_sub", append(append([]string{}, common...), "-u", "alice", "-P", "alicepw",
		"-i", "#", "-t", "clients/#", "-C", "1", "-W", "2", "-v")...)
	if strings.Contains(out, "clients/") {
		t.Errorf("client id '#' read through a %%c pattern: %q (err %v)", out, err)
	}

	if reload == nil {
		return
	}
	// An empty ACL file denies everything, after a reload too.
	if err := os.WriteFile(filepath.Join(dir, "acl"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	reload()
	pubAs("bob", "bob1", "public/news", "after the empty ACL")
	pubAs("alice", "alice-pub", "alice/done", "second end")
	time.Sleep(500 * time.Millisecond)
	if got := sub.String(); strings.Contains(got, "after the empty ACL") || strings.Contains(got, "second end") {
		t.Errorf("an empty ACL file let messages through:\n%s", got)
	}
}

// A broken ACL or password file stops the broker from starting, naming
// file and line.
func TestBadSecurityFilesStopTheStart(t *testing.T) {
	for _, tc := range []struct{ name, file, content, want string }{
		{"acl", "acl_file", "user alice\ntopic sideways a/b\n", "acl:2"},
		{"passwd", "password_file", "alice:$7$101$bm90IGJhc2U2NA$\n", "passwd:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, tc.name)
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			conf := filepath.Join(dir, "midge.conf")
			addr := mosquittotest.FreeAddr(t)
			_, port, _ := net.SplitHostPort(addr)
			os.WriteFile(conf, []byte(fmt.Sprintf("listener %s 127.0.0.1\n%s %s\n", port, tc.file, path)), 0o600)
			var out bytes.Buffer
			status := brokercmd.Run(context.Background(), []string{"-c", conf}, brokercmd.Stdio{Out: &out, Err: &out})
			if status == 0 || !strings.Contains(out.String(), tc.want) {
				t.Fatalf("status %d, output %q; want a failure naming %s", status, out.String(), tc.want)
			}
		})
	}
}
