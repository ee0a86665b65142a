package cli

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/internal/listener"
	"github.com/midge-mqtt/midge/packets"
	"github.com/midge-mqtt/midge/topic"
)

// Exit statuses shared by pub and sub, as mosquitto_pub and mosquitto_sub
// use them. A refused CONNACK exits with its return code instead.
const (
	exitOK          = 0
	exitFailure     = 1   // usage error, connection error, --help
	exitInterrupted = 130 // 128 + SIGINT: ctx was cancelled before the work was done
)

// usageError is a command line mistake: it is printed as "Error: msg"
// followed by the hint to run --help.
type usageError struct {
	msg string
	// fullUsage prints the whole usage text on stdout after the error,
	// as mosquitto_pub does when the topic or the message is missing.
	fullUsage bool
	// noHint leaves out the "Use ... --help" line.
	noHint bool
	// noPrefix prints msg without "Error: " ("Error in CONNECT
	// properties: ...").
	noPrefix bool
}

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// errHelp is returned by parse for --help.
var errHelp = errors.New("cli: help requested")

// optString is a string flag that remembers whether it was given.
type optString struct {
	value string
	set   bool
}

func (o *optString) String() string { return o.value }

func (o *optString) Set(v string) error {
	o.value, o.set = v, true
	return nil
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, " ") }

func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// clientFlags are the connection flags mosquitto_pub, mosquitto_sub and
// mosquitto_rr share, with Mosquitto's spelling (-h is the host).
type clientFlags struct {
	tool string // "pub", "sub" or "rr"
	fs   *flag.FlagSet
	// defaultVersion is the protocol level without -V or -D: 3.1.1, or 5
	// for rr.
	defaultVersion byte

	host, port             optString
	id, idPrefix           optString
	keepAlive              optString
	disableClean           bool
	username, password     optString
	debug, quiet, help     bool
	protocolVersion        optString
	qos                    optString
	willTopic              optString
	willPayload            optString
	willQoS                optString
	willRetain             bool
	maxInflight            optString
	sessionExpiry          optString // -x
	properties             propertyFlags
	scram                  bool      // --scram, midge's own
	url                    optString // -L mqtt(s)://[user[:password]@]host[:port]/topic
	unixPath               optString // --unix: a Unix socket instead of host and port
	bindAddress            optString // -A: the local address to connect from
	nodelay                bool      // --nodelay: Go's TCP connections always have it
	proxy                  optString // --proxy socks5h://[user[:password]@]host[:port]
	usesTLS                bool      // options chose TLS
	tls                    clientTLS
	topics                 stringList
	argNouns               map[string]string // flag name -> what its argument is, for errors
	version                byte              // parsed -V, or 5 after -D
	qosValue, willQoSValue byte

	// flagsSeen counts -V and -D as they are parsed; versionAt and
	// propertyAt are the counts of the last of each, since the later of
	// the two decides the version, as in mosquitto_pub.
	flagsSeen, versionAt, propertyAt int
}

// sequenced is a flag.Value that records when it was set, counted in
// *seen, into *at.
type sequenced struct {
	flag.Value
	seen, at *int
}

func (s sequenced) Set(v string) error {
	*s.seen++
	*s.at = *s.seen
	return s.Value.Set(v)
}

