//go:build !linux

package brokercmd

import "net"

// setUserTimeout is Linux's only: false elsewhere.
func setUserTimeout(*net.Dialer, int) bool { return false }
