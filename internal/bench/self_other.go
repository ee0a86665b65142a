//go:build !unix && !windows

package bench

import "time"

// selfCPU is not available on this platform.
func selfCPU() (time.Duration, bool) { return 0, false }

// RaiseOpenFileLimit does nothing on this platform; it returns 0.
func RaiseOpenFileLimit() (uint64, error) { return 0, nil }