// newClientFlags defines the shared flags on a new FlagSet.
func newClientFlags(tool string) *clientFlags {
	cf := &clientFlags{tool: tool, fs: flag.NewFlagSet("midge "+tool, flag.ContinueOnError), argNouns: map[string]string{},
		defaultVersion: packets.V311}
	cf.fs.SetOutput(io.Discard)
	cf.fs.Usage = func() {}
	cf.value(&cf.host, "host", "h", "host")
	cf.value(&cf.port, "port", "p", "port")
	cf.value(&cf.id, "id", "i", "id")
	cf.value(&cf.idPrefix, "id prefix", "I", "id-prefix")
	cf.value(&cf.keepAlive, "keepalive", "k", "keepalive")
	cf.boolean(&cf.disableClean, "c", "disable-clean-session")
	cf.value(&cf.username, "username", "u", "username")
	cf.value(&cf.password, "password", "P", "pw")
	cf.boolean(&cf.debug, "d", "debug")
	cf.boolean(&cf.quiet, "quiet")
	cf.boolean(&cf.help, "help")
	cf.value(sequenced{&cf.protocolVersion, &cf.flagsSeen, &cf.versionAt}, "version", "V", "protocol-version")
	cf.value(sequenced{&cf.properties, &cf.flagsSeen, &cf.propertyAt}, "property", "D", "property")
	cf.value(&cf.sessionExpiry, "session expiry interval", "x")
	cf.boolean(&cf.scram, "scram")
	cf.value(&cf.qos, "QoS", "q", "qos")
	cf.value(&cf.willTopic, "will topic", "will-topic")
	cf.value(&cf.willPayload, "will payload", "will-payload")
	cf.value(&cf.willQoS, "will QoS", "will-qos")
	cf.boolean(&cf.willRetain, "will-retain")
	cf.value(&cf.maxInflight, "max_inflight", "M")
	cf.value(&cf.tls.caFile, "file", "cafile")
	cf.value(&cf.tls.caPath, "directory", "capath")
	cf.value(&cf.tls.certFile, "file", "cert")
	cf.value(&cf.tls.keyFile, "file", "key")
	cf.value(&cf.tls.version, "version", "tls-version")
	cf.value(&cf.tls.ciphers, "cipher list", "ciphers")
	cf.value(&cf.tls.alpn, "protocol", "tls-alpn")
	cf.value(&cf.url, "URL", "L", "url")
	cf.value(&cf.unixPath, "socket path", "unix")
	cf.value(&cf.bindAddress, "bind address", "A")
	cf.boolean(&cf.nodelay, "nodelay")
	cf.value(&cf.proxy, "proxy URL", "proxy")
	cf.boolean(&cf.tls.insecure, "insecure")
	cf.boolean(&cf.tls.useOSCerts, "tls-use-os-certs")
	cf.value(&cf.topics, "topic", "t", "topic")
	return cf
}

// value defines a flag under each of names, all setting v.
func (cf *clientFlags) value(v flag.Value, noun string, names ...string) {
	for _, name := range names {
		cf.fs.Var(v, name, noun)
		cf.argNouns[name] = noun
	}
}

// boolean defines a boolean flag under each of names.
func (cf *clientFlags) boolean(p *bool, names ...string) {
	for _, name := range names {
		cf.fs.BoolVar(p, name, false, "")
	}
}

// parse parses args and translates the flag package's complaints into
// Mosquitto's.
func (cf *clientFlags) parse(args []string) error {
	args, err := cf.gatherProperties(args)
	if err != nil {
		return err
	}
	if err := cf.fs.Parse(args); err != nil {
		if cf.properties.err != nil {
			return cf.properties.err // the flag package would wrap it in its own words
		}
		msg := err.Error()
		if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
			return usagef("Unknown option '%s'.", spelledAs(args, name))
		}
		if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
			return usagef("%s argument given but no %s specified.", spelledAs(args, name), cf.argNouns[name])
		}
		return usagef("%s", msg)
	}
	if cf.fs.NArg() > 0 {
		return usagef("Unknown option '%s'.", cf.fs.Arg(0))
	}
	if cf.help {
		return errHelp
	}
	return nil
}

// spelledAs finds how the user wrote the flag name (-x or --x).
func spelledAs(args []string, name string) string {
	for _, a := range args {
		if a == "-"+name || a == "--"+name || strings.HasPrefix(a, "-"+name+"=") || strings.HasPrefix(a, "--"+name+"=") {
			a, _, _ = strings.Cut(a, "=")
			return a
		}
	}
	return "-" + name
}

