package brokercmd

import (
	"net"
	"syscall"
)

// tcpUserTimeout is Linux's TCP_USER_TIMEOUT socket option.
const tcpUserTimeout = 0x12

// setUserTimeout makes d's connections give up once sent data has waited
// ms milliseconds for an acknowledgement; true where the system has it.
func setUserTimeout(d *net.Dialer, ms int) bool {
	d.Control = func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, tcpUserTimeout, ms)
		})
		if err != nil {
			return err
		}
		return serr
	}
	return true
}
