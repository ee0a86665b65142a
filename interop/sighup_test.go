//go:build !windows

package interop

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/mosquittotest"
)

// The midge binary reloads its password file on SIGHUP, as mosquitto does:
// a user added to the file can connect afterwards, and the process keeps
// running.
func TestSIGHUPReloadsPasswordFile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the midge binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "midge")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/midge").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	passwd := filepath.Join(dir, "passwd")
	if out, err := exec.Command(bin, "passwd", "-c", "-b", passwd, "alice", "pw").CombinedOutput(); err != nil {
		t.Fatalf("midge passwd: %v\n%s", err, out)
	}
	addr := mosquittotest.FreeAddr(t)
	port := addr[strings.LastIndex(addr, ":")+1:]
	conf := filepath.Join(dir, "midge.conf")
	os.WriteFile(conf, []byte("listener "+port+" 127.0.0.1\nallow_anonymous false\npassword_file "+passwd+"\n"), 0o600)
	log := &mosquittotest.SyncBuffer{}
	cmd := exec.Command(bin, "broker", "-c", conf)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("broker log:\n%s", log)
		}
	})
	pub := func(user, pw string) error {
		_, err := exec.Command(bin, "pub", "-h", "127.0.0.1", "-p", port, "-u", user, "-P", pw, "-t", "t", "-m", "x").CombinedOutput()
		return err
	}
	mosquittotest.WaitFor(t, 10*time.Second, "alice connects", func() bool { return pub("alice", "pw") == nil })
	if out, err := exec.Command(bin, "passwd", "-b", passwd, "bob", "pw2").CombinedOutput(); err != nil {
		t.Fatalf("midge passwd: %v\n%s", err, out)
	}
	if pub("bob", "pw2") == nil {
		t.Fatal("bob admitted before SIGHUP")
	}
	cmd.Process.Signal(syscall.SIGHUP)
	mosquittotest.WaitFor(t, 5*time.Second, "reload logged", func() bool {
		return strings.Contains(log.String(), "Password file reloaded from")
	})
	if err := pub("bob", "pw2"); err != nil {
		t.Fatalf("bob refused after SIGHUP: %v", err)
	}
	select {
	case <-exited:
		t.Fatal("the broker exited on SIGHUP")
	default:
	}
}