// validate checks the shared flags, in the order mosquitto reports them.
func (cf *clientFlags) validate() error {
	var err error
	if cf.url.set {
		if err := cf.applyURL(cf.url.value); err != nil {
			return err
		}
	}
	if cf.qosValue, err = parseQoS(cf.qos, "Invalid QoS given: %s"); err != nil {
		return err
	}
	if cf.port.set {
		if n, err := strconv.Atoi(cf.port.value); err != nil || n < 1 || n > 65535 {
			return usagef("Invalid port given: %s", cf.port.value)
		}
	}
	if cf.keepAlive.set {
		if n, err := strconv.Atoi(cf.keepAlive.value); err != nil || n < 5 || n > 65535 {
			return usagef("Invalid keepalive given, it must be between 5 and 65535 inclusive.")
		}
	}
	if cf.id.set && cf.idPrefix.set {
		return usagef("-i and -I argument cannot be used together.")
	}
	if cf.maxInflight.set {
		if n, err := strconv.Atoi(cf.maxInflight.value); err != nil || n < 1 {
			return usagef("Maximum inflight messages must be greater than 0.")
		}
	}
	if err := cf.validateVersion(); err != nil {
		return err
	}
	if err := cf.validateWill(); err != nil {
		return err
	}
	if cf.tls.certFile.set != cf.tls.keyFile.set {
		return usagef("Both certfile and keyfile must be provided if one of them is set.")
	}
	if err := cf.validateSession(); err != nil {
		return err
	}
	if err := cf.properties.check(); err != nil {
		return err
	}
	if cf.scram && (!cf.username.set || !cf.password.set) {
		return usagef("--scram needs a username (-u) and a password (-P).")
	}
	if cf.scram && (cf.properties.connect.Has(packets.PropAuthMethod) || cf.properties.connect.Has(packets.PropAuthData)) {
		return usagef("--scram and an authentication-method or authentication-data property cannot be used together.")
	}
	if cf.password.set && !cf.username.set && cf.version != packets.V5 {
		// MQTT 3.1.1 sends a password only with a username [MQTT-3.1.2-22].
		// mosquitto_pub's line, then what it means.
		return &usageError{msg: "Problem setting username and/or password.\nError: -P needs -u: " +
			"MQTT 3.1 and 3.1.1 send a password only with a user name (-V 5 sends one alone).", noHint: true}
	}
	if cf.proxy.set {
		if _, _, err := parseProxy(cf.proxy.value); err != nil {
			return err
		}
	}
	if cf.bindAddress.set && cf.unixPath.set {
		return usagef("-A and --unix cannot be used together.")
	}
	return nil
}

// validateVersion sets cf.version from -V, -D (which implies MQTT 5 unless
// a later -V says otherwise) and --scram.
func (cf *clientFlags) validateVersion() error {
	cf.version = cf.defaultVersion
	if cf.protocolVersion.set {
		switch cf.protocolVersion.value {
		case "mqttv31", "31":
			cf.version = packets.V31
		case "mqttv311", "311":
			cf.version = packets.V311
		case "mqttv5", "5":
			cf.version = packets.V5
		default:
			return usagef("Invalid protocol version argument given.")
		}
	}
	if cf.properties.given && cf.propertyAt > cf.versionAt {
		cf.version = packets.V5
	}
	if cf.scram {
		if !cf.protocolVersion.set {
			cf.version = packets.V5
		} else if cf.version != packets.V5 {
			return usagef("--scram needs MQTT v5.")
		}
	}
	return nil
}

// validateSession checks -c and -x, and with MQTT 5 turns them into the
// Session Expiry Interval of CONNECT, as mosquitto_pub does: -c alone
// keeps the session for ever, which needs a client id.
func (cf *clientFlags) validateSession() error {
	expiry := int64(-1) // not given
	if cf.sessionExpiry.set {
		var err error
		if expiry, err = parseSessionExpiry(cf.sessionExpiry.value); err != nil {
			return err
		}
	}
	if cf.version != packets.V5 {
		if cf.disableClean && !cf.id.set {
			return usagef("You must provide a client id if you are using the -c option.")
		}
		return nil
	}
	if cf.disableClean && expiry == -1 {
		expiry = math.MaxUint32
	}
	if expiry <= 0 {
		return nil
	}
	if expiry == math.MaxUint32 && !cf.id.set {
		return usagef("You must provide a client id if you are using an infinite session expiry interval.")
	}
	connect := &cf.properties.connect
	if connect.Has(packets.PropSessionExpiry) {
		cf.properties.duplicate(cmdConnect)
	}
	connect.SessionExpiry = uint32(expiry)
	connect.Set(packets.PropSessionExpiry)
	return nil
}

