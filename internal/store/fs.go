package store

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// The store's files hold every client's messages, so only the broker's
// user may read them, as Mosquitto keeps mosquitto.db 0600: the store's
// folder is 0700 and every file in it 0600, whatever the umask. Pebble
// creates its files through a vfs.FS with 0666 less the umask (0644 for
// most), and has no option for the mode; privateFS wraps vfs.Default and
// sets the modes on what pebble creates. A file exists under the umask's
// mode for an instant before its chmod, inside a folder that is already
// 0700, which nobody else can enter.
const (
	dirMode  fs.FileMode = 0o700
	fileMode fs.FileMode = 0o600
)

// ErrInUse is wrapped by the error of OpenDisk for a store that another
// process (or another Disk in this one) has open: pebble's LOCK file in
// the store's folder is held.
var ErrInUse = errors.New("store: in use by another process")

// MissingParentError is the error of OpenDisk for a store whose parent
// folder does not exist: the store makes its own folder in an existing
// one, as Mosquitto makes mosquitto.db, and never the folders above it,
// where a mistyped path would otherwise grow a tree. It wraps
// fs.ErrNotExist.
type MissingParentError struct {
	Dir     string // the store's folder
	Missing string // the highest folder above it that does not exist
}

func (e *MissingParentError) Error() string {
	return "store: opening " + e.Dir + ": " + e.Missing + " does not exist"
}

func (e *MissingParentError) Unwrap() error { return fs.ErrNotExist }

// missingParent is the highest folder above dir that does not exist, or
// "" when dir's parent exists (or cannot be looked at: the open that
// follows says why).
func missingParent(dir string) string {
	missing := ""
	for p := filepath.Dir(filepath.Clean(dir)); ; p = filepath.Dir(p) {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			return missing
		}
		missing = p
		if filepath.Dir(p) == p {
			return missing
		}
	}
}

// privateFS is vfs.Default with the store's modes (above): the folder is
// made 0700 and without parents, the files 0600. Pebble's LOCK file held
// elsewhere is an error wrapping ErrInUse.
type privateFS struct{ vfs.FS }

func (p privateFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := p.FS.Create(name, category)
	return p.private(name, f, err)
}

func (p privateFS) OpenReadWrite(name string, category vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := p.FS.OpenReadWrite(name, category, opts...)
	return p.private(name, f, err)
}

func (p privateFS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := p.FS.ReuseForWrite(oldname, newname, category)
	return p.private(newname, f, err)
}

// private sets the mode of name, which f was opened on, to fileMode.
func (p privateFS) private(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return f, err
	}
	if err := os.Chmod(name, fileMode); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// MkdirAll makes dir, not its parents, with dirMode (pebble asks for
// 0755 and parents).
func (p privateFS) MkdirAll(dir string, _ os.FileMode) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return &fs.PathError{Op: "mkdir", Path: dir, Err: syscall.ENOTDIR}
		}
		return nil
	}
	if err := os.Mkdir(dir, dirMode); err != nil {
		return err
	}
	return os.Chmod(dir, dirMode) // the umask may have taken bits off
}

// Lock takes pebble's LOCK file, 0600. A lock another process holds
// (fcntl says EAGAIN or EACCES) or this one (pebble keeps its own table)
// is an error wrapping ErrInUse.
func (p privateFS) Lock(name string) (io.Closer, error) {
	c, err := p.FS.Lock(name)
	if err != nil {
		if lockHeld(err) {
			return nil, fmt.Errorf("%w: %s: %v", ErrInUse, name, err)
		}
		return nil, err
	}
	if err := os.Chmod(name, fileMode); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// lockHeld reports whether err, from vfs.Default's Lock, says that the
// lock is held. A file it could not create (no permission) is a
// *fs.PathError, and not that; pebble's test of its own process's locks
// has no error value to match, only its text.
func lockHeld(err error) bool {
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) {
		return false
	}
	return errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES) ||
		strings.Contains(err.Error(), "lock held by current process")
}

func (p privateFS) Unwrap() vfs.FS { return p.FS }

// tighten makes an existing store private: a folder other users may
// enter becomes dirMode, and files they may read or write fileMode (a
// store written before midge set modes, or copied in with looser ones).
// It returns what it changed, for the log, or "".
func tighten(dir string) (string, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return "", err
	}
	var changed []string
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, dirMode); err != nil {
			return "", err
		}
		changed = append(changed, fmt.Sprintf("folder %#o to %#o", fi.Mode().Perm(), dirMode))
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	files := 0
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() || info.Mode().Perm()&0o077 == 0 {
			continue
		}
		if err := os.Chmod(filepath.Join(dir, e.Name()), fileMode); err != nil {
			return "", err
		}
		files++
	}
	if files > 0 {
		changed = append(changed, fmt.Sprintf("%d files to %#o", files, fileMode))
	}
	if len(changed) == 0 {
		return "", nil
	}
	return "store " + dir + " was open to other users: made private (" + strings.Join(changed, ", ") + ")", nil
}
