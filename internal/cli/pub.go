package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/packets"
	"github.com/midge-mqtt/midge/topic"
)

// pubFlags are midge pub's flags: the shared ones plus the payload source
// and publishing options of mosquitto_pub.
type pubFlags struct {
	*clientFlags
	payloadFlags
	stdinLine   payloadSwitch // -l
	retain      bool
	repeat      optString
	repeatDelay optString

	topic       string
	repeatCount int
	delay       time.Duration
	// aliasSet says a message with the topic and its Topic Alias (-D
	// publish topic-alias) has been built: later ones carry the alias
	// alone, as mosquitto_pub sends them.
	aliasSet bool
}

// payloadString is -m or -f: a value that counts as a payload source.
type payloadString struct {
	optString
	sources *int
}

func (p *payloadString) Set(v string) error {
	*p.sources++
	return p.optString.Set(v)
}

// payloadSwitch is -l, -n or -s: a switch that counts as a payload source.
type payloadSwitch struct {
	on      bool
	sources *int
}

func (p *payloadSwitch) String() string   { return strconv.FormatBool(p.on) }
func (p *payloadSwitch) IsBoolFlag() bool { return true }

func (p *payloadSwitch) Set(v string) error {
	on, err := strconv.ParseBool(v)
	if err != nil {
		return err
	}
	if on {
		*p.sources++
	}
	p.on = on
	return nil
}

// payloadFlags are the payload sources of mosquitto_pub and mosquitto_rr:
// -m, -f, -n and -s (and -l for pub, which adds its own).
type payloadFlags struct {
	message     payloadString // -m
	file        payloadString // -f
	nullMessage payloadSwitch // -n
	stdinFile   payloadSwitch // -s
	sources     int           // payload sources given; exactly one is allowed
}

func (pl *payloadFlags) define(cf *clientFlags) {
	pl.message.sources = &pl.sources
	pl.file.sources = &pl.sources
	pl.nullMessage.sources = &pl.sources
	pl.stdinFile.sources = &pl.sources
	cf.value(&pl.message, "message", "m", "message")
	cf.value(&pl.file, "file", "f", "file")
	cf.value(&pl.nullMessage, "", "n", "null-message")
	cf.value(&pl.stdinFile, "", "s", "stdin-file")
}

// read returns the payload of -m, -f or -s (nil for -n); on failure it
// says why, as mosquitto_pub does, and returns false.
func (pl *payloadFlags) read(stdio Stdio) ([]byte, bool) {
	switch {
	case pl.file.set:
		payload, err := os.ReadFile(pl.file.value)
		if err != nil {
			fmt.Fprintf(stdio.Err, "Error: Unable to open file \"%s\".\n", pl.file.value)
			fmt.Fprintf(stdio.Err, "Error loading input file \"%s\".\n", pl.file.value)
			return nil, false
		}
		return payload, true
	case pl.stdinFile.on:
		payload, err := io.ReadAll(stdio.In)
		if err != nil {
			fmt.Fprintf(stdio.Err, "Error: reading stdin: %v\n", err)
			return nil, false
		}
		return payload, true
	case pl.message.set:
		return []byte(pl.message.value), true
	}
	return nil, true
}

func parsePub(args []string) (*pubFlags, error) {
	pf := &pubFlags{clientFlags: newClientFlags("pub")}
	pf.payloadFlags.define(pf.clientFlags)
	pf.stdinLine.sources = &pf.sources
	pf.value(&pf.stdinLine, "", "l", "stdin-line")
	pf.boolean(&pf.retain, "r", "retain")
	pf.value(&pf.repeat, "count", "repeat")
	pf.value(&pf.repeatDelay, "time", "repeat-delay")
	if err := pf.parse(args); err != nil {
		return nil, err
	}
	if pf.sources > 1 {
		return nil, usagef("Only one type of message can be sent at once.")
	}
	if err := pf.validate(); err != nil {
		return nil, err
	}
	if len(pf.topics) > 0 {
		pf.topic = pf.topics[len(pf.topics)-1] // mosquitto_pub keeps the last -t
		if err := topic.ValidName(pf.topic); err != nil {
			return nil, usagef("Invalid publish topic '%s', does it contain '+' or '#'?", pf.topic)
		}
	}
	pf.repeatCount = 1
	if pf.repeat.set {
		n, err := strconv.Atoi(pf.repeat.value)
		if err != nil || n < 1 {
			return nil, usagef("--repeat argument must be >0.")
		}
		pf.repeatCount = n
	}
	if pf.repeatDelay.set {
		f, err := strconv.ParseFloat(pf.repeatDelay.value, 64)
		if err != nil || f < 0 || f > 1e9 {
			return nil, usagef("--repeat-delay argument must be >=0.0.")
		}
		pf.delay = time.Duration(f * float64(time.Second))
	}
	if pf.topic == "" || pf.sources == 0 {
		return nil, &usageError{msg: "Both topic and message must be supplied.", fullUsage: true}
	}
	return pf, nil
}

