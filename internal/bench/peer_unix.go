//go:build unix

package bench

import (
	"crypto/tls"
	"errors"
	"net"
	"syscall"
)

// peerClosed reports whether the broker has closed nc, by one non-blocking
// read of the socket: end of stream or an error means closed; no data
// (EAGAIN) or a waiting PINGRESP means open.
func peerClosed(nc net.Conn) bool {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	closed := false
	var buf [64]byte
	rc.Read(func(fd uintptr) bool {
		n, err := syscall.Read(int(fd), buf[:])
		closed = n == 0 && err == nil || err != nil && !errors.Is(err, syscall.EAGAIN)
		return true
	})
	return closed
}
