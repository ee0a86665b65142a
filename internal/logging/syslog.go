//go:build !windows && !plan9

package logging

import (
	"fmt"
	"log/syslog"
)

// openSyslog connects to the local syslog daemon as "midge", with the
// process id, at facility LOG_LOCALn (0 to 7) or LOG_DAEMON (-1).
func openSyslog(facility int) (syslogSink, error) {
	return dialSyslog("", "", facility)
}

// dialSyslog is openSyslog to a given daemon; network "" is the local one.
func dialSyslog(network, address string, facility int) (syslogSink, error) {
	priority := syslog.LOG_DAEMON
	if facility >= 0 {
		priority = syslog.LOG_LOCAL0 + syslog.Priority(facility)<<3
	}
	w, err := syslog.Dial(network, address, priority|syslog.LOG_NOTICE, "midge")
	if err != nil {
		return nil, fmt.Errorf("log_dest syslog: %w", err)
	}
	return syslogWriter{w}, nil
}

type syslogWriter struct{ w *syslog.Writer }

// write sends line at the priority Mosquitto gives its type.
func (s syslogWriter) write(t logType, line string) error {
	switch t {
	case logError:
		return s.w.Err(line)
	case logWarning:
		return s.w.Warning(line)
	case logInformation:
		return s.w.Info(line)
	case logDebug, logWebsockets:
		return s.w.Debug(line)
	}
	return s.w.Notice(line) // notice, subscribe, unsubscribe
}

func (s syslogWriter) Close() error { return s.w.Close() }
