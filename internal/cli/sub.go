package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/packets"
	"github.com/midge-mqtt/midge/topic"
)

// exitTimeout is mosquitto_sub's status when -W runs out: ETIMEDOUT on
// Linux.
const exitTimeout = 27

// subFlags are midge sub's flags: the shared ones plus mosquitto_sub's.
type subFlags struct {
	*clientFlags
	output         outputFlags
	noRetain       bool // -R
	exitAfterSub   bool // -E
	retainedOnly   bool
	removeRetained bool
	noLocal        bool      // --nl
	retainAsPub    bool      // --rap
	retainHandling optString // --rh
	count          optString // -C
	timeout        optString // -W
	filterOut      stringList
	unsubscribe    stringList

	countValue          int
	timeoutValue        time.Duration
	retainHandlingValue byte
}

func parseSub(args []string) (*subFlags, error) {
	sf := &subFlags{clientFlags: newClientFlags("sub")}
	sf.output.define(sf.clientFlags)
	sf.boolean(&sf.noRetain, "R")
	sf.boolean(&sf.noLocal, "nl")
	sf.boolean(&sf.retainAsPub, "rap", "retain-as-published")
	sf.value(&sf.retainHandling, "retain handling", "rh", "retain-handling")
	sf.boolean(&sf.exitAfterSub, "E")
	sf.boolean(&sf.retainedOnly, "retained-only")
	sf.boolean(&sf.removeRetained, "remove-retained")
	sf.value(&sf.count, "count", "C")
	sf.value(&sf.timeout, "timeout", "W")
	sf.value(&sf.filterOut, "topic filter", "T", "filter-out")
	sf.value(&sf.unsubscribe, "unsubscribe topic", "U", "unsubscribe")
	if err := sf.parse(args); err != nil {
		return nil, err
	}
	if err := sf.validate(); err != nil {
		return nil, err
	}
	if err := sf.output.validate(); err != nil {
		return nil, err
	}
	if sf.retainHandling.set {
		n, err := strconv.Atoi(sf.retainHandling.value)
		if err != nil || n < 0 || n > 2 {
			return nil, usagef("Invalid retain handling \"%s\", it must be 0, 1 or 2.", sf.retainHandling.value)
		}
		sf.retainHandlingValue = byte(n)
	}
	if sf.count.set {
		n, err := strconv.Atoi(sf.count.value)
		if err != nil || n < 1 {
			return nil, usagef("Invalid message count \"%s\".", sf.count.value)
		}
		sf.countValue = n
	}
	if sf.timeout.set {
		n, err := strconv.Atoi(sf.timeout.value)
		if err != nil || n < 1 {
			return nil, usagef("Invalid timeout \"%s\".", sf.timeout.value)
		}
		sf.timeoutValue = time.Duration(n) * time.Second
	}
	for _, f := range sf.topics {
		if topic.ValidFilter(f) != nil {
			return nil, usagef("Invalid subscription topic '%s', are all '+' and '#' wildcards correct?", f)
		}
	}
	for _, f := range sf.filterOut {
		if topic.ValidFilter(f) != nil {
			return nil, usagef("Invalid filter topic '%s', are all '+' and '#' wildcards correct?", f)
		}
	}
	for _, f := range sf.unsubscribe {
		if topic.ValidFilter(f) != nil {
			return nil, usagef("Invalid unsubscribe topic '%s', are all '+' and '#' wildcards correct?", f)
		}
	}
	if len(sf.topics) == 0 {
		return nil, usagef("You must specify a topic to subscribe to.")
	}
	if sf.noRetain && sf.retainedOnly {
		return nil, &usageError{msg: "Combining '-R' and '--retained-only' makes no sense.", noHint: true}
	}
	if sf.version == packets.V5 && sf.countValue > 0 && sf.countValue < client.DefaultMaxInflight &&
		!sf.properties.connect.Has(packets.PropReceiveMaximum) {
		// Not more messages in flight than -C wants, as mosquitto_sub.
		sf.properties.connect.ReceiveMaximum = uint16(sf.countValue)
		sf.properties.connect.Set(packets.PropReceiveMaximum)
	}
	return sf, nil
}

