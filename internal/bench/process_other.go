//go:build !linux

package bench

// SampleProcess is not available outside Linux.
func SampleProcess(pid int) (ProcessSample, error) { return ProcessSample{}, ErrNoProcessStats }
