//go:build linux

package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/mosquittotest"
)

// fillUp fills the filesystem of dir, leaving about leave bytes free.
func fillUp(t *testing.T, dir string, leave int) {
	t.Helper()
	slack := filepath.Join(dir, "slack")
	if err := os.WriteFile(slack, make([]byte, leave), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	for err == nil {
		_, err = f.Write(buf)
	}
	f.Close()
	os.Remove(slack)
}

// Starting on a full filesystem (issue 12, item 10) is a refusal that says
// "no space left on device" and wraps ErrDiskFull, for a new store and an
// existing one alike: not ErrDamaged (a new store was called damaged), and
// no panic (an existing one panicked on pebble's flush goroutine). Below
// the free space the store keeps, refused before pebble opens; and, for a
// new store, with a reserve too small to keep pebble from meeting the full
// disk. (An existing store with 4 KiB left sometimes opens: pebble's
// writes at open happen to fit.)
func TestDiskOpenFull(t *testing.T) {
	for _, tc := range []struct {
		name     string
		existing bool
		minFree  uint64
		leave    int
	}{
		{"new store", false, 0, 0},
		{"existing store", true, 0, 0},
		{"new store, pebble meets the full disk", false, 1, 4096},
	} {
		t.Run(tc.name, func(t *testing.T) {
			disk := mosquittotest.SmallDisk(t, 8)
			dir := filepath.Join(disk, "store")
			if tc.existing {
				fill(t, dir, 500)
			}
			fillUp(t, disk, tc.leave)
			d, err := OpenDisk(dir, DiskOptions{MinFree: tc.minFree})
			if err == nil {
				d.Close()
				t.Fatal("opened on a full disk")
			}
			if !errors.Is(err, ErrDiskFull) || errors.Is(err, ErrDamaged) ||
				!strings.Contains(err.Error(), "no space left on device") || !strings.Contains(err.Error(), dir) {
				t.Fatalf("opening on a full disk: %v, want ErrDiskFull saying no space left on device in %s", err, dir)
			}
		})
	}
}

// A disk that refuses pebble a write while the store is open (it filled
// faster than the free space the store keeps) stops persistence: the
// write fails with ErrDiskFull (pebble's Fatalf, on the committer), so
// does every write after, and Close returns.
func TestDiskFullWhileOpen(t *testing.T) {
	disk := mosquittotest.SmallDisk(t, 8)
	failed := make(chan error, 4)
	d := openDisk(t, filepath.Join(disk, "store"), DiskOptions{MinFree: 1, Failed: func(err error) { failed <- err }})
	fillUp(t, disk, 8192) // more than MinFree, less than a write
	value := make([]byte, 64<<10)
	got := make(chan error, 1)
	d.Write([][]byte{[]byte("k")}, [][]byte{value}, true, func(err error) { got <- err })
	if err := <-got; !errors.Is(err, ErrDiskFull) {
		t.Fatalf("the write the disk refused: %v, want ErrDiskFull", err)
	}
	// Failed is called after the writes in flight are answered, so it
	// may come a moment after got.
	var err error
	select {
	case err = <-failed:
	case <-time.After(10 * time.Second):
		t.Fatal("no failure reported")
	}
	if !errors.Is(err, ErrDiskFull) || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("reported %v, want ErrDiskFull", err)
	}
	d.Write([][]byte{[]byte("k")}, [][]byte{[]byte("v")}, true, func(err error) { got <- err })
	if err := <-got; !errors.Is(err, ErrDiskFull) {
		t.Fatalf("write after: %v, want ErrDiskFull", err)
	}
	if err := d.Close(); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("Close: %v, want ErrDiskFull", err)
	}
}
