package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// logTestTime is 2024-11-26T09:12:25Z.
var logTestTime = time.Unix(1732612345, 0)

// logRecord is a record at logTestTime.
func logRecord(level slog.Level, msg string, args ...any) slog.Record {
	r := slog.NewRecord(logTestTime, level, msg, 0)
	r.Add(args...)
	return r
}

// emit hands records to h as slog.Logger would: only those it enables.
func emit(t *testing.T, h slog.Handler, records ...slog.Record) {
	t.Helper()
	for _, r := range records {
		if !h.Enabled(context.Background(), r.Level) {
			continue
		}
		if err := h.Handle(context.Background(), r); err != nil {
			t.Fatalf("Handle(%q): %v", r.Message, err)
		}
	}
}

// newTestLogger builds a logger over two buffers; times are shown in UTC.
func newTestLogger(t *testing.T, s Settings) (h slog.Handler, stdout, stderr *bytes.Buffer) {
	t.Helper()
	stdout, stderr = new(bytes.Buffer), new(bytes.Buffer)
	logger, out, err := NewLogger(s, stdout, stderr)
	if err != nil {
		t.Fatalf("NewLogger: %v", err)
	}
	out.location = time.UTC
	t.Cleanup(func() { out.Close() })
	return logger.Handler(), stdout, stderr
}

func TestLogTextFormat(t *testing.T) {
	h, stdout, stderr := newTestLogger(t, DefaultSettings())
	emit(t, h,
		logRecord(slog.LevelInfo, "New client connected from 127.0.0.1:50000 as c1 (p2, c1, k60, u'user').",
			"log_type", "connection", "session_present", false),
		logRecord(slog.LevelWarn, "accept failed; retrying", "err", errors.New("too many open files"), "delay", time.Second),
		logRecord(slog.LevelInfo, "c1 1 a/b", "log_type", "subscribe"), // not a default type
		logRecord(slog.LevelDebug, "Received PINGREQ from c1"),         // nor this
	)
	want := "1732612345: New client connected from 127.0.0.1:50000 as c1 (p2, c1, k60, u'user'). session_present=false\n" +
		`1732612345: accept failed; retrying err="too many open files" delay=1s` + "\n"
	if got := stderr.String(); got != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", got, want)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout got %q; the default destination is stderr only", stdout)
	}
}