// parseSessionExpiry reads -x: seconds, -1 or "∞" for no expiry.
func parseSessionExpiry(v string) (int64, error) {
	if v == "∞" {
		return math.MaxUint32, nil
	}
	n, err := strconv.ParseInt(v, 0, 64)
	var ne *strconv.NumError
	if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
		return 0, usagef("session-expiry-interval out of range.")
	}
	if err != nil {
		return 0, usagef("session-expiry-interval not a number.")
	}
	if n > math.MaxUint32 || n < -1 {
		return 0, usagef("session-expiry-interval out of range.")
	}
	if n == -1 {
		n = math.MaxUint32
	}
	return n, nil
}

func (cf *clientFlags) validateWill() error {
	if cf.willTopic.set {
		if err := topic.ValidName(cf.willTopic.value); err != nil {
			return usagef("Invalid will topic '%s', does it contain '+' or '#'?", cf.willTopic.value)
		}
	}
	var err error
	if cf.willQoSValue, err = parseQoS(cf.willQoS, "Invalid will QoS %s."); err != nil {
		return err
	}
	if cf.willPayload.set && !cf.willTopic.set {
		return usagef("Will payload given, but no will topic given.")
	}
	if cf.willRetain && !cf.willTopic.set {
		return usagef("Will retain given, but no will topic given.")
	}
	return nil
}

func parseQoS(o optString, format string) (byte, error) {
	if !o.set {
		return 0, nil
	}
	n, err := strconv.Atoi(o.value)
	if err != nil || n < 0 || n > 2 {
		return 0, usagef(format, o.value)
	}
	return byte(n), nil
}

// clientID is -i, or -I followed by the process id, or with MQTT 5 empty
// (the server assigns one), or a random id in the spirit of Mosquitto's
// "mosq-" ids, short enough for MQTT 3.1 (23 bytes).
func (cf *clientFlags) clientID() string {
	switch {
	case cf.id.set:
		return cf.id.value
	case cf.idPrefix.set:
		return cf.idPrefix.value + strconv.Itoa(os.Getpid())
	case cf.version == packets.V5:
		return ""
	}
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	prefix := "midge-" + cf.tool + "-"
	random := make([]byte, 23-len(prefix))
	rand.Read(random)
	for i, b := range random {
		random[i] = letters[int(b)%len(letters)]
	}
	return prefix + string(random)
}

// options builds the client options for the parsed flags; with -d, the
// client's debug trace goes to trace.
func (cf *clientFlags) options(clientID string, trace *traceHandler) client.Options {
	host := "localhost"
	if cf.host.set {
		// -h '[::1]' as in a URL, or -h ::1.
		host = strings.TrimSuffix(strings.TrimPrefix(cf.host.value, "["), "]")
	}
	port := "1883"
	if cf.tls.enabled() {
		port = "8883"
	}
	if cf.port.set {
		n, _ := strconv.Atoi(cf.port.value) // validate checked it
		port = strconv.Itoa(n)
	}
	keepAlive := 60
	if cf.keepAlive.set {
		keepAlive, _ = strconv.Atoi(cf.keepAlive.value)
	}
	opts := client.Options{
		Addr:        net.JoinHostPort(host, port),
		ClientID:    clientID,
		CleanStart:  !cf.disableClean,
		KeepAlive:   time.Duration(keepAlive) * time.Second,
		Username:    cf.username.value,
		UsernameSet: cf.username.set,
		Password:    []byte(cf.password.value),
		PasswordSet: cf.password.set,
		Version:     cf.version,
		Properties:  cf.properties.connect,
	}
	if cf.scram {
		// The password proves itself without crossing the wire; the user
		// name travels in the SCRAM messages.
		opts.Auth = client.SCRAMSHA512(cf.username.value, []byte(cf.password.value))
		opts.UsernameSet, opts.PasswordSet = false, false
	}
	if cf.maxInflight.set {
		opts.MaxInflight, _ = strconv.Atoi(cf.maxInflight.value)
	}
	base := cf.dialer()
	opts.Dialer = base
	cf.usesTLS = cf.tls.enabled() || port == "8883"
	switch {
	case cf.tls.enabled():
		cfg, err := cf.tls.config(host)
		opts.Dialer = tlsDialer(base, cfg, err)
	case port == "8883":
		// mosquitto_pub -p 8883 without a CA trusts the system's.
		withOSCerts := cf.tls
		withOSCerts.useOSCerts = true
		cfg, err := withOSCerts.config(host)
		opts.Dialer = tlsDialer(base, cfg, err)
	case cf.tls.version.set:
		// Checked even without TLS, as mosquitto_pub does.
		if _, err := listener.TLSVersion(cf.tls.version.value); err != nil {
			opts.Dialer = tlsDialer(base, nil, &tlsSetupError{&tlsVersionError{err}})
		}
	}
	if cf.willTopic.set {
		opts.Will = &packets.Will{
			Topic:      cf.willTopic.value,
			Payload:    []byte(cf.willPayload.value),
			QoS:        cf.willQoSValue,
			Retain:     cf.willRetain,
			Properties: cf.properties.will,
		}
	}
	if cf.debug {
		opts.Logger = slog.New(trace)
	}
	return opts
}

