package mosquittotest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// SmallDisk mounts a tmpfs of mib MiB for the test and returns its
// directory; it is unmounted when the test ends. Filling it is how tests
// meet a full disk. Mounting needs root (CI runs as root); without it, or
// where mount fails, the test is skipped with the reason.
func SmallDisk(t testing.TB, mib int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	disk := filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(disk, 0o700); err != nil {
		t.Fatal(err)
	}
	size := fmt.Sprintf("size=%dm", mib)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", size, "tmpfs", disk).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", disk).Run() })
	return disk
}
