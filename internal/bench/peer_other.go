//go:build !unix

package bench

import "net"

// peerClosed cannot tell on this platform without blocking; it reports
// false.
func peerClosed(nc net.Conn) bool { return false }
