package bench

import "syscall"

// ipBindAddressNoPort is Linux's IP_BIND_ADDRESS_NO_PORT (24), which the
// syscall package does not name.
const ipBindAddressNoPort = 24

// dialControl asks Linux to choose the source port at connect time rather
// than at bind time, so that a client bound to a source address may reuse
// a port still in TIME_WAIT from an earlier run toward another destination.
func dialControl(network, address string, rc syscall.RawConn) error {
	// An older kernel refuses the option; bind then chooses the port,
	// which works too, so the error is ignored.
	return rc.Control(func(fd uintptr) {
		syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
	})
}
