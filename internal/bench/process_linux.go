package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is USER_HZ, the unit of utime and stime in /proc/PID/stat. It
// is 100 on every Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// SampleProcess reads the CPU time (utime+stime of /proc/PID/stat) and
// resident memory (VmRSS and VmHWM of /proc/PID/status) of process pid.
func SampleProcess(pid int) (ProcessSample, error) {
	var s ProcessSample
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	if s.CPU, err = parseStatCPU(stat); err != nil {
		return s, err
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	s.RSS, s.HWM = parseStatusMemory(status)
	return s, nil
}

// parseStatCPU returns utime+stime from the contents of /proc/PID/stat.
// The command name (field 2) may hold spaces and parentheses, so fields
// are counted from the last ')'.
func parseStatCPU(stat []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("bench: unexpected /proc stat format")
	}
	fields := strings.Fields(string(stat[i+1:]))
	// fields[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(fields) < 13 {
		return 0, fmt.Errorf("bench: unexpected /proc stat format")
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bench: unexpected /proc stat format")
	}
	return time.Duration(utime+stime) * clockTick, nil
}

// parseStatusMemory returns VmRSS and VmHWM, in bytes, from the contents
// of /proc/PID/status.
func parseStatusMemory(status []byte) (rss, hwm int64) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		kib, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if key == "VmRSS" {
			rss = kib << 10
		} else {
			hwm = kib << 10
		}
	}
	return rss, hwm
}