// reportUsage prints a parse error the way mosquitto does and returns the
// exit status.
func reportUsage(stdio Stdio, tool string, err error, usage func(io.Writer)) int {
	if errors.Is(err, errHelp) {
		usage(stdio.Out)
		return exitFailure // mosquitto_pub --help exits with 1 too
	}
	var ue *usageError
	if !errors.As(err, &ue) {
		fmt.Fprintf(stdio.Err, "Error: %v\n", err)
		return exitFailure
	}
	if ue.noPrefix {
		fmt.Fprintln(stdio.Err, ue.msg)
	} else {
		fmt.Fprintf(stdio.Err, "Error: %s\n", ue.msg)
	}
	switch {
	case ue.fullUsage:
		usage(stdio.Out)
	case !ue.noHint:
		fmt.Fprintf(stdio.Err, "\nUse 'midge %s --help' to see usage.\n", tool)
	}
	return exitFailure
}

// connectFailure prints why Dial failed, as mosquitto_pub/sub would, unless
// quiet, and returns the exit status: the CONNACK code for a refusal, 1
// otherwise.
func (cf *clientFlags) connectFailure(stdio Stdio, refusedLine bool, err error) int {
	quiet := cf.quiet
	var refused *client.ConnectError
	if errors.As(err, &refused) {
		if !quiet {
			if refused.Version == packets.V5 && refused.Code == packets.UnsupportedProtocolVersion {
				fmt.Fprintf(stdio.Err, "Connection error: %s. Try connecting to an MQTT v5 broker, or use MQTT v3.x mode.\n",
					client.ConnackString(refused.Version, refused.Code))
			} else {
				fmt.Fprintf(stdio.Err, "Connection error: %s\n", client.ConnackString(refused.Version, refused.Code))
			}
			if refusedLine {
				fmt.Fprintln(stdio.Err, "Error: The connection was refused.")
			}
		}
		return int(refused.Code)
	}
	if !quiet {
		fmt.Fprintln(stdio.Err, dialErrorText(err))
		if !cf.usesTLS && errors.Is(err, client.ErrConnectionLost) && strings.Contains(err.Error(), "waiting for CONNACK") {
			// Mosquitto's TLS listener resets a plain client, and says no more.
			fmt.Fprintln(stdio.Err, "Error: the server closed the connection without a CONNACK: if this port takes TLS, "+
				"connect with --cafile or --tls-use-os-certs.")
		}
	}
	return exitFailure
}

