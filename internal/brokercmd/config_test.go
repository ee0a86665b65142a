package brokercmd

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/internal/mosquittotest"
	"github.com/midge-mqtt/midge/internal/store"
	"github.com/midge-mqtt/midge/packets"
)

// persistenceConf writes a configuration with persistence in location and
// one listener on a free loopback port, and returns its path and the
// listener's address.
func persistenceConf(t *testing.T, location string) (conf, addr string) {
	t.Helper()
	addr = mosquittotest.FreeAddr(t)
	_, port := splitAddr(t, addr)
	conf = filepath.Join(t.TempDir(), "midge.conf")
	lines := []string{"persistence true", "persistence_location " + location, "allow_anonymous true",
		"listener " + port + " 127.0.0.1", ""}
	if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	return conf, addr
}

// brokerFails runs `midge broker -c conf`, which must exit at once with
// status 1, and returns what it wrote.
func brokerFails(t *testing.T, conf string) string {
	t.Helper()
	var out mosquittotest.SyncBuffer
	done := make(chan int, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		done <- Run(ctx, []string{"-c", conf}, Stdio{Out: &out, Err: &out})
	}()
	select {
	case status := <-done:
		if status != 1 {
			t.Fatalf("broker exited %d, want 1; output:\n%s", status, &out)
		}
	case <-time.After(10 * time.Second):
		cancel()
		<-done
		t.Fatalf("broker started; output:\n%s", &out)
	}
	return out.String()
}

// A store another process (here: this test) has open is reported as in
// use, without the advice to move it aside that would have the user move
// a live store.
func TestBrokerStoreInUse(t *testing.T) {
	dir := t.TempDir()
	conf, _ := persistenceConf(t, dir+"/")
	held, err := store.OpenDisk(filepath.Join(dir, "mosquitto.db.midge"), store.DiskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	out := brokerFails(t, conf)
	want := "Error: the store " + filepath.Join(dir, "mosquitto.db.midge") + " is in use by another midge process\n"
	if !strings.Contains(out, want) || strings.Contains(out, "aside") {
		t.Fatalf("output:\n%s\nwant %q and no advice to move the store aside", out, want)
	}
}

// A persistence_location whose folders do not exist is reported, naming
// the highest missing one, and nothing is created; a store whose files are
// damaged still gets the advice to move it aside, and another failure
// (a file where the store's folder goes) does not.
func TestBrokerStoreOpenErrors(t *testing.T) {
	t.Run("missing location", func(t *testing.T) {
		top := t.TempDir()
		location := filepath.Join(top, "a", "b") + "/"
		out := brokerFails(t, mustConf(t, location))
		want := "Error: persistence_location " + location + ": " + filepath.Join(top, "a") + " does not exist\n"
		if !strings.Contains(out, want) || strings.Contains(out, "aside") {
			t.Fatalf("output:\n%s\nwant %q", out, want)
		}
		if _, err := os.Stat(filepath.Join(top, "a")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s was created: %v", filepath.Join(top, "a"), err)
		}
	})
	t.Run("damaged", func(t *testing.T) {
		dir := t.TempDir()
		st, err := store.OpenDisk(filepath.Join(dir, "mosquitto.db.midge"), store.DiskOptions{})
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
		manifests, _ := filepath.Glob(filepath.Join(dir, "mosquitto.db.midge", "MANIFEST-*"))
		for _, m := range manifests {
			os.WriteFile(m, []byte("not a manifest at all"), 0o600)
		}
		out := brokerFails(t, mustConf(t, dir+"/"))
		if !strings.Contains(out, "move "+filepath.Join(dir, "mosquitto.db.midge")+" aside") {
			t.Fatalf("output:\n%s\nwant the advice to move the store aside", out)
		}
	})
	t.Run("not a folder", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "mosquitto.db.midge"), nil, 0o600)
		out := brokerFails(t, mustConf(t, dir+"/"))
		if !strings.Contains(out, "not a directory") || strings.Contains(out, "aside") {
			t.Fatalf("output:\n%s\nwant the error without advice to move the store aside", out)
		}
	})
}

func mustConf(t *testing.T, location string) string {
	conf, _ := persistenceConf(t, location)
	return conf
}

// At start the broker logs what it restored from the store.
func TestBrokerLogsRestored(t *testing.T) {
	dir := t.TempDir()
	conf, addr := persistenceConf(t, dir+"/")
	stop, log := startBroker(t, conf)
	waitLog(t, log, "Restored 0 sessions, 0 retained messages and 0 queued messages from "+
		filepath.Join(dir, "mosquitto.db.midge")+".")
	connackCode(t, addr) // listening
	c := brokertest.Connect(t, addr, packets.V311, "durable", false)
	c.Send(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: "q", QoS: 1}}})
	c.Expect() // SUBACK
	c.Net.Close()
	pub := brokertest.Connect(t, addr, packets.V311, "pub", true)
	pub.Send(&packets.Publish{Topic: "r", Retain: true, Payload: []byte("kept")})
	// The subscriber's session may not have ended yet: its QoS 1 message
	// is queued either way, as it is persistent.
	pub.Send(&packets.Publish{Topic: "q", QoS: 1, PacketID: 1, Payload: []byte("queued")})
	pub.Expect() // PUBACK: both are in the store
	stop()

	stop, log = startBroker(t, conf)
	defer stop()
	waitLog(t, log, "Restored 1 session, 1 retained message and 1 queued message from "+
		filepath.Join(dir, "mosquitto.db.midge")+".")
}

// startBroker runs `midge broker -c conf`; stop ends it and checks that
// it exited 0.
func startBroker(t *testing.T, conf string) (stop func(), log *mosquittotest.SyncBuffer) {
	t.Helper()
	log = &mosquittotest.SyncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"-c", conf}, Stdio{Out: log, Err: log})
	}()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case status := <-done:
			if status != 0 {
				t.Errorf("broker exited %d; log:\n%s", status, log)
			}
		case <-time.After(10 * time.Second):
			t.Error("broker did not stop within 10s of cancellation")
		}
	}
	t.Cleanup(stop)
	return stop, log
}

// waitLog waits up to 5s for log to hold line.
func waitLog(t *testing.T, log *mosquittotest.SyncBuffer, line string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(log.String(), line) {
		if time.Now().After(deadline) {
			t.Fatalf("log lacks %q:\n%s", line, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