// Pub is `midge pub`, mosquitto_pub's twin: it connects, publishes one
// message (-m, -f, -s, -n) or one per line of stdin (-l), disconnects and
// returns the exit status: 0, 1 for a usage or connection error, or the
// CONNACK code of a refusal. When ctx is cancelled it drops the connection
// without DISCONNECT, as mosquitto_pub killed by a signal does, and returns
// 130.
func Pub(ctx context.Context, args []string, stdio Stdio) int {
	pf, err := parsePub(args)
	if err != nil {
		return reportUsage(stdio, "pub", err, pubUsage)
	}
	payload, ok := pf.read(stdio)
	if !ok {
		return exitFailure
	}

	out := &lockedWriter{w: stdio.Out}
	clientID := pf.clientID()
	opts := pf.options(clientID, &traceHandler{out: out})
	c, err := client.Dial(ctx, opts)
	if err != nil {
		if ctx.Err() != nil {
			return exitInterrupted
		}
		return pf.connectFailure(stdio, true, err)
	}
	if pf.stdinLine.on {
		err = pf.publishLines(ctx, c, stdio)
	} else {
		err = pf.publishRepeated(ctx, c, payload, stdio)
	}
	if ctx.Err() != nil {
		c.Close()
		return exitInterrupted
	}
	if err != nil {
		c.Close()
		if !pf.quiet {
			fmt.Fprintln(stdio.Err, runtimeErrorText(err))
		}
		return exitFailure
	}
	if err := c.DisconnectWith(ctx, &packets.Disconnect{Properties: pf.properties.disconnect}); err != nil {
		if ctx.Err() != nil {
			return exitInterrupted
		}
		if !pf.quiet {
			fmt.Fprintln(stdio.Err, runtimeErrorText(err))
		}
		return exitFailure
	}
	return exitOK
}

// publishPacket builds the next message, with the -D publish properties.
func (pf *pubFlags) publishPacket(payload []byte) *packets.Publish {
	p := &packets.Publish{Topic: pf.topic, QoS: pf.qosValue, Retain: pf.retain, Payload: payload, Properties: pf.properties.publish}
	if pf.version == packets.V5 && p.Properties.Has(packets.PropTopicAlias) {
		if pf.aliasSet {
			p.Topic = ""
		}
		pf.aliasSet = true
	}
	return p
}

// publishRepeated publishes payload --repeat times, --repeat-delay apart,
// each waiting for its acknowledgement as mosquitto_pub does.
func (pf *pubFlags) publishRepeated(ctx context.Context, c *client.Client, payload []byte, stdio Stdio) error {
	for i := range pf.repeatCount {
		if i > 0 && pf.delay > 0 {
			timer := time.NewTimer(pf.delay)
			select {
			case <-timer.C:
			case <-ctx.Done():
				timer.Stop()
				return ctx.Err()
			}
		}
		if err := c.Publish(ctx, pf.publishPacket(payload)); err != nil && !pf.publishWarning(err, stdio) {
			return err
		}
	}
	return nil
}

// publishWarning prints mosquitto_pub's warning for a publish that an MQTT
// 5 server refused, and reports whether err was such a refusal (which does
// not stop the tool).
func (pf *pubFlags) publishWarning(err error, stdio Stdio) bool {
	var refused *client.AckError
	if !errors.As(err, &refused) {
		return false
	}
	if !pf.quiet {
		fmt.Fprintf(stdio.Err, "Warning: Publish %d failed: %s.\n", refused.PacketID, client.ConnackString(packets.V5, refused.Code))
		if refused.Reason != "" {
			fmt.Fprintln(stdio.Err, refused.Reason)
		}
	}
	return true
}

// line is one line of stdin for -l, or the error that ended reading.
type line struct {
	payload []byte
	err     error
}

