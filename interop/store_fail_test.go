//go:build !windows

package interop

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/internal/mosquittotest"
	"github.com/midge-mqtt/midge/packets"
)

// refusedStart starts the broker over its store, which must refuse it:
// exit status 1, a message that says want and names dir, and no Go panic
// or stack trace.
func refusedStart(t *testing.T, b *crashBroker, dir, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, b.bin, "broker", "-c", b.conf).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("start over the store: %v, want exit status 1\n%s", err, out)
	}
	if s := string(out); !strings.Contains(s, want) || !strings.Contains(s, dir) ||
		strings.Contains(s, "goroutine ") || strings.Contains(s, "panic") {
		t.Fatalf("start over the store said:\n%s\nwant %q naming %s, without a stack trace", s, want, dir)
	}
}

// storeWithTables stops b after retaining enough messages that its store
// holds a table file of several blocks.
func storeWithTables(t *testing.T, b *crashBroker) {
	t.Helper()
	c := brokertest.Connect(t, b.addr, packets.V311, "filler", true)
	payload := make([]byte, 1024)
	rand.Read(payload) // incompressible
	for n := 1; n <= 200; n++ {
		c.Send(&packets.Publish{Topic: "tables/" + string(rune('a'+n%26)) + string(rune('a'+n/26)), QoS: 1, Retain: true, PacketID: uint16(n), Payload: payload})
		c.Expect()
	}
	b.stop(syscall.SIGTERM) // flushes the log into a table
}

// A table file with 512 bytes damaged in its middle (issue 12, item 10)
// refuses the start with the message that names the store, exit status 1,
// and no stack trace.
func TestStartOverDamagedTable(t *testing.T) {
	dir := t.TempDir()
	b := newCrashBroker(t, dir)
	storeWithTables(t, b)
	store := filepath.Join(dir, "mosquitto.db.midge")
	files, _ := filepath.Glob(filepath.Join(store, "*.sst"))
	var biggest string
	var size int64
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil && fi.Size() > size {
			biggest, size = f, fi.Size()
		}
	}
	if size < 64<<10 {
		t.Fatalf("no table of 64 KiB in %s: %v", store, files)
	}
	data, _ := os.ReadFile(biggest)
	for i := range 512 {
		data[len(data)/2-256+i] ^= 0xFF
	}
	os.WriteFile(biggest, data, 0o600)
	refusedStart(t, b, store, "store: damaged")
}

// Starting on a full filesystem with an existing store (issue 12, item 10)
// says "no space left on device" and exits 1; it panicked on pebble's
// flush goroutine (exit status 2, a stack trace), and a new store on a
// full filesystem was called damaged.
func TestStartOnFullDisk(t *testing.T) {
	disk := mosquittotest.SmallDisk(t, 16)
	b := newCrashBroker(t, disk)
	storeWithTables(t, b)
	store := filepath.Join(disk, "mosquitto.db.midge")
	fillDisk(t, disk)
	refusedStart(t, b, store, "no space left on device")
	os.RemoveAll(store) // a new store, on a disk as full
	fillDisk(t, disk)
	refusedStart(t, b, store, "no space left on device")
}

// fillDisk fills the filesystem of dir.
func fillDisk(t *testing.T, dir string) {
	f, err := os.OpenFile(filepath.Join(dir, "filler"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	for err == nil {
		_, err = f.Write(buf)
	}
	f.Close()
}