// subscriber is the state of one midge sub run shared by the reader
// goroutine (onMessage) and the tool's goroutine.
type subscriber struct {
	flags   *subFlags
	printer *printer

	// Touched only by the client's reader goroutine, in onMessage.
	received int  // messages printed, for -C
	stopped  bool // -C reached or --retained-only saw a live message

	finished     chan struct{} // closed once no more messages are wanted
	finishOnce   sync.Once
	removeSignal chan struct{} // capacity 1: removals are waiting

	mu       sync.Mutex
	removals []string // --remove-retained topics to clear; guarded by mu
}

// Sub is `midge sub`, mosquitto_sub's twin: it subscribes to the -t
// filters and prints each message until -C messages, -W seconds, or ctx is
// cancelled (then it disconnects and returns 0, as mosquitto_sub does on
// SIGINT). It returns 0, 1 for a usage or connection error, 27 when -W
// ran out, or the CONNACK code of a refusal.
func Sub(ctx context.Context, args []string, stdio Stdio) int {
	sf, err := parseSub(args)
	if err != nil {
		return reportUsage(stdio, "sub", err, subUsage)
	}
	out := &lockedWriter{w: stdio.Out}
	s := &subscriber{
		flags:        sf,
		printer:      sf.output.printer(out, stdio.Err, sf.quiet),
		finished:     make(chan struct{}),
		removeSignal: make(chan struct{}, 1),
	}
	runCtx := ctx
	if sf.timeoutValue > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, sf.timeoutValue)
		defer cancel()
	}
	clientID := sf.clientID()
	opts := sf.options(clientID, &traceHandler{out: out, after: s.traceSubscribed})
	opts.OnMessage = s.onMessage
	c, err := client.Dial(runCtx, opts)
	if err != nil {
		if status, ended := s.ended(ctx, runCtx, stdio); ended {
			return status
		}
		return sf.connectFailure(stdio, false, err)
	}
	status := s.run(ctx, runCtx, c, stdio)
	if status != exitFailure {
		disconnectCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c.DisconnectWith(disconnectCtx, &packets.Disconnect{Properties: sf.properties.disconnect})
	}
	c.Close()
	return status
}

// ended reports whether the run is over because ctx was cancelled (status 0)
// or -W ran out (status 27, after saying so).
func (s *subscriber) ended(ctx, runCtx context.Context, stdio Stdio) (int, bool) {
	switch {
	case ctx.Err() != nil:
		return exitOK, true
	case runCtx.Err() != nil:
		if !s.flags.quiet {
			fmt.Fprintln(stdio.Err, "Timed out")
		}
		return exitTimeout, true
	}
	return 0, false
}

// run subscribes, unsubscribes -U, then waits for the end of the run.
func (s *subscriber) run(ctx, runCtx context.Context, c *client.Client, stdio Stdio) int {
	sf := s.flags
	subscribe := &packets.Subscribe{Properties: sf.properties.subscribe, Subscriptions: make([]packets.Subscription, len(sf.topics))}
	for i, f := range sf.topics {
		subscribe.Subscriptions[i] = packets.Subscription{Filter: f, QoS: sf.qosValue,
			NoLocal: sf.noLocal, RetainAsPublished: sf.retainAsPub, RetainHandling: sf.retainHandlingValue}
	}
	ack, err := c.SubscribeWith(runCtx, subscribe)
	if err != nil {
		return s.failed(ctx, runCtx, err, stdio)
	}
	codes := ack.ReasonCodes
	s.reportSubscribed(codes, stdio)
	for _, f := range sf.unsubscribe {
		unsubscribe := &packets.Unsubscribe{Properties: sf.properties.unsubscribe, Filters: []string{f}}
		if _, err := c.UnsubscribeWith(runCtx, unsubscribe); err != nil {
			return s.failed(ctx, runCtx, err, stdio)
		}
	}
	if sf.exitAfterSub || allDenied(codes) {
		return exitOK
	}
	var removals []<-chan error
	for {
		select {
		case <-s.finished:
			// Let the --remove-retained publishes complete first, as
			// mosquitto_sub waits for the last one.
			for _, name := range s.takeRemovals() {
				if done, err := c.PublishAsync(runCtx, &packets.Publish{Topic: name, QoS: 1, Retain: true}); err == nil {
					removals = append(removals, done)
				}
			}
			for _, done := range removals {
				select {
				case <-done:
				case <-runCtx.Done():
				}
			}
			return exitOK
		case <-s.removeSignal:
			for _, name := range s.takeRemovals() {
				done, err := c.PublishAsync(runCtx, &packets.Publish{Topic: name, QoS: 1, Retain: true})
				if err != nil {
					return s.failed(ctx, runCtx, err, stdio)
				}
				removals = append(removals, done)
			}
		case <-runCtx.Done():
			status, _ := s.ended(ctx, runCtx, stdio)
			return status
		case <-c.Done():
			return s.failed(ctx, runCtx, c.Err(), stdio)
		}
	}
}

