// Package logging writes the broker's log as Mosquitto does: its text
// lines (or slog's JSON), filtered by log_type, to stdout, stderr, a file
// and syslog. It is an slog.Handler and knows nothing of the broker or of
// mosquitto.conf: the broker command turns the configuration into
// Settings. It uses the standard library only.
package logging

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// TypeKey is the slog attribute key that marks the Mosquitto log type of
// a line the level alone cannot tell. The broker writes it as a plain
// string pair, without importing this package:
//
//	s.log.Info("client-1 1 a/b", "log_type", "subscribe")
//
// The values are "subscribe", "unsubscribe", "websockets", "information"
// and "connection" (a notice line that connection_messages false drops:
// connects and disconnects). The marker counts on Info and Debug lines
// outside any group; Warn and Error lines are warning and error whatever
// they carry, and a Debug line reaches the handler only when debug or
// websockets is enabled. Lines without it are typed by level: Error error,
// Warn warning, Info notice, a level between Debug and Info information,
// Debug debug. The text format leaves the marker out; JSON writes the
// line's type under this key.
const TypeKey = "log_type"

// logType is a set of Mosquitto log types, as log_type lines build it.
type logType uint16

const (
	logError logType = 1 << iota
	logWarning
	logNotice
	logInformation
	logDebug
	logSubscribe
	logUnsubscribe
	logWebsockets

	logAll     = logError | logWarning | logNotice | logInformation | logDebug | logSubscribe | logUnsubscribe | logWebsockets
	logDefault = logError | logWarning | logNotice | logInformation
	// logInfoLevel is what a line logged at Info may turn out to be.
	logInfoLevel = logNotice | logInformation | logSubscribe | logUnsubscribe | logWebsockets
)

// logTypeNames maps log_type values to types; "internal" (Mosquitto's own
// debugging) is accepted and never written.
var logTypeNames = map[string]logType{
	"error": logError, "warning": logWarning, "notice": logNotice, "information": logInformation,
	"debug": logDebug, "subscribe": logSubscribe, "unsubscribe": logUnsubscribe,
	"websockets": logWebsockets, "internal": 0,
}

// String names a single type, as JSON lines carry it.
func (t logType) String() string {
	switch t {
	case logError:
		return "error"
	case logWarning:
		return "warning"
	case logInformation:
		return "information"
	case logDebug:
		return "debug"
	case logSubscribe:
		return "subscribe"
	case logUnsubscribe:
		return "unsubscribe"
	case logWebsockets:
		return "websockets"
	}
	return "notice"
}

// marker is what a TypeKey value makes of a line; ok is false for a
// value that is not a marker, which then stays an ordinary attribute.
func marker(v slog.Value) (t logType, connection, ok bool) {
	if v.Kind() != slog.KindString {
		return 0, false, false
	}
	switch v.String() {
	case "subscribe":
		return logSubscribe, false, true
	case "unsubscribe":
		return logUnsubscribe, false, true
	case "websockets":
		return logWebsockets, false, true
	case "information":
		return logInformation, false, true
	case "connection":
		return logNotice, true, true
	}
	return 0, false, false
}

func isMarker(a slog.Attr) bool {
	if a.Key != TypeKey {
		return false
	}
	_, _, ok := marker(a.Value)
	return ok
}

// Dest is one log_dest line.
type Dest struct {
	// Kind is "stdout", "stderr", "file", "syslog" or "none" (which drops
	// the destinations before it). "topic", "dlt" and "android" are
	// Mosquitto's too, and NewLogger refuses them.
	Kind string
	// Path is the file of a "file" destination.
	Path string
}

// ParseDest reads the value of a log_dest line: a kind, and for "file"
// the rest of the line as the path.
func ParseDest(value string) (Dest, error) {
	kind, path, _ := strings.Cut(strings.TrimSpace(value), " ")
	d := Dest{Kind: kind, Path: strings.TrimSpace(path)}
	return d, d.check()
}

func (d Dest) check() error {
	switch d.Kind {
	case "stdout", "stderr", "syslog", "none":
		if d.Path != "" {
			return fmt.Errorf("log_dest %s takes no argument, got %q", d.Kind, d.Path)
		}
		return nil
	case "file":
		if d.Path == "" {
			return errors.New(`empty "log_dest file" value`)
		}
		return nil
	case "topic":
		return errors.New("log_dest topic ($SYS/broker/log/...) is not supported by midge; use stderr, stdout, file or syslog")
	case "dlt", "android":
		return fmt.Errorf("log_dest %s is not supported by midge", d.Kind)
	}
	return fmt.Errorf("invalid log_dest value %q", d.Kind)
}