func TestLogTextAttributes(t *testing.T) {
	s := DefaultSettings()
	s.Timestamp = false
	h, _, stderr := newTestLogger(t, s)
	h2 := h.WithAttrs([]slog.Attr{slog.String("listener", "tls 8883")}).WithGroup("conn")
	emit(t, h2, logRecord(slog.LevelInfo, "hello", "id", "a=b", "empty", "",
		slog.Group("peer", "addr", "::1", "port", 1883), "log_type", "subscribe"))
	// Inside a group the marker is an ordinary attribute.
	want := `hello listener="tls 8883" conn.id="a=b" conn.empty="" conn.peer.addr=::1 conn.peer.port=1883 conn.log_type=subscribe` + "\n"
	if got := stderr.String(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// logTypeProbes is one line of each kind the broker writes, each message
// naming its kind.
var logTypeProbes = []slog.Record{
	logRecord(slog.LevelError, "error"),
	logRecord(slog.LevelWarn, "warning"),
	logRecord(slog.LevelInfo, "notice"),
	logRecord(slog.LevelInfo, "connection", "log_type", "connection"),
	logRecord(slog.LevelInfo, "information", "log_type", "information"),
	logRecord(slog.LevelInfo-2, "information-level"),
	logRecord(slog.LevelDebug, "debug"),
	logRecord(slog.LevelInfo, "subscribe", "log_type", "subscribe"),
	logRecord(slog.LevelInfo, "unsubscribe", "log_type", "unsubscribe"),
	logRecord(slog.LevelDebug, "websockets", "log_type", "websockets"),
	logRecord(slog.LevelError, "marked-error", "log_type", "subscribe"), // Error wins
}

func TestLogTypeFilter(t *testing.T) {
	for _, tc := range []struct {
		types []string
		want  string
	}{
		{nil, "error warning notice connection information information-level marked-error"},
		{[]string{"all"}, "error warning notice connection information information-level debug subscribe unsubscribe websockets marked-error"},
		{[]string{"none"}, ""},
		{[]string{"all", "none"}, ""},
		{[]string{"none", "subscribe", "unsubscribe"}, "subscribe unsubscribe"},
		{[]string{"error"}, "error marked-error"},
		{[]string{"notice"}, "notice connection"},
		{[]string{"information"}, "information information-level"},
		{[]string{"debug"}, "debug"},
		{[]string{"websockets"}, "websockets"},
		{[]string{"warning", "internal"}, "warning"},
	} {
		t.Run(strings.Join(tc.types, ","), func(t *testing.T) {
			s := DefaultSettings()
			s.Types, s.Timestamp = tc.types, false
			h, _, stderr := newTestLogger(t, s)
			emit(t, h, logTypeProbes...)
			if got := strings.Join(strings.Fields(stderr.String()), " "); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestLogEnabledIsCheap(t *testing.T) {
	h, _, _ := newTestLogger(t, DefaultSettings())
	ctx := context.Background()
	if h.Enabled(ctx, slog.LevelDebug) {
		t.Error("Debug enabled by default; debug lines would be built only to be dropped")
	}
	if !h.Enabled(ctx, slog.LevelInfo) {
		t.Error("Info not enabled by default")
	}
	sub := h.WithAttrs([]slog.Attr{slog.String(TypeKey, "subscribe")})
	if sub.Enabled(ctx, slog.LevelInfo) {
		t.Error("a logger marked subscribe is enabled without log_type subscribe")
	}
	if !sub.Enabled(ctx, slog.LevelError) {
		t.Error("errors of a logger marked subscribe are not enabled")
	}
}

func TestLogConnectionMessages(t *testing.T) {
	s := DefaultSettings()
	s.ConnectionMessages, s.Timestamp = false, false
	h, _, stderr := newTestLogger(t, s)
	conn := h.WithAttrs([]slog.Attr{slog.String(TypeKey, "connection")})
	if conn.Enabled(context.Background(), slog.LevelInfo) {
		t.Error("a connection logger is enabled with connection_messages false")
	}
	emit(t, h,
		logRecord(slog.LevelInfo, "New client connected from 127.0.0.1:1 as c1 (p2, c1, k60).", "log_type", "connection"),
		logRecord(slog.LevelInfo, "Opening ipv4 listen socket on port 1883."),
		logRecord(slog.LevelInfo, "Client c1 disconnected.", "log_type", "connection"),
		logRecord(slog.LevelWarn, "connection limit", "log_type", "connection"), // warnings stay
	)
	emit(t, conn, logRecord(slog.LevelInfo, "Client c2 disconnected."))
	want := "Opening ipv4 listen socket on port 1883.\nconnection limit\n"
	if got := stderr.String(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestLogTimestampFormat(t *testing.T) {
	pm := time.Date(2021, 6, 20, 13, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		format string
		when   time.Time
		want   string
	}{
		{"%Y-%m-%dT%H:%M:%S", logTestTime, "2024-11-26T09:12:25"},
		{"%F %T", logTestTime, "2024-11-26 09:12:25"},
		{"%c", logTestTime, "Tue Nov 26 09:12:25 2024"},
		{"%a %A %b %h %B", logTestTime, "Tue Tuesday Nov Nov November"},
		{"%j %U %W %u %w %V %G %g %C %y", logTestTime, "331 47 48 2 2 48 2024 24 20 24"},
		{"%I|%l|%k|%p|%P", logTestTime, "09| 9| 9|AM|am"},
		{"%D %R %r", logTestTime, "11/26/24 09:12 09:12:25 AM"},
		{"%s %Z %z", logTestTime, "1732612345 UTC +0000"},
		{"%U %W %V %G %g %u %w %j %e", time.Date(2021, 1, 3, 4, 5, 6, 0, time.UTC), "01 00 53 2020 20 7 0 003  3"},
		{"%I %l %p %U %W", time.Date(2021, 6, 20, 0, 4, 5, 0, time.UTC), "12 12 AM 25 24"},
		{"%I %l %p %k", pm, "01  1 PM 13"},
		{"100%% at%n%t%H", pm, "100% at\n\t13"},
		{"day 2006 Mon %d", pm, "day 2006 Mon 20"}, // no Go layout words in literals
		{"", logTestTime, "1732612345"},
	} {
		stamp, err := timestampFormat(tc.format)
		if err != nil {
			t.Errorf("%q: %v", tc.format, err)
			continue
		}
		if got := string(stamp(nil, tc.when)); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.format, got, tc.want)
		}
	}
	for _, bad := range []string{"%Q", "%-d", "%Ey", "%Od", "%+", "%Y%", "%é"} {
		if _, err := timestampFormat(bad); err == nil || !strings.Contains(err.Error(), "log_timestamp_format") {
			t.Errorf("%q: err = %v, want a log_timestamp_format error", bad, err)
		}
	}

	s := DefaultSettings()
	s.TimestampFormat = "%Y-%m-%dT%H:%M:%S"
	h, _, stderr := newTestLogger(t, s)
	emit(t, h, logRecord(slog.LevelInfo, "mosquitto version 2.0.18 running"))
	if got, want := stderr.String(), "2024-11-26T09:12:25: mosquitto version 2.0.18 running\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestLogDestinations(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "midge log.txt")
	if err := os.WriteFile(path, []byte("earlier\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file, err := ParseDest("file " + path)
	if err != nil || file.Kind != "file" || file.Path != path {
		t.Fatalf("ParseDest = %+v, %v", file, err)
	}
	s := DefaultSettings()
	s.Timestamp = false
	s.Dests = []Dest{{Kind: "stderr"}, {Kind: "none"}, {Kind: "stdout"}, file, {Kind: "stdout"}}
	stdout, stderr := new(bytes.Buffer), new(bytes.Buffer)
	logger, out, err := NewLogger(s, stdout, stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	logger.Info("one")

	// Rotation: the file is renamed, then reopened.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := out.Reopen(); err != nil {
		t.Fatalf("Reopen: %v", err)
	}
	logger.Info("two")
	if err := out.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	logger.Info("three") // streams only, once closed

	if got, want := stdout.String(), "one\ntwo\nthree\n"; got != want {
		t.Errorf("stdout %q, want %q (once, though named twice)", got, want)
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr %q; none should have dropped it", stderr)
	}
	for name, want := range map[string]string{path + ".1": "earlier\none\n", path: "two\n"} {
		got, err := os.ReadFile(name)
		if err != nil || string(got) != want {
			t.Errorf("%s: %q, %v; want %q", name, got, err, want)
		}
	}
	if runtime.GOOS != "windows" {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("new log file mode %v, %v; want 0600", fi.Mode().Perm(), err)
		}
	}
}

func TestLogJSON(t *testing.T) {
	s := DefaultSettings()
	s.JSON = true
	s.Types = []string{"all"}
	s.ConnectionMessages = false
	h, _, stderr := newTestLogger(t, s)
	emit(t, h.WithAttrs([]slog.Attr{slog.String("listener", "1883")}),
		logRecord(slog.LevelInfo, "c1 1 a/b", "log_type", "subscribe"),
		logRecord(slog.LevelInfo, "Client c1 disconnected.", "log_type", "connection"),
		logRecord(slog.LevelWarn, "slow", "client", "c1"),
	)
	lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2:\n%s", len(lines), stderr)
	}
	var first, second map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatalf("%q: %v", lines[0], err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &second); err != nil {
		t.Fatalf("%q: %v", lines[1], err)
	}
	if first["msg"] != "c1 1 a/b" || first["log_type"] != "subscribe" || first["level"] != "INFO" ||
		first["listener"] != "1883" || first["time"] == nil {
		t.Errorf("first line %v", first)
	}
	if strings.Count(lines[0], `"log_type"`) != 1 {
		t.Errorf("log_type written twice: %s", lines[0])
	}
	if second["msg"] != "slow" || second["log_type"] != "warning" || second["client"] != "c1" {
		t.Errorf("second line %v", second)
	}

	s.Timestamp = false
	h, _, stderr = newTestLogger(t, s)
	emit(t, h, logRecord(slog.LevelError, "boom"))
	if strings.Contains(stderr.String(), `"time"`) {
		t.Errorf("log_timestamp false still writes the time: %s", stderr)
	}
}

func TestLogBadSettings(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no", "such", "dir", "midge.log")
	for _, tc := range []struct {
		name string
		edit func(*Settings)
		want string
	}{
		{"type", func(s *Settings) { s.Types = []string{"notice", "verbose"} }, `invalid log_type value "verbose"`},
		{"dest", func(s *Settings) { s.Dests = []Dest{{Kind: "console"}} }, `invalid log_dest value "console"`},
		{"topic", func(s *Settings) { s.Dests = []Dest{{Kind: "topic"}} }, "log_dest topic"},
		{"dlt", func(s *Settings) { s.Dests = []Dest{{Kind: "dlt"}} }, "not supported"},
		{"empty file", func(s *Settings) { s.Dests = []Dest{{Kind: "file"}} }, `empty "log_dest file"`},
		{"two files", func(s *Settings) { s.Dests = []Dest{{"file", "a"}, {"file", "b"}} }, "duplicate"},
		{"argument", func(s *Settings) { s.Dests = []Dest{{"stdout", "x"}} }, "takes no argument"},
		{"facility", func(s *Settings) { s.SyslogFacility = 8 }, "log_facility 8"},
		{"format", func(s *Settings) { s.TimestampFormat = "%Y %q" }, "%q is not supported"},
		{"unopenable", func(s *Settings) { s.Dests = []Dest{{"file", missing}} }, "unable to open log file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := DefaultSettings()
			tc.edit(&s)
			_, _, err := NewLogger(s, nil, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := ParseDest("syslog now"); err == nil {
		t.Error("ParseDest accepted an argument to syslog")
	}
	if runtime.GOOS == "windows" {
		s := DefaultSettings()
		s.Dests = []Dest{{Kind: "syslog"}}
		if _, _, err := NewLogger(s, nil, nil); err == nil || !strings.Contains(err.Error(), "not available") {
			t.Errorf("syslog on windows: err = %v", err)
		}
	}
}

// lineChecker is a writer that fails the test on a write that is not whole
// lines.
type lineChecker struct {
	mu    sync.Mutex
	bad   []string
	lines int
}

func (w *lineChecker) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s := string(p); strings.Count(s, "\n") != 1 || !strings.HasSuffix(s, "\n") {
		w.bad = append(w.bad, s)
	}
	w.lines++
	return len(p), nil
}

func TestLogConcurrentLinesStayWhole(t *testing.T) {
	w := new(lineChecker)
	logger, out, err := NewLogger(DefaultSettings(), nil, w)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := logger.With("goroutine", g)
			for i := range 50 {
				l.Info("line", "i", i)
			}
		}()
	}
	wg.Wait()
	if w.lines != 200 || len(w.bad) > 0 {
		t.Errorf("%d lines, broken writes %q", w.lines, w.bad)
	}
}