// failed reports an error after connecting and returns the exit status.
func (s *subscriber) failed(ctx, runCtx context.Context, err error, stdio Stdio) int {
	if status, ended := s.ended(ctx, runCtx, stdio); ended {
		return status
	}
	if !s.flags.quiet {
		fmt.Fprintln(stdio.Err, runtimeErrorText(err))
	}
	return exitFailure
}

// reportSubscribed prints mosquitto_sub's complaint when every
// subscription was refused.
func (s *subscriber) reportSubscribed(codes []packets.ReasonCode, stdio Stdio) {
	if allDenied(codes) && !s.flags.quiet {
		fmt.Fprintln(stdio.Err, "All subscription requests were denied.")
	}
}

func allDenied(codes []packets.ReasonCode) bool {
	for _, code := range codes {
		if !code.IsError() {
			return false
		}
	}
	return len(codes) > 0
}

// traceSubscribed follows the -d trace line of a SUBACK with
// mosquitto_sub's "Subscribed (mid: 1): 0, 1", from the client's reader
// goroutine, so it comes before the trace of any later packet.
func (s *subscriber) traceSubscribed(r slog.Record) {
	var isSuback bool
	var id int64
	var codes []packets.ReasonCode
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "packet":
			isSuback = a.Value.String() == packets.TypeSuback.String()
		case "packet_id":
			id = a.Value.Int64()
		case "reason_codes":
			codes, _ = a.Value.Any().([]packets.ReasonCode)
		}
		return true
	})
	if !isSuback || s.flags.quiet {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Subscribed (mid: %d):", id)
	for i, code := range codes {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, " %d", byte(code))
	}
	b.WriteByte('\n')
	io.WriteString(s.printer.out, b.String())
}

// onMessage runs on the client's reader goroutine for every message, in
// mosquitto_sub's order: --retained-only, -R, -T, --remove-retained, print,
// -C.
func (s *subscriber) onMessage(m *packets.Publish) {
	sf := s.flags
	if s.stopped {
		return
	}
	if sf.retainedOnly && !m.Retain {
		s.finish()
		return
	}
	if m.Retain && sf.noRetain {
		return
	}
	for _, f := range sf.filterOut {
		if topic.Match(f, m.Topic) {
			return
		}
	}
	if sf.removeRetained && m.Retain {
		s.mu.Lock()
		s.removals = append(s.removals, strings.Clone(m.Topic))
		s.mu.Unlock()
		select {
		case s.removeSignal <- struct{}{}:
		default:
		}
	}
	s.printer.print(m)
	if sf.countValue > 0 {
		s.received++
		if s.received == sf.countValue {
			s.finish()
		}
	}
}

// finish stops handling messages and tells run to end.
func (s *subscriber) finish() {
	s.stopped = true
	s.finishOnce.Do(func() { close(s.finished) })
}

func (s *subscriber) takeRemovals() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := s.removals
	s.removals = nil
	return names
}

