package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// flipByte changes one byte in the middle of the file.
func flipByte(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xFF
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// fill writes n keys, syncs them and closes the store, which moves them
// into table files.
func fill(t *testing.T, dir string, n int) {
	t.Helper()
	d := openDisk(t, dir, DiskOptions{})
	for i := range n {
		d.Write([][]byte{[]byte(fmt.Sprintf("key%05d", i))}, [][]byte{[]byte(fmt.Sprintf("value of key %05d, long enough", i))}, true, nil)
	}
	done := make(chan error)
	d.Write(nil, nil, true, func(err error) { done <- err })
	<-done
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}

// A table file with bytes flipped or cut short is found: opening or
// loading fails with ErrDamaged; the store is never read as if the damaged
// records had not been there.
func TestDiskDamagedTable(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"flipped", flipByte},
		{"truncated", func(t *testing.T, path string) {
			fi, _ := os.Stat(path)
			if err := os.Truncate(path, fi.Size()/2); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fill(t, dir, 500)
			files, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
			var biggest string
			var size int64
			for _, f := range files {
				if fi, err := os.Stat(f); err == nil && fi.Size() > size {
					biggest, size = f, fi.Size()
				}
			}
			if biggest == "" {
				t.Fatalf("no table file in %s", dir)
			}
			tc.damage(t, biggest)
			d, err := OpenDisk(dir, DiskOptions{})
			if err != nil {
				return // refused at open: good
			}
			defer d.Close()
			n := 0
			err = d.Load(func(k, v []byte) error { n++; return nil })
			if !errors.Is(err, ErrDamaged) {
				t.Fatalf("damaged %s: loaded %d of 500 records without an error", filepath.Base(biggest), n)
			}
		})
	}
}

// A write-ahead log with bytes flipped in its middle, as a crash leaves it
// (nothing flushed into tables yet), is found at open: writes synced later
// record that the log was synced past the damage, so it cannot be the torn
// tail of a write the crash cut short, and the store does not start with
// the records after it quietly gone. (Damage in the last write synced
// still reads as a torn tail: docs/persistence.md, known limits.)
func TestDiskDamagedLog(t *testing.T) {
	dir := t.TempDir()
	d := openDisk(t, dir, DiskOptions{})
	const n = 300 // each synced on its own, as acknowledgements are
	value := make([]byte, 300)
	done := make(chan error)
	for i := range n {
		d.Write([][]byte{[]byte(fmt.Sprintf("key%05d", i))}, [][]byte{value}, true, func(err error) { done <- err })
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	// The crash: the files as they are on disk now, the store still open.
	crashed := t.TempDir()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var biggest string // the log holding the records
	var size int
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(crashed, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
		if filepath.Ext(e.Name()) == ".log" && len(b) > size {
			biggest, size = filepath.Join(crashed, e.Name()), len(b)
		}
	}
	if size < 64<<10 {
		t.Fatalf("the largest write-ahead log holds %d bytes; want several 32 KiB blocks", size)
	}
	flipByte(t, biggest)
	d2, err := OpenDisk(crashed, DiskOptions{})
	if err != nil {
		if !errors.Is(err, ErrDamaged) {
			t.Fatalf("open refused with %v, want ErrDamaged", err)
		}
		return
	}
	defer d2.Close()
	loaded := 0
	err = d2.Load(func(k, v []byte) error { loaded++; return nil })
	t.Fatalf("damaged log: opened, loaded %d of %d records (%v)", loaded, n, err)
}

// damageTable flips 512 bytes in the middle of the largest table file in
// dir and returns its path.
func damageTable(t *testing.T, dir string) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	var biggest string
	var size int64
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil && fi.Size() > size {
			biggest, size = f, fi.Size()
		}
	}
	if size < 4096 {
		t.Fatalf("no table file of 4 KiB in %s (%d)", dir, len(files))
	}
	f, err := os.OpenFile(biggest, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 512)
	if _, err := f.ReadAt(b, size/2-256); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] ^= 0xFF
	}
	if _, err := f.WriteAt(b, size/2-256); err != nil {
		t.Fatal(err)
	}
	return biggest
}

