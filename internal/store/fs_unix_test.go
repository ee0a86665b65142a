//go:build unix

package store

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// checkPrivate fails t unless dir is 0700 and every file in it 0600.
func checkPrivate(t *testing.T, dir string) {
	t.Helper()
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("store folder is %#o, want 0700", fi.Mode().Perm())
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < 3 {
		t.Fatalf("store holds %d files", len(entries))
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s is %#o, want 0600", e.Name(), info.Mode().Perm())
		}
	}
}

// The store's folder is 0700 and its files (log, tables, MANIFEST,
// OPTIONS, LOCK, markers) 0600, even under umask 0.
func TestDiskModes(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "store")
	fill(t, dir, 10)
	fill(t, dir, 10) // a reopen makes a log and tables
	checkPrivate(t, dir)
}

// An existing store other users could read (written before midge set
// modes) is made private at open, which Notice is told once.
func TestDiskTightensLooseStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	fill(t, dir, 10)
	os.Chmod(dir, 0o755)
	filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			os.Chmod(path, 0o644)
		}
		return err
	})
	var notices []string
	notice := func(msg string) { notices = append(notices, msg) }
	d := openDisk(t, dir, DiskOptions{Notice: notice})
	checkPrivate(t, dir)
	if len(notices) != 1 || !strings.Contains(notices[0], dir) || !strings.Contains(notices[0], "folder 0755 to 0700") {
		t.Errorf("notices %q, want one naming the store and its folder's modes", notices)
	}
	d.Close()
	notices = nil
	openDisk(t, dir, DiskOptions{Notice: notice}).Close()
	if len(notices) != 0 {
		t.Errorf("a private store gave notices %q", notices)
	}
}