func subUsage(w io.Writer) {
	io.WriteString(w, `midge sub is a simple mqtt client that will subscribe to a set of topics and print all messages it receives.
It takes mosquitto_sub's options.

Usage: midge sub {[-h host] [-p port] [-u username] [-P password] -t topic}
                 [-c] [-k keepalive] [-q qos]
                 [-C msg_count] [-E] [-R] [--retained-only] [--remove-retained] [-T filter_out] [-U topic ...]
                 [-F format] [--pretty] [--nl] [--rap] [--rh retain-handling]
                 [-W timeout_secs]
                 [-i id] [-I id_prefix]
                 [-d] [-N] [--quiet] [-v]
                 [-V protocol-version] [-x session-expiry-interval]
                 [--will-topic [--will-payload payload] [--will-qos qos] [--will-retain]]
                 [{--cafile file | --capath dir} [--cert file] [--key file]
                   [--insecure] [--tls-version version]]
                   [--tls-use-os-certs]
                 [-D command property value] [--scram]
                 [-A bind_address] [-L URL] [--unix path] [--nodelay] [--proxy socks-url]
                 [--ciphers ciphers] [--tls-alpn protocol]
       midge sub --help

 -c : disable clean session/enable persistent client mode
      When this argument is used, the broker will be instructed not to clean existing sessions
      for the same client id when the client connects.
 -C : disconnect and exit after receiving the 'msg_count' messages.
 -d : enable debug messages.
 -D : Define MQTT v5 properties: -D command property value, or -D command user-property
      name value. Commands: connect, publish, subscribe, unsubscribe, disconnect, will.
      Properties are spelled as mosquitto_pub spells them, e.g. content-type. Implies -V 5.
 -E : Exit once all subscriptions have been acknowledged by the broker.
 -F : output format: %t topic, %p payload, %q QoS, %r retain, %m message id, %l payload length,
      %x/%X payload in hex, %j/%J JSON (payload escaped / payload as JSON), %I ISO 8601 time,
      %U Unix time with nanoseconds, %% a percent sign; MQTT v5 properties %A topic alias,
      %C content type, %D correlation data, %E message expiry, %F payload format,
      %P user properties, %R response topic, %S subscription identifier. Flags 0 and -,
      width and precision as in printf (%-10t, %05l, %.3C). @X prints strftime's %X,
      @N nanoseconds, @@ an @. Escapes \\ \0 \a \e \n \r \t \v.
 -h : mqtt host to connect to. Defaults to localhost.
 -i : id to use for this client. Defaults to midge-sub- followed by random characters;
      with -V 5 none is sent, and the broker assigns one.
 -I : define the client id as id_prefix appended with the process id. Useful for when the
      broker is using the clientid_prefixes option.
 -k : keep alive in seconds for this client. Defaults to 60.
 -M : the maximum inflight messages for QoS 1/2. Defaults to 20.
 -N : do not add an end of line character when printing the payload.
 -p : network port to connect to. Defaults to 1883 for plain MQTT and 8883 for MQTT over TLS.
 -P : provide a password
 -q : quality of service level to use for the subscription. Defaults to 0.
 -R : do not print stale messages (those with retain set).
 -t : mqtt topic to subscribe to. May be repeated multiple times.
 -T : topic string to filter out of results. May be repeated.
 -u : provide a username
 -U : unsubscribe from a topic. May be repeated.
 -v : print published messages verbosely.
 -V : specify the version of the MQTT protocol to use when connecting.
      Can be mqttv5, mqttv311 or mqttv31. Defaults to mqttv311.
 -x : Set the session-expiry-interval property on the CONNECT packet. Applies to MQTT v5
      clients only. Set to 0-4294967294 to specify the session will expire in that many
      seconds after the client disconnects, or use -1, 4294967295, or ∞ for a session
      that does not expire. Defaults to -1 if -c is also given, or 0 if -c not given.
 -W : Specifies a timeout in seconds how long to process incoming MQTT messages.
 --help : display this message.
 --nl : (MQTT v5) no local: do not receive the messages this client publishes.
 --pretty : print formatted output rather than minimised output when using the
            JSON output format option.
 --rap : (MQTT v5) retain as published: keep the retain flag of messages as published
         (also --retain-as-published).
 --rh : (MQTT v5) retain handling: 0 send retained messages on subscribing (the default),
        1 only for a new subscription, 2 never (also --retain-handling).
 --quiet : don't print error messages.
 --retained-only : only handle messages with the retained flag set, and exit when the
                   first non-retained message is received.
 --remove-retained : send a message to the server to clear any received retained messages
                     Use -T to filter out messages you do not want to be cleared.
`+willAndTLSUsage)
}
