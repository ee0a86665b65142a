//go:build windows || plan9

package logging

import (
	"errors"
	"runtime"
)

// openSyslog refuses: there is no syslog on this system.
func openSyslog(int) (syslogSink, error) {
	return nil, errors.New("log_dest syslog is not available on " + runtime.GOOS)
}
