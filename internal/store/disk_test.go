package store

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func openDisk(t *testing.T, dir string, opts DiskOptions) *Disk {
	t.Helper()
	d, err := OpenDisk(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func loadAll(t *testing.T, d interface {
	Load(func(k, v []byte) error) error
}) map[string]string {
	t.Helper()
	m := make(map[string]string)
	if err := d.Load(func(k, v []byte) error { m[string(k)] = string(v); return nil }); err != nil {
		t.Fatal(err)
	}
	return m
}

// Writes from many goroutines are applied in order, their done functions
// called in the order of the writes, and everything is there after a
// reopen.
func TestDiskWriteOrderAndReopen(t *testing.T) {
	for _, opts := range []DiskOptions{{}, {SyncInterval: 10 * time.Millisecond}} {
		t.Run(fmt.Sprintf("interval %v", opts.SyncInterval), func(t *testing.T) {
			dir := t.TempDir()
			d := openDisk(t, dir, opts)
			var mu sync.Mutex
			var order []int
			var failed []error
			var wg sync.WaitGroup
			var issue sync.Mutex // makes "the order of the writes" observable
			next := 0
			for g := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 50 {
						issue.Lock()
						n := next
						next++
						key := fmt.Sprintf("k/%d/%02d", g, i)
						d.Write([][]byte{[]byte(key)}, [][]byte{[]byte(fmt.Sprint(n))}, i%2 == 0, func(err error) {
							mu.Lock()
							order = append(order, n)
							if err != nil {
								failed = append(failed, err) // reported by the test's goroutine
							}
							mu.Unlock()
						})
						issue.Unlock()
					}
				}()
			}
			wg.Wait()
			d.Write([][]byte{[]byte("k/0/00")}, [][]byte{nil}, true, nil) // a delete
			done := make(chan error)
			d.Write(nil, nil, true, func(err error) { done <- err }) // an empty sync
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			if len(failed) > 0 {
				t.Fatalf("%d writes failed, the first: %v", len(failed), failed[0])
			}
			for i := range order {
				if order[i] != i {
					t.Fatalf("done %d called in position %d", order[i], i)
				}
			}
			mu.Unlock()
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			d = openDisk(t, dir, opts)
			defer d.Close()
			m := loadAll(t, d)
			if len(m) != 399 || m["k/0/00"] != "" || m["k/7/49"] == "" {
				t.Fatalf("after reopen: %d keys", len(m))
			}
		})
	}
}

// A write after Close fails with ErrClosed; Load on a fresh directory is
// empty.
func TestDiskClosed(t *testing.T) {
	d := openDisk(t, t.TempDir(), DiskOptions{})
	if m := loadAll(t, d); len(m) != 0 {
		t.Fatalf("fresh store holds %d keys", len(m))
	}
	d.Close()
	var got error
	d.Write([][]byte{[]byte("a")}, [][]byte{[]byte("b")}, true, func(err error) { got = err })
	if got != ErrClosed {
		t.Fatalf("write after Close: %v", got)
	}
}

// A store whose files were damaged is refused with an error, not read as
// empty.
func TestDiskDamaged(t *testing.T) {
	dir := t.TempDir()
	d := openDisk(t, dir, DiskOptions{})
	for i := range 100 {
		d.Write([][]byte{[]byte(fmt.Sprintf("key%03d", i))}, [][]byte{[]byte("value")}, true, nil)
	}
	d.Close()
	files, _ := filepath.Glob(filepath.Join(dir, "MANIFEST-*"))
	if len(files) == 0 {
		t.Fatal("no MANIFEST")
	}
	if err := os.WriteFile(files[0], []byte("not a manifest at all"), 0o600); err != nil {
		t.Fatal(err)
	}
	if d, err := OpenDisk(dir, DiskOptions{}); err == nil {
		d.Close()
		t.Fatal("a damaged store opened without an error")
	}
}

// Below MinFree free space, writes fail with ErrDiskFull and nothing
// reaches pebble, which cannot go on after a write the disk refuses.
func TestDiskFull(t *testing.T) {
	d := openDisk(t, t.TempDir(), DiskOptions{})
	defer d.Close()
	d.opts.MinFree = 1 << 62 // the disk fills up
	got := make(chan error, 1)
	d.Write([][]byte{[]byte("k")}, [][]byte{[]byte("v")}, true, func(err error) { got <- err })
	if err := <-got; err != ErrDiskFull {
		t.Fatalf("write with no room: %v, want ErrDiskFull", err)
	}
	if m := loadAll(t, d); len(m) != 0 {
		t.Fatalf("store holds %d keys", len(m))
	}
}
