//go:build !windows && !plan9

package logging

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLogSyslogPriorities(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.sock")
	daemon, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Skipf("no unixgram sockets here: %v", err)
	}
	defer daemon.Close()
	sink, err := dialSyslog("unixgram", path, 3) // local3
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	buf := make([]byte, 2048)
	for _, tc := range []struct {
		t        logType
		severity string // local3 is facility 19: 19*8 + severity
	}{
		{logError, "<155>"}, {logWarning, "<156>"}, {logNotice, "<157>"}, {logSubscribe, "<157>"},
		{logUnsubscribe, "<157>"}, {logInformation, "<158>"}, {logDebug, "<159>"}, {logWebsockets, "<159>"},
	} {
		if err := sink.write(tc.t, "c1 1 a/b"); err != nil {
			t.Fatal(err)
		}
		daemon.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := daemon.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got := string(buf[:n])
		if !strings.HasPrefix(got, tc.severity) || !strings.Contains(got, " midge[") || !strings.HasSuffix(got, ": c1 1 a/b\n") {
			t.Errorf("%v: datagram %q, want priority %s, tag midge and the bare line", tc.t, got, tc.severity)
		}
	}
}
