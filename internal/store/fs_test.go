package store

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A store whose parent folder does not exist is refused, naming the
// highest missing folder, and nothing is created; the store's own folder
// is made in a parent that exists.
func TestDiskMissingParent(t *testing.T) {
	top := t.TempDir()
	dir := filepath.Join(top, "a", "b", "store")
	d, err := OpenDisk(dir, DiskOptions{})
	if err == nil {
		d.Close()
		t.Fatal("a store opened under folders that do not exist")
	}
	var missing *MissingParentError
	if !errors.As(err, &missing) || missing.Missing != filepath.Join(top, "a") || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("error %v, want a MissingParentError naming %s", err, filepath.Join(top, "a"))
	}
	if _, err := os.Stat(filepath.Join(top, "a")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s was created: %v", filepath.Join(top, "a"), err)
	}
	openDisk(t, filepath.Join(top, "store"), DiskOptions{}).Close()
}

// A store open in this process cannot be opened again: the error wraps
// ErrInUse, and the store opens once released.
func TestDiskInUse(t *testing.T) {
	dir := t.TempDir()
	d := openDisk(t, dir, DiskOptions{})
	if again, err := OpenDisk(dir, DiskOptions{}); !errors.Is(err, ErrInUse) {
		if err == nil {
			again.Close()
		}
		t.Fatalf("second open: %v, want ErrInUse", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	openDisk(t, dir, DiskOptions{}).Close()
}

// holdEnv names the store the helper process of TestDiskInUseByAnotherProcess
// holds open.
const holdEnv = "MIDGE_STORE_TEST_HOLD"

// A store another process has open (its fcntl lock held) is refused with
// an error wrapping ErrInUse; the test binary runs itself as that process.
func TestDiskInUseByAnotherProcess(t *testing.T) {
	if dir := os.Getenv(holdEnv); dir != "" {
		holdStore(t, dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestDiskInUseByAnotherProcess$")
	cmd.Env = append(os.Environ(), holdEnv+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- line
		io.Copy(io.Discard, stdout)
	}()
	select {
	case line := <-ready:
		if line != "holding\n" {
			t.Fatalf("helper process said %q", line)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("helper process did not open the store within 10s")
	}
	if d, err := OpenDisk(dir, DiskOptions{}); !errors.Is(err, ErrInUse) {
		if err == nil {
			d.Close()
		}
		t.Fatalf("open beside another process: %v, want ErrInUse", err)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper process: %v", err)
	}
	openDisk(t, dir, DiskOptions{}).Close()
}

// holdStore opens the store in dir, says so on stdout, and closes it when
// stdin ends.
func holdStore(t *testing.T, dir string) {
	d := openDisk(t, dir, DiskOptions{})
	os.Stdout.WriteString("holding\n")
	io.Copy(io.Discard, os.Stdin)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}

// A file where the store's folder goes is refused as not a folder.
func TestDiskNotAFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	os.WriteFile(dir, nil, 0o600)
	if d, err := OpenDisk(dir, DiskOptions{}); !errors.Is(err, syscall.ENOTDIR) {
		if err == nil {
			d.Close()
		}
		t.Fatalf("open over a file: %v, want ENOTDIR", err)
	}
}
