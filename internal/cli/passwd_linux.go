package cli

import (
	"io"
	"os"
	"syscall"
	"unsafe"
)

// disableEcho turns echo off on in when it is a terminal, leaving line
// editing and signals on, and returns the function that restores it. ok is
// false, and nothing changed, when in is not a terminal.
func disableEcho(in io.Reader) (restore func(), ok bool) {
	f, isFile := in.(*os.File)
	if !isFile {
		return nil, false
	}
	fd := f.Fd()
	var old syscall.Termios
	if termios(fd, syscall.TCGETS, &old) != nil {
		return nil, false // not a terminal
	}
	quiet := old
	quiet.Lflag &^= syscall.ECHO
	quiet.Lflag |= syscall.ICANON | syscall.ISIG
	if termios(fd, syscall.TCSETS, &quiet) != nil {
		return nil, false
	}
	return func() { termios(fd, syscall.TCSETS, &old) }, true
}

// termios gets or sets the terminal attributes of fd.
func termios(fd, request uintptr, t *syscall.Termios) error {
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, request, uintptr(unsafe.Pointer(t)))
	if errno != 0 {
		return errno
	}
	return nil
}

// keepOwner gives f the owner and group of the file old describes, as far
// as the process may: root keeps a broker's file readable by the broker's
// user; others cannot give a file away, and then own the new one.
func keepOwner(f *os.File, old os.FileInfo) {
	if st, ok := old.Sys().(*syscall.Stat_t); ok {
		f.Chown(int(st.Uid), int(st.Gid)) // best effort, as documented
	}
}
