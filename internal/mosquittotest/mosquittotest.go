// Package mosquittotest runs Debian's mosquitto broker on a free loopback
// port for tests, so that midge's client and tools can be checked against
// the reference implementation. It also holds the small helpers such tests
// share with it: a buffer that several goroutines may write (for a
// process's output), a wait that polls to a deadline, and a small disk to
// fill.
//
// It imports only the standard library, so any test package may use it.
package mosquittotest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds how long Start waits for mosquitto to accept.
const startTimeout = 10 * time.Second

// Start runs mosquitto on a free 127.0.0.1 port and returns its address
// ("127.0.0.1:PORT") once it accepts connections. Its config is
// "listener PORT 127.0.0.1" and "allow_anonymous true", then the lines of
// extraConfig; a setting repeated there overrides these, so
// "allow_anonymous false" gives a broker that refuses anonymous clients.
// The process is killed when the test ends, and its log is written to the
// test's log if the test failed. Start skips the test when mosquitto is
// not installed (see NeedBinary).
func Start(t testing.TB, extraConfig string) string {
	t.Helper()
	return Run(t, FreeAddr(t), extraConfig).Addr
}

// Process is a mosquitto that Run started.
type Process struct {
	Addr string
	Log  *SyncBuffer // its stdout and stderr, across restarts

	t      testing.TB
	path   string
	conf   string
	cmd    *exec.Cmd
	exited chan struct{}
}

// Run is Start on addr, returning the process so that a test can stop it
// (a remote going away) and start it again on the same port and config.
func Run(t testing.TB, addr, extraConfig string) *Process {
	t.Helper()
	p := &Process{Addr: addr, Log: &SyncBuffer{}, t: t, path: NeedBinary(t, "mosquitto")}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("mosquittotest: %v", err)
	}
	p.conf = filepath.Join(t.TempDir(), "mosquitto.conf")
	config := fmt.Sprintf("listener %s 127.0.0.1\nallow_anonymous true\n%s\n", port, extraConfig)
	if err := os.WriteFile(p.conf, []byte(config), 0o600); err != nil {
		t.Fatalf("mosquittotest: %v", err)
	}
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("mosquitto log:\n%s", p.Log)
		}
	})
	p.Restart()
	return p
}

// Stop ends the process with SIGTERM (mosquitto then saves its
// persistence file), or SIGKILL after 10s; it does nothing when the
// process is not running.
func (p *Process) Stop() {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
	p.cmd = nil
}

// Restart starts the process again (after Stop) and waits until it
// accepts connections.
func (p *Process) Restart() {
	p.t.Helper()
	p.Stop()
	cmd := exec.Command(p.path, "-c", p.conf)
	cmd.Stdout, cmd.Stderr = p.Log, p.Log
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("mosquittotest: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	p.cmd, p.exited = cmd, exited
	WaitFor(p.t, startTimeout, "mosquitto to accept on "+p.Addr, func() bool {
		select {
		case <-exited:
			p.cmd = nil
			p.t.Fatalf("mosquittotest: mosquitto exited: %s", p.Log)
		default:
		}
		c, err := net.DialTimeout("tcp", p.Addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// NeedBinary returns the path of the program name, looked for on PATH and
// in /usr/sbin and /usr/bin. When it is missing the test is skipped, unless
// the environment variable CI is set: there it must be installed, and the
// test fails.
func NeedBinary(t testing.TB, name string) string {
	t.Helper()
	for _, p := range []string{name, "/usr/sbin/" + name, "/usr/bin/" + name} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("mosquittotest: %s is not installed, and CI is set", name)
	}
	t.Skipf("%s is not installed", name)
	return ""
}

// FreeAddr returns a 127.0.0.1 address ("127.0.0.1:PORT") that nothing
// listens on: a port just released by the kernel.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mosquittotest: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// WaitFor polls cond until it holds, failing the test with what when it
// still does not after timeout. It must be called from the test's own
// goroutine; cond may fail the test itself.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond) // polling
	}
}

// SyncBuffer is a bytes.Buffer that is safe for concurrent use, such as a
// process's stdout and stderr written while the test reads them. The zero
// value is an empty buffer ready to use.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer // guarded by mu
}

// Write appends p to the buffer.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what has been written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
