package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
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
