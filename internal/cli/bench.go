package cli

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/midge-mqtt/midge/internal/bench"
	"github.com/midge-mqtt/midge/packets"
)

const benchUsage = `midge bench: a load generator for any MQTT broker.

Usage: midge bench pub|sub|run|conn|retained [options]

  pub        publishers only
  sub        subscribers only: latency, losses and order of what arrives
  run        subscribers and publishers together, measured end to end
  conn       open idle connections at a given rate and hold them
  retained   store retained messages, then time a new subscriber to them

Connection:
  -h HOST             broker host (default localhost)
  -p PORT             broker port (default 1883, 8883 with TLS)
  -V VERSION          MQTT version: 31, 311 or 5 (also mqttv31, mqttv311, mqttv5; default 311)
  -u USER, -P PASS    username and password
  -k SECONDS          keep alive (default 60; 0 for none)
  -I PREFIX           client id prefix (default "mb" and 4 random hex digits and "-")
  --cafile FILE       TLS: trust the CA certificates in FILE
  --capath DIR        TLS: trust the CA certificates in the files of DIR
  --tls-use-os-certs, --tls
                      TLS: trust the system's CA certificates (the default
                      when TLS is on without --cafile or --capath)
  --cert FILE, --key FILE
                      TLS: present this client certificate
  --insecure          TLS: do not check the broker's name against its certificate
                      (its chain is still verified, as with mosquitto_pub)
  --tls-version V     TLS: minimum version, tlsv1.3 or tlsv1.2 (default)
                      Any TLS option turns TLS on.

Clients and messages:
  -c N                publishers (pub, run), subscribers (sub) or connections (conn); default 1
  --subscribers N     subscribers of a run (default 1)
  --start N           index of the first client (default 0)
  -t TOPIC            topic to publish to (sub: filter); %i is the client index
                      (retained: the message index); default bench/%i
  --filter FILTER     run: the subscribers' filter, %i is the subscriber index (default: the topic);
                      retained: the new subscriber's filter (default: the topic's parent and #)
  -q QOS              0, 1 or 2 (default 0)
  -s BYTES            payload size, at least 16 (default 64)
  -r                  pub: publish retained messages
  --persistent        every client keeps its session (clean session off; MQTT 5: session
                      expiry one hour), to measure a broker's persistence; give -I so that
                      runs resume the same sessions
  -R RATE             messages per second per publisher (conn: connections per second);
                      default 0, as fast as possible
  -C COUNT            messages per publisher (sub: per subscriber; retained: messages to store,
                      default 100000)
  -d DURATION         how long to publish (sub: receive; conn: hold), e.g. 10s or 10
  -M, --window N      QoS 1 and 2 messages in flight per publisher (default 20)
  --batch N           most messages per write (default 64)
  --drain DURATION    how long to wait for stragglers after publishing (default 2s)
  --keep              retained: leave the retained messages in place

Connections (conn):
  --sources N         spread clients over N loopback source addresses (default: one per
                      --per-source clients when the broker is on loopback, on Linux)
  --source-base ADDR  first source address (default 127.0.0.2)
  --per-source N      clients per source address (default 10000)
  --concurrency N     handshakes in progress at once (default 64)

Output:
  --pid PID           read this broker process's CPU time and memory around the run (Linux)
  --json              print the result as JSON on stdout (fields: bench/README.md)
  --quiet             no progress line
  --help              this text
`

// benchFlags are midge bench's parsed flags.
type benchFlags struct {
	cfg                  bench.Config
	host, port, version  string
	keepAlive            int
	qos                  int
	duration, drain      durationValue
	tls                  clientTLS
	portSet, retain      bool
	persistent           bool
	sourceBase           string
	jsonOut, quiet, help bool
}

// durationValue is a flag that takes a Go duration ("10s") or seconds ("10").
type durationValue struct{ d time.Duration }

func (v *durationValue) String() string { return v.d.String() }