// writeRound writes keys round, round+4, round+8, ... (so that every
// round's table overlaps the others, and four of them make pebble compact
// them together) and waits for them to be synced.
func writeRound(t *testing.T, d *Disk, round int) {
	t.Helper()
	done := make(chan error, 1)
	for i := round; i < 4000; i += 4 {
		d.Write([][]byte{[]byte(fmt.Sprintf("key%05d", i))}, [][]byte{[]byte(fmt.Sprintf("value of key %05d, long enough", i))}, false, nil)
	}
	d.Write(nil, nil, true, func(err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// noCompactions keeps pebble from compacting by itself, so that a test
// says when.
func noCompactions(o *pebble.Options) { o.DisableAutomaticCompactions = true }

// twoTables makes a store in dir with two overlapping tables, pebble
// compacting nothing, and returns it open.
func twoTables(t *testing.T, dir string, opts DiskOptions) *Disk {
	t.Helper()
	opts.tune = noCompactions
	d := openDisk(t, dir, opts)
	for round := range 2 {
		writeRound(t, d, round)
		if err := d.db.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*.sst")); len(files) != 2 {
		t.Fatalf("%d table files, want 2: %v", len(files), files)
	}
	return d
}

// Damage a compaction finds while the store is open (issue 12, item 10)
// stops persistence and nothing else: the process goes on (pebble's
// default is a Fatalf, which panicked on its compaction goroutine), the
// failure is reported once, every write after fails with ErrDamaged,
// Close returns, and the next open refuses the store.
func TestDiskDamageFoundWhileOpen(t *testing.T) {
	dir := t.TempDir()
	failed := make(chan error, 4)
	d := twoTables(t, dir, DiskOptions{Failed: func(err error) { failed <- err }})
	damageTable(t, dir)
	// A compaction of the whole store, run by pebble's compaction
	// goroutine as it would run one of its own.
	if err := d.db.Compact(context.Background(), []byte("a"), []byte("z"), false); err == nil {
		t.Fatal("compacting a damaged table: no error")
	}
	var err error
	select {
	case err = <-failed:
	case <-time.After(10 * time.Second):
		t.Fatal("no failure reported within 10s of the compaction")
	}
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("reported %v, want ErrDamaged naming %s", err, dir)
	}
	got := make(chan error, 1)
	d.Write([][]byte{[]byte("after")}, [][]byte{[]byte("v")}, true, func(err error) { got <- err })
	if err := <-got; !errors.Is(err, ErrDamaged) {
		t.Fatalf("write after the damage: %v, want ErrDamaged", err)
	}
	if err := d.Close(); !errors.Is(err, ErrDamaged) {
		t.Fatalf("Close: %v, want ErrDamaged", err)
	}
	if len(failed) != 0 {
		t.Fatalf("failure reported again: %v", <-failed)
	}
	d, err = OpenDisk(dir, DiskOptions{})
	if err == nil {
		err = d.Load(func(k, v []byte) error { return nil })
		d.Close()
	}
	if !errors.Is(err, ErrDamaged) {
		t.Fatalf("reopened: %v, want ErrDamaged", err)
	}
}

// Damage a compaction finds while the store opens (a crash left a log,
// and its flush at open makes pebble compact) is a refusal wrapping
// ErrDamaged, from OpenDisk or Load, as with any other damage, and the
// process goes on.
func TestDiskDamageFoundAtOpen(t *testing.T) {
	dir := t.TempDir()
	d := twoTables(t, dir, DiskOptions{})
	writeRound(t, d, 2) // in the log only
	crashed := crashCopy(t, dir)
	d.Close()
	damageTable(t, crashed)
	compactAll := func(o *pebble.Options) { o.L0CompactionThreshold = 1 }
	d, err := OpenDisk(crashed, DiskOptions{tune: compactAll})
	if err == nil {
		err = d.Load(func(k, v []byte) error { return nil })
		if cerr := d.Close(); !errors.Is(cerr, ErrDamaged) {
			t.Errorf("Close: %v, want ErrDamaged", cerr)
		}
	}
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), crashed) {
		t.Fatalf("opening the damaged store: %v, want ErrDamaged naming %s", err, crashed)
	}
}

// crashCopy copies the files of the open store in dir, as a crash would
// leave them, to a new directory.
func crashCopy(t *testing.T, dir string) string {
	t.Helper()
	crashed := t.TempDir()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(crashed, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return crashed
}

// A Fatalf on one of pebble's background goroutines (as when a flush
// cannot write the MANIFEST) neither panics nor returns: it parks that
// goroutine, and the store stops with the error, the writes queued
// answered, later ones refused, and Close returns without waiting for
// pebble.
func TestDiskFatalInBackground(t *testing.T) {
	failed := make(chan error, 4)
	d := openDisk(t, t.TempDir(), DiskOptions{Failed: func(err error) { failed <- err }})
	go pebbleLogger{d}.Fatalf("MANIFEST sync failed: %v", fmt.Errorf("sync: %w", syscall.EIO))
	var err error
	select {
	case err = <-failed:
	case <-time.After(10 * time.Second):
		t.Fatal("no failure reported")
	}
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "MANIFEST sync failed") {
		t.Fatalf("reported %v", err)
	}
	got := make(chan error, 1)
	d.Write([][]byte{[]byte("k")}, [][]byte{[]byte("v")}, true, func(err error) { got <- err })
	if err := <-got; !errors.Is(err, ErrDamaged) {
		t.Fatalf("write after: %v", err)
	}
	closed := make(chan error, 1)
	go func() { closed <- d.Close() }()
	select {
	case err := <-closed:
		if !errors.Is(err, ErrDamaged) {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close waited for a wedged pebble")
	}
}