// Settings is the broker's logging: mosquitto.conf's log_dest, log_type,
// log_timestamp, log_timestamp_format, connection_messages and
// log_facility, and --log-format json. DefaultSettings holds
// Mosquitto's defaults; mind that the zero value has no timestamps, no
// connection lines and syslog facility local0.
type Settings struct {
	// Dests are the log_dest lines in order; none means stderr.
	Dests []Dest
	// Types are the log_type values in order: "none" clears those before
	// it, "all" sets every type. None means error, warning, notice and
	// information. -v is Types {"all"}.
	Types []string
	// Timestamp prefixes each text line with the time (log_timestamp).
	Timestamp bool
	// TimestampFormat is a strftime format for that time
	// (log_timestamp_format); empty means seconds since the epoch.
	TimestampFormat string
	// ConnectionMessages keeps the lines marked "connection"
	// (connection_messages).
	ConnectionMessages bool
	// SyslogFacility is log_facility: 0 to 7 select LOG_LOCAL0 to
	// LOG_LOCAL7, -1 selects LOG_DAEMON.
	SyslogFacility int
	// JSON writes slog's JSON lines instead of Mosquitto's text
	// (--log-format json); TimestampFormat does not apply to them.
	JSON bool
}

// DefaultSettings returns Mosquitto's defaults: stderr; error,
// warning, notice and information; epoch-second timestamps; connection
// messages on; syslog facility daemon.
func DefaultSettings() Settings {
	return Settings{Timestamp: true, ConnectionMessages: true, SyslogFacility: -1}
}

// parseLogTypes folds log_type values into a set.
func parseLogTypes(values []string) (logType, error) {
	if len(values) == 0 {
		return logDefault, nil
	}
	var set logType
	for _, v := range values {
		switch v {
		case "none":
			set = 0
		case "all":
			set = logAll
		default:
			t, ok := logTypeNames[v]
			if !ok {
				return 0, fmt.Errorf("invalid log_type value %q", v)
			}
			set |= t
		}
	}
	return set, nil
}

// Output is where NewLogger's logger writes: the standard streams, the
// log file and syslog. Close releases the file and syslog; Reopen reopens
// the file, for log rotation on SIGHUP.
type Output struct {
	types       logType
	connections bool
	json        bool
	stamp       func([]byte, time.Time) []byte // nil without timestamps
	location    *time.Location                 // of formatted timestamps

	// mu is a leaf lock, held while one line is written so that lines
	// never interleave.
	mu      sync.Mutex
	streams []io.Writer // guarded by mu
	file    *logFile    // guarded by mu; nil without a file
	syslog  syslogSink  // guarded by mu; nil without syslog
	jsonBuf []byte      // guarded by mu: JSON mode's line being written
}

// logFile is the log_dest file, opened for appending.
type logFile struct {
	path string
	f    *os.File
}

func openLogFile(path string) (*os.File, error) {
	// Mosquitto creates the file readable by its owner only.
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
}

// syslogSink writes a line to syslog at the priority of its type.
type syslogSink interface {
	write(t logType, line string) error
	Close() error
}

// NewLogger builds the broker's logger from s: Mosquitto's text lines
// ("1732612345: New client connected from ...", attributes after the
// message as key=value) or slog's JSON, filtered by log type, to every
// destination. stdout and stderr are the streams "stdout" and "stderr"
// name; nil discards. The caller closes the Output when the logger is
// no longer used.
func NewLogger(s Settings, stdout, stderr io.Writer) (*slog.Logger, *Output, error) {
	out := &Output{connections: s.ConnectionMessages, json: s.JSON, location: time.Local}
	var err error
	if out.types, err = parseLogTypes(s.Types); err != nil {
		return nil, nil, err
	}
	if s.Timestamp {
		if out.stamp, err = timestampFormat(s.TimestampFormat); err != nil {
			return nil, nil, err
		}
	}
	if s.SyslogFacility < -1 || s.SyslogFacility > 7 {
		return nil, nil, fmt.Errorf("log_facility %d: want 0 to 7", s.SyslogFacility)
	}
	dests, err := foldLogDests(s.Dests)
	if err != nil {
		return nil, nil, err
	}
	if err := out.open(dests, s.SyslogFacility, stdout, stderr); err != nil {
		return nil, nil, err
	}
	h := &logHandler{out: out}
	if s.JSON {
		opts := &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if !s.Timestamp && len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}
		h.json = slog.NewJSONHandler(jsonWriter{out}, opts)
	}
	return slog.New(h), out, nil
}

