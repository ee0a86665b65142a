package brokercmd

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/internal/mosquittotest"
	"github.com/midge-mqtt/midge/packets"
)

// SIGHUP reads the configuration file again: a new log_type and
// message_size_limit apply to clients connected all along.
func TestBrokerReloadAppliesConfig(t *testing.T) {
	dir := t.TempDir()
	addr := mosquittotest.FreeAddr(t)
	_, port := splitAddr(t, addr)
	conf := filepath.Join(dir, "midge.conf")
	logFile := filepath.Join(dir, "midge.log")
	write := func(extra ...string) {
		lines := append([]string{"listener " + port + " 127.0.0.1", "allow_anonymous true", "log_dest file " + logFile}, extra...)
		if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("message_size_limit 4")
	reload := runWithReload(t, conf)
	connackCode(t, addr)

	sub := brokertest.Connect(t, addr, packets.V311, "sub", true)
	sub.Send(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: "r"}}})
	sub.Expect()
	pub := brokertest.Connect(t, addr, packets.V311, "pub", true)
	pub.Send(&packets.Publish{Topic: "r", Payload: []byte("too long")})
	pub.Send(&packets.Publish{Topic: "r", Payload: []byte("ok")})
	if p, ok := sub.Expect().(*packets.Publish); !ok || string(p.Payload) != "ok" {
		t.Fatalf("before the reload: %+v", p)
	}

	write("message_size_limit 0", "log_type notice", "log_type subscribe")
	reload <- struct{}{}
	waitForText(t, logFile, "Config reloaded from "+conf+".")
	pub.Send(&packets.Publish{Topic: "r", Payload: []byte("long again")})
	if p, ok := sub.Expect().(*packets.Publish); !ok || string(p.Payload) != "long again" {
		t.Fatalf("after the reload: %+v", p)
	}
	// Subscribe lines are logged now.
	sub.Send(&packets.Subscribe{PacketID: 2, Subscriptions: []packets.Subscription{{Filter: "after/reload"}}})
	sub.Expect()
	waitForText(t, logFile, "sub 0 after/reload")
}

// runWithReload runs the broker command on conf until the test ends; a
// send on the channel it returns is a SIGHUP.
func runWithReload(t *testing.T, conf string) chan<- struct{} {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	reload := make(chan struct{})
	done := make(chan int, 1)
	log := &mosquittotest.SyncBuffer{}
	go func() { done <- RunWithReload(ctx, []string{"-c", conf}, Stdio{Out: log, Err: log}, reload) }()
	t.Cleanup(func() {
		cancel()
		if status := <-done; status != 0 {
			t.Errorf("broker exited %d:\n%s", status, log)
		}
	})
	return reload
}

// waitForText waits until the file holds want.
func waitForText(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never held %q:\n%s", path, want, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