// publishLines sends each line of stdin (without its "\n") as a message
// until EOF, keeping up to the in-flight limit awaiting acknowledgement;
// messages leave in the order of the lines. A last line without "\n" is
// sent too; "\r" is kept, as mosquitto_pub keeps it.
func (pf *pubFlags) publishLines(ctx context.Context, c *client.Client, stdio Stdio) error {
	lines := make(chan line)
	stop := make(chan struct{})
	readerDone := make(chan struct{})
	go readLines(stdio.In, lines, stop, readerDone)
	defer func() {
		close(stop)
		if ctx.Err() == nil {
			// Reading ended (EOF or error) or is stopped at its next line.
			// After a cancellation it may be blocked in a read of a
			// terminal that no one can interrupt; the process is exiting.
			<-readerDone
		}
	}()

	var results []<-chan error // in-flight publishes, oldest first
	check := func(err error) error {
		if err != nil && !pf.publishWarning(err, stdio) {
			return err
		}
		return nil
	}
	for {
		var l line
		var ok bool
		select {
		case l, ok = <-lines:
		case <-ctx.Done():
			return ctx.Err()
		}
		if !ok {
			break
		}
		if l.err != nil {
			return fmt.Errorf("reading stdin: %w", l.err)
		}
		done, err := c.PublishAsync(ctx, pf.publishPacket(l.payload))
		if err != nil {
			return err
		}
		results = append(results, done)
		// Collect the outcomes that are already in, oldest first.
		for len(results) > 0 && len(results[0]) > 0 {
			if err := check(<-results[0]); err != nil {
				return err
			}
			results = results[1:]
		}
	}
	for _, done := range results {
		select {
		case err := <-done:
			if err := check(err); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// readLines sends each line of in to lines until EOF or stop, then closes
// lines and done.
func readLines(in io.Reader, lines chan<- line, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	defer close(lines)
	br := bufio.NewReader(in)
	for {
		b, err := br.ReadBytes('\n')
		if len(b) > 0 && b[len(b)-1] == '\n' {
			b = b[:len(b)-1]
		} else if len(b) == 0 && err != nil {
			b = nil // nothing after the last "\n"
		}
		if b != nil || err == nil {
			select {
			case lines <- line{payload: b}:
			case <-stop:
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				select {
				case lines <- line{err: err}:
				case <-stop:
				}
			}
			return
		}
	}
}

// runtimeErrorText words an error after connecting like libmosquitto.
func runtimeErrorText(err error) string {
	var disconnected *client.DisconnectError
	switch {
	case errors.As(err, &disconnected):
		text := fmt.Sprintf("Error: The server disconnected: %s.", disconnected.Code.String())
		if disconnected.Reason != "" {
			text += "\n" + disconnected.Reason
		}
		return text
	case errors.Is(err, client.ErrPingTimeout):
		return "Error: Keepalive timeout."
	case errors.Is(err, client.ErrConnectionLost):
		return "Error: The connection was lost."
	case errors.Is(err, client.ErrProtocol):
		return "Error: A network protocol error occurred when communicating with the broker."
	}
	return "Error: " + err.Error()
}

func pubUsage(w io.Writer) {
	io.WriteString(w, `midge pub is a simple mqtt client that will publish a message on a single topic and exit.
It takes mosquitto_pub's options.

Usage: midge pub {[-h host] [-p port] [-u username] [-P password] -t topic}
                 {-f file | -l | -n | -m message | -s}
                 [-c] [-k keepalive] [-q qos] [-r] [--repeat N] [--repeat-delay time]
                 [-i id] [-I id_prefix]
                 [-d] [--quiet]
                 [-M max_inflight]
                 [-u username [-P password]]
                 [-V protocol-version] [-x session-expiry-interval]
                 [--will-topic [--will-payload payload] [--will-qos qos] [--will-retain]]
                 [{--cafile file | --capath dir} [--cert file] [--key file]
                   [--insecure] [--tls-version version]]
                   [--tls-use-os-certs]
                 [-D command property value] [--scram]
                 [-A bind_address] [-L URL] [--unix path] [--nodelay] [--proxy socks-url]
                 [--ciphers ciphers] [--tls-alpn protocol]
       midge pub --help

 -c : disable clean session/enable persistent client mode
      When this argument is used, the broker will be instructed not to clean existing sessions
      for the same client id when the client connects.
 -d : enable debug messages.
 -D : Define MQTT v5 properties: -D command property value, or -D command user-property
      name value. Commands: connect, publish, subscribe, unsubscribe, disconnect, will.
      Properties are spelled as mosquitto_pub spells them, e.g. content-type. Implies -V 5.
 -f : send the contents of a file as the message.
 -h : mqtt host to connect to. Defaults to localhost.
 -i : id to use for this client. Defaults to midge-pub- followed by random characters;
      with -V 5 none is sent, and the broker assigns one.
 -I : define the client id as id_prefix appended with the process id. Useful for when the
      broker is using the clientid_prefixes option.
 -k : keep alive in seconds for this client. Defaults to 60.
 -l : read messages from stdin, sending a separate message for each line.
 -m : message payload to send.
 -M : the maximum inflight messages for QoS 1/2. Defaults to 20.
 -n : send a null (zero length) message.
 -p : network port to connect to. Defaults to 1883 for plain MQTT and 8883 for MQTT over TLS.
 -P : provide a password
 -q : quality of service level to use for all messages. Defaults to 0.
 -r : message should be retained.
 -s : read message from stdin, sending the entire input as a message.
 -t : mqtt topic to publish to.
 -u : provide a username
 -V : specify the version of the MQTT protocol to use when connecting.
      Can be mqttv5, mqttv311 or mqttv31. Defaults to mqttv311.
 -x : Set the session-expiry-interval property on the CONNECT packet. Applies to MQTT v5
      clients only. Set to 0-4294967294 to specify the session will expire in that many
      seconds after the client disconnects, or use -1, 4294967295, or ∞ for a session
      that does not expire. Defaults to -1 if -c is also given, or 0 if -c not given.
 --help : display this message.
 --quiet : don't print error messages.
 --repeat : if publish mode is -f, -m, -n or -s, then repeat the publish N times.
 --repeat-delay : if using --repeat, wait time seconds between publishes. Defaults to 0.
`+willAndTLSUsage)
}