// dialErrorText words a dial or handshake failure like libmosquitto:
// "Error: Connection refused", "Unable to connect (Lookup error.).".
func dialErrorText(err error) string {
	var notMQTT *client.NotMQTTError
	if errors.As(err, &notMQTT) {
		return "Error: " + strings.TrimPrefix(notMQTT.Error(), "client: ")
	}
	var dnsErr *net.DNSError
	var errno syscall.Errno
	var setup *tlsSetupError
	var handshake *tlsHandshakeError
	switch {
	case errors.As(err, &setup):
		return "Error: " + setup.mosquittoText()
	case errors.As(err, &handshake):
		return "Unable to connect (A TLS error occurred.).\nError: " + handshake.err.Error()
	case errors.As(err, &dnsErr):
		return "Unable to connect (Lookup error.)."
	case errors.As(err, &errno):
		return "Error: " + capitalize(errno.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return "Error: Connection timed out"
	}
	return "Error: " + err.Error()
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// traceHandler prints the client's debug records the way libmosquitto's
// log callback does in mosquitto_pub -d: "Client ID sending CONNECT". The
// ID is the record's "client_id", "(null)" while it is empty (before an
// MQTT 5 server assigns one).
type traceHandler struct {
	out io.Writer
	// after, when set, sees every record once it is printed (sub uses it
	// to print "Subscribed (mid: 1): 0" right after the SUBACK).
	after func(slog.Record)
}

func (h *traceHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *traceHandler) Handle(_ context.Context, r slog.Record) error {
	clientID := "(null)"
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "client_id" && a.Value.String() != "" {
			clientID = a.Value.String()
		}
		return true
	})
	_, err := fmt.Fprintf(h.out, "Client %s %s\n", clientID, r.Message)
	if h.after != nil {
		h.after(r)
	}
	return err
}

func (h *traceHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *traceHandler) WithGroup(string) slog.Handler      { return h }

// lockedWriter serializes writes from the client's goroutines and the tool.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer // guarded by mu
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// willAndTLSUsage ends the usage text of pub, sub and rr: the will and TLS
// options they share, worded as mosquitto's tools word them.
const willAndTLSUsage = ` --will-payload : payload for the client Will, which is sent by the broker in case of
                  unexpected disconnection. If not given and will-topic is set, a zero
                  length message will be sent.
 --will-qos : QoS level for the client Will.
 --will-retain : if given, make the client Will retained.
 --will-topic : the topic on which to publish the client Will.
 -A : bind the outgoing socket to this host/ip address. Use to control which interface
      the client communicates over.
 -L : specify user, password, hostname, port and topic as a URL in the form:
      mqtt(s)://[username[:password]@]host[:port]/topic
 --nodelay : disable Nagle's algorithm, to reduce socket sending latency. midge's
             connections always have it disabled; the option is accepted as
             mosquitto_pub's is.
 --property : the long form of -D.
 --proxy : SOCKS5 proxy URL of the form: socks5h://[username[:password]@]hostname[:port]
           Only "none" and "username" authentication is supported.
 --unix : connect to a broker through a unix domain socket instead of a TCP socket,
          e.g. /tmp/mosquitto.sock
 --cafile : path to a file containing trusted CA certificates to enable encrypted
            communication.
 --capath : path to a directory containing trusted CA certificates to enable encrypted
            communication.
 --cert : client certificate for authentication, if required by server.
 --key : client private key for authentication, if required by server.
 --tls-version : TLS protocol version, can be one of tlsv1.3 tlsv1.2 or tlsv1.1.
                 Defaults to tlsv1.2 if available.
 --insecure : do not check that the server certificate hostname matches the remote
              hostname. Using this option means that you cannot be sure that the
              remote host is the server you wish to connect to and so is insecure.
              Do not use this option in a production environment.
 --tls-use-os-certs : Load and trust OS provided CA certificates.
 --ciphers : openssl compatible list of TLS ciphers to support in the client (TLS 1.2 and
             earlier; Go chooses the TLS 1.3 ones). See ciphers(1).
 --tls-alpn : TLS application layer protocol to offer (ALPN), e.g. mqtt.
 --scram : (midge) authenticate with SCRAM-SHA-512, MQTT v5 enhanced authentication, using
           -u and -P: the password does not cross the network. Implies -V 5.
`