// foldLogDests applies log_dest lines in order, as Mosquitto does: each
// adds a destination, "none" drops those before it, a second file is an
// error. No lines means stderr.
func foldLogDests(lines []Dest) ([]Dest, error) {
	if len(lines) == 0 {
		return []Dest{{Kind: "stderr"}}, nil
	}
	var dests []Dest
	files := 0
	for _, d := range lines {
		if err := d.check(); err != nil {
			return nil, err
		}
		if d.Kind == "file" {
			if files++; files > 1 {
				return nil, errors.New(`duplicate "log_dest file" value`)
			}
		}
		if d.Kind == "none" {
			dests = dests[:0]
			continue
		}
		if !slices.Contains(dests, d) {
			dests = append(dests, d)
		}
	}
	return dests, nil
}

// open opens the destinations; on failure it closes what it opened.
func (o *Output) open(dests []Dest, facility int, stdout, stderr io.Writer) error {
	for _, d := range dests {
		switch d.Kind {
		case "stdout":
			o.streams = append(o.streams, cmpWriter(stdout))
		case "stderr":
			o.streams = append(o.streams, cmpWriter(stderr))
		case "file":
			f, err := openLogFile(d.Path)
			if err != nil {
				o.Close()
				return fmt.Errorf("unable to open log file: %w", err)
			}
			o.file = &logFile{path: d.Path, f: f}
		case "syslog":
			sl, err := openSyslog(facility)
			if err != nil {
				o.Close()
				return err
			}
			o.syslog = sl
		}
	}
	return nil
}

func cmpWriter(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// Reopen opens the log file again, so that a rotated file is left behind.
// On failure the old file stays in use. Without a file it does nothing.
func (o *Output) Reopen() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.file == nil {
		return nil
	}
	f, err := openLogFile(o.file.path)
	if err != nil {
		return fmt.Errorf("reopening log file: %w", err)
	}
	old := o.file.f
	o.file.f = f
	return old.Close()
}

// Close closes the log file and syslog; the streams stay open, and later
// lines go to them only.
func (o *Output) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	var errs []error
	if o.file != nil {
		errs = append(errs, o.file.f.Close())
		o.file = nil
	}
	if o.syslog != nil {
		errs = append(errs, o.syslog.Close())
		o.syslog = nil
	}
	return errors.Join(errs...)
}

// wants reports whether a line of type t is written.
func (o *Output) wants(t logType, connection bool) bool {
	return o.types&t != 0 && (o.connections || !connection)
}

// writeLocked writes one line to every destination: streams and file get
// stamped (the timestamp prefix, possibly empty) and body and a newline,
// syslog the body alone.
func (o *Output) writeLocked(t logType, stamped, body []byte) error {
	var errs []error
	for _, w := range o.streams {
		_, err := w.Write(stamped)
		errs = append(errs, err)
	}
	if o.file != nil {
		_, err := o.file.f.Write(stamped)
		errs = append(errs, err)
	}
	if o.syslog != nil {
		errs = append(errs, o.syslog.write(t, string(body)))
	}
	return errors.Join(errs...)
}

// jsonWriter collects what slog's JSON handler writes; the handler writes
// each record with one call, under Output.mu.
type jsonWriter struct{ o *Output }

func (w jsonWriter) Write(p []byte) (int, error) {
	w.o.jsonBuf = append(w.o.jsonBuf, p...)
	return len(p), nil
}

// logHandler is the slog.Handler behind NewLogger.
type logHandler struct {
	out      *Output
	json     slog.Handler // JSON mode: slog's, carrying this handler's attrs and groups
	groups   string       // text mode: open groups as a key prefix, "a.b."
	grouped  bool         // a group is open: markers no longer count
	attrs    []byte       // text mode: " k=v" from WithAttrs
	mark     logType      // from a WithAttrs marker; 0 for none
	markConn bool
}

// Enabled reports whether a line at level could be written.
func (h *logHandler) Enabled(_ context.Context, level slog.Level) bool {
	var could logType
	switch {
	case level >= slog.LevelError:
		could = logError
	case level >= slog.LevelWarn:
		could = logWarning
	case h.mark != 0:
		could = h.mark
		if h.markConn && !h.out.connections {
			return false
		}
	case level > slog.LevelDebug:
		could = logInfoLevel
	default:
		could = logDebug | logWebsockets
	}
	return h.out.types&could != 0
}