func (v *durationValue) Set(s string) error {
	if secs, err := strconv.ParseFloat(s, 64); err == nil {
		v.d = time.Duration(secs * float64(time.Second))
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q", s)
	}
	v.d = d
	return nil
}

// parseBench parses the arguments after the mode.
func parseBench(mode bench.Mode, args []string) (*benchFlags, error) {
	bf := &benchFlags{cfg: bench.Config{Mode: mode}}
	fs := flag.NewFlagSet("midge bench "+string(mode), flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	bf.define(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if bf.help {
		return nil, errHelp
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	fs.Visit(func(f *flag.Flag) { bf.portSet = bf.portSet || f.Name == "p" || f.Name == "port" })
	return bf, bf.finish()
}

// define declares every flag on fs, each under all its names.
func (bf *benchFlags) define(fs *flag.FlagSet) {
	c := &bf.cfg
	str := func(p *string, value string, names ...string) {
		for _, n := range names {
			fs.StringVar(p, n, value, "")
		}
	}
	num := func(p *int, value int, names ...string) {
		for _, n := range names {
			fs.IntVar(p, n, value, "")
		}
	}
	boolean := func(p *bool, names ...string) {
		for _, n := range names {
			fs.BoolVar(p, n, false, "")
		}
	}
	str(&bf.host, "localhost", "h", "host")
	str(&bf.port, "1883", "p", "port")
	str(&bf.version, "311", "V", "protocol-version")
	str(&c.Username, "", "u", "username")
	str(&c.Password, "", "P", "pw")
	num(&bf.keepAlive, 60, "k", "keepalive")
	str(&c.ClientPrefix, "", "I", "id-prefix")
	fs.Var(&bf.tls.caFile, "cafile", "")
	fs.Var(&bf.tls.caPath, "capath", "")
	fs.Var(&bf.tls.certFile, "cert", "")
	fs.Var(&bf.tls.keyFile, "key", "")
	fs.Var(&bf.tls.version, "tls-version", "")
	boolean(&bf.tls.insecure, "insecure")
	boolean(&bf.tls.useOSCerts, "tls", "tls-use-os-certs")
	num(&c.Clients, 1, "c", "clients")
	num(&c.Subscribers, 1, "subscribers")
	num(&c.Start, 0, "start")
	str(&c.Topic, "", "t", "topic")
	str(&c.Filter, "", "filter")
	num(&bf.qos, 0, "q", "qos")
	num(&c.PayloadSize, 64, "s", "size")
	boolean(&bf.retain, "r", "retain")
	boolean(&bf.persistent, "persistent")
	fs.Float64Var(&c.Rate, "R", 0, "")
	fs.Float64Var(&c.Rate, "rate", 0, "")
	num(&c.Count, 0, "C", "count")
	fs.Var(&bf.duration, "d", "")
	fs.Var(&bf.duration, "duration", "")
	num(&c.Window, 20, "M", "window")
	num(&c.Batch, 64, "batch")
	fs.Var(&bf.drain, "drain", "")
	num(&c.Sources, 0, "sources")
	str(&bf.sourceBase, "127.0.0.2", "source-base")
	num(&c.PerSource, 10000, "per-source")
	num(&c.Concurrency, 64, "concurrency")
	boolean(&c.KeepClear, "keep")
	num(&c.BrokerPID, 0, "pid")
	boolean(&bf.jsonOut, "json")
	boolean(&bf.quiet, "quiet")
	boolean(&bf.help, "help")
}

// finish turns the flags into the Config.
func (bf *benchFlags) finish() error {
	c := &bf.cfg
	var err error
	if c.TLS, err = bf.tlsConfig(); err != nil {
		return err
	}
	if c.TLS != nil && !bf.portSet {
		bf.port = "8883"
	}
	c.Addr = net.JoinHostPort(bf.host, bf.port)
	switch strings.TrimPrefix(bf.version, "mqttv") {
	case "31":
		c.Version = packets.V31
	case "311":
		c.Version = packets.V311
	case "5":
		c.Version = packets.V5
	default:
		return fmt.Errorf("invalid protocol version %q: use 31, 311 or 5", bf.version)
	}
	if bf.keepAlive < 0 || bf.keepAlive > 65535 {
		return errors.New("keep alive must be between 0 and 65535 seconds")
	}
	c.KeepAlive = time.Duration(bf.keepAlive) * time.Second
	if bf.keepAlive == 0 {
		c.KeepAlive = -1 // none; 0 would mean the default
	}
	if bf.qos < 0 || bf.qos > 2 {
		return fmt.Errorf("invalid QoS %d", bf.qos)
	}
	c.QoS = byte(bf.qos)
	c.Retain = bf.retain
	c.Target.Persistent = bf.persistent
	c.Duration, c.Drain = bf.duration.d, bf.drain.d
	base, err := netip.ParseAddr(bf.sourceBase)
	if err != nil {
		return fmt.Errorf("invalid source address %q", bf.sourceBase)
	}
	c.SourceBase = base
	if c.Mode == bench.ModeConn && c.Duration == 0 {
		c.Duration = 10 * time.Second
	}
	return c.WithDefaults().Validate()
}

// tlsConfig builds the TLS settings, or nil for plain TCP: any TLS flag
// turns TLS on, and without a CA the system's are trusted.
func (bf *benchFlags) tlsConfig() (*tls.Config, error) {
	t := &bf.tls
	if !t.enabled() && !t.certFile.set && !t.keyFile.set && !t.version.set && !t.insecure {
		return nil, nil
	}
	if t.certFile.set != t.keyFile.set {
		return nil, errors.New("--cert and --key go together")
	}
	return t.config(bf.host)
}

// Bench runs `midge bench MODE [options]` and returns the exit status: 0
// when the run completed, 1 for a usage or setup error, 130 when ctx was
// cancelled first (the results so far are still printed).
func Bench(ctx context.Context, args []string, stdio Stdio) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "--help" || args[0] == "-help" {
		fmt.Fprint(stdio.Out, benchUsage)
		if len(args) == 0 {
			return exitFailure
		}
		return exitOK
	}
	mode := bench.Mode(args[0])
	switch mode {
	case bench.ModePub, bench.ModeSub, bench.ModeRun, bench.ModeConn, bench.ModeRetained:
	default:
		fmt.Fprintf(stdio.Err, "Error: unknown bench mode %q.\n\nUse 'midge bench --help' to see usage.\n", args[0])
		return exitFailure
	}
	bf, err := parseBench(mode, args[1:])
	if errors.Is(err, errHelp) {
		fmt.Fprint(stdio.Out, benchUsage)
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stdio.Err, "Error: %v\n\nUse 'midge bench --help' to see usage.\n", err)
		return exitFailure
	}
	var live *progressLine
	if !bf.quiet && isTerminal(stdio.Err) {
		live = &progressLine{w: stdio.Err, mode: mode}
		bf.cfg.Progress = live.update
	}
	res, err := bench.Run(ctx, bf.cfg)
	live.clear()
	if err != nil {
		fmt.Fprintf(stdio.Err, "Error: %v\n", err)
		if ctx.Err() != nil {
			return exitInterrupted
		}
		return exitFailure
	}
	if bf.jsonOut {
		enc := json.NewEncoder(stdio.Out)
		enc.SetIndent("", "  ")
		enc.Encode(res)
	} else {
		res.WriteSummary(stdio.Out)
	}
	if ctx.Err() != nil {
		return exitInterrupted
	}
	return exitOK
}

// progressLine rewrites one line of a terminal with the run's rates.
type progressLine struct {
	w    io.Writer
	mode bench.Mode

	mu    sync.Mutex
	prev  bench.Progress // guarded by mu
	shown bool           // guarded by mu
}

func (p *progressLine) update(cur bench.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "\r%s\x1b[K", bench.ProgressLine(p.mode, p.prev, cur))
	p.prev, p.shown = cur, true
}

// clear erases the line; it does nothing on a nil progressLine.
func (p *progressLine) clear() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}

// isTerminal reports whether w is a character device, such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
