package bench

import (
	"errors"
	"time"
)

// ProcessSample is one reading of a process's resource use.
type ProcessSample struct {
	CPU time.Duration // user and system time since the process started
	RSS int64         // resident memory now, bytes
	HWM int64         // peak resident memory, bytes
}

// ErrNoProcessStats is returned where another process's CPU time and
// memory cannot be read (outside Linux, which has /proc).
var ErrNoProcessStats = errors.New("bench: reading another process's CPU and memory needs Linux /proc")