// classify finds the type of a record and whether it is a connection line.
func (h *logHandler) classify(r slog.Record) (t logType, connection bool) {
	switch {
	case r.Level >= slog.LevelError:
		return logError, false
	case r.Level >= slog.LevelWarn:
		return logWarning, false
	case h.mark != 0:
		return h.mark, h.markConn
	}
	t = logDebug
	if r.Level >= slog.LevelInfo {
		t = logNotice
	} else if r.Level > slog.LevelDebug {
		t = logInformation
	}
	if !h.grouped {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key != TypeKey {
				return true
			}
			mt, conn, ok := marker(a.Value.Resolve())
			if ok {
				t, connection = mt, conn
			}
			return !ok
		})
	}
	return t, connection
}

// Handle writes r to every destination if its type is enabled.
func (h *logHandler) Handle(ctx context.Context, r slog.Record) error {
	t, connection := h.classify(r)
	if !h.out.wants(t, connection) {
		return nil
	}
	if h.json != nil {
		return h.handleJSON(ctx, r, t)
	}
	var line []byte
	if h.out.stamp != nil {
		when := r.Time
		if when.IsZero() {
			when = time.Now()
		}
		line = h.out.stamp(line, when.In(h.out.location))
		line = append(line, ": "...)
	}
	start := len(line)
	line = append(line, r.Message...)
	line = append(line, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		if h.grouped || !isMarker(a) {
			line = appendTextAttr(line, h.groups, a)
		}
		return true
	})
	line = append(line, '\n')
	h.out.mu.Lock()
	defer h.out.mu.Unlock()
	return h.out.writeLocked(t, line, line[start:len(line)-1])
}

// handleJSON writes r through slog's JSON handler, its marker replaced by
// the line's type.
func (h *logHandler) handleJSON(ctx context.Context, r slog.Record, t logType) error {
	clean := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if h.grouped || !isMarker(a) {
			clean.AddAttrs(a)
		}
		return true
	})
	clean.AddAttrs(slog.String(TypeKey, t.String()))
	h.out.mu.Lock()
	defer h.out.mu.Unlock()
	h.out.jsonBuf = h.out.jsonBuf[:0]
	if err := h.json.Handle(ctx, clean); err != nil {
		return err
	}
	line := h.out.jsonBuf
	return h.out.writeLocked(t, line, line[:len(line)-1])
}

// WithAttrs returns a handler whose lines carry attrs; a marker among them
// types every line of the new handler.
func (h *logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	h2 := *h
	var kept []slog.Attr
	for _, a := range attrs {
		if !h.grouped && a.Key == TypeKey {
			if mt, conn, ok := marker(a.Value.Resolve()); ok {
				h2.mark, h2.markConn = mt, conn
				continue
			}
		}
		kept = append(kept, a)
	}
	if h.json != nil {
		h2.json = h.json.WithAttrs(kept)
		return &h2
	}
	h2.attrs = slices.Clip(h.attrs)
	for _, a := range kept {
		h2.attrs = appendTextAttr(h2.attrs, h.groups, a)
	}
	return &h2
}

// WithGroup returns a handler that qualifies later attributes with name.
func (h *logHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.grouped = true
	if h.json != nil {
		h2.json = h.json.WithGroup(name)
	} else {
		h2.groups = h.groups + name + "."
	}
	return &h2
}

// appendTextAttr appends " key=value", a group as its members with
// dotted keys; values are quoted where they would not read as one word.
func appendTextAttr(b []byte, prefix string, a slog.Attr) []byte {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return b
	}
	if a.Value.Kind() == slog.KindGroup {
		if a.Key != "" {
			prefix += a.Key + "."
		}
		for _, member := range a.Value.Group() {
			b = appendTextAttr(b, prefix, member)
		}
		return b
	}
	b = append(b, ' ')
	b = appendWord(b, prefix+a.Key)
	b = append(b, '=')
	if a.Value.Kind() == slog.KindTime {
		return a.Value.Time().AppendFormat(b, time.RFC3339Nano)
	}
	return appendWord(b, a.Value.String())
}

func appendWord(b []byte, s string) []byte {
	if needsQuote(s) {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}

func needsQuote(s string) bool {
	if s == "" {
		return true
	}
	for _, r := range s {
		if r == utf8.RuneError || r <= ' ' || r == '=' || r == '"' || !unicode.IsPrint(r) {
			return true
		}
	}
	return false
}
