package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/packets"
	"github.com/midge-mqtt/midge/topic"
)

// rrFlags are midge rr's flags: the shared ones, mosquitto_pub's payload
// sources and mosquitto_sub's output flags, plus the response topic.
type rrFlags struct {
	*clientFlags
	payloadFlags
	output   outputFlags
	response optString // -e
	noRetain bool      // -R
	timeout  optString // -W

	topic        string
	timeoutValue time.Duration
}

func parseRR(args []string) (*rrFlags, error) {
	rf := &rrFlags{clientFlags: newClientFlags("rr")}
	rf.defaultVersion = packets.V5
	rf.payloadFlags.define(rf.clientFlags)
	rf.output.define(rf.clientFlags)
	rf.value(&rf.response, "response topic", "e")
	rf.boolean(&rf.noRetain, "R")
	rf.value(&rf.timeout, "timeout", "W")
	if err := rf.parse(args); err != nil {
		return nil, err
	}
	if rf.sources > 1 {
		return nil, usagef("Only one type of message can be sent at once.")
	}
	if err := rf.validate(); err != nil {
		return nil, err
	}
	if err := rf.output.validate(); err != nil {
		return nil, err
	}
	if rf.version != packets.V5 {
		return nil, usagef("midge rr needs MQTT v5: the response topic and correlation data are MQTT v5 properties.")
	}
	if len(rf.topics) > 0 {
		rf.topic = rf.topics[len(rf.topics)-1]
		if topic.ValidName(rf.topic) != nil {
			return nil, usagef("Invalid publish topic '%s', does it contain '+' or '#'?", rf.topic)
		}
	}
	if rf.response.set && topic.ValidName(rf.response.value) != nil {
		return nil, usagef("Invalid response topic '%s', does it contain '+' or '#'?", rf.response.value)
	}
	if rf.timeout.set {
		n, err := strconv.Atoi(rf.timeout.value)
		if err != nil || n < 1 {
			return nil, usagef("Invalid timeout \"%s\".", rf.timeout.value)
		}
		rf.timeoutValue = time.Duration(n) * time.Second
	}
	if rf.topic == "" || rf.sources == 0 || !rf.response.set {
		return nil, usagef("All of topic, message, and response topic must be supplied.")
	}
	if rf.properties.publish.Has(packets.PropResponseTopic) {
		return nil, &usageError{msg: "Error in PUBLISH properties: Duplicate response topic.", noPrefix: true, noHint: true}
	}
	return rf, nil
}

// responder is what one midge rr run shares between the client's reader
// goroutine, which prints the response, and the tool's goroutine.
type responder struct {
	flags       *rrFlags
	printer     *printer
	correlation []byte

	once     sync.Once
	answered chan struct{} // closed once the response is printed
}

// onMessage prints the first message on the response topic that answers
// this request: one with its correlation data, or with none (a responder
// that does not echo it). Retained messages are stale answers to -R.
func (r *responder) onMessage(m *packets.Publish) {
	if m.Retain && r.flags.noRetain {
		return
	}
	if cd := m.Properties.CorrelationData; len(cd) > 0 && !bytes.Equal(cd, r.correlation) {
		return // an answer to another requester sharing the topic
	}
	r.once.Do(func() {
		r.printer.print(m)
		close(r.answered)
	})
}

// RR is `midge rr`, mosquitto_rr's twin: it subscribes to the response
// topic (-e), publishes the request (-t, with -m, -f, -s or -n) carrying
// that Response Topic and Correlation Data (random unless -D publish
// correlation-data gives it), prints the first response as midge sub would,
// and disconnects. MQTT 5 only. It returns 0, 1 for a usage or connection
// error, 27 when -W runs out first, the CONNACK code of a refusal, or 130
// when ctx is cancelled.
func RR(ctx context.Context, args []string, stdio Stdio) int {
	rf, err := parseRR(args)
	if err != nil {
		return reportUsage(stdio, "rr", err, rrUsage)
	}
	payload, ok := rf.read(stdio)
	if !ok {
		return exitFailure
	}
	out := &lockedWriter{w: stdio.Out}
	r := &responder{
		flags:       rf,
		printer:     rf.output.printer(out, stdio.Err, rf.quiet),
		correlation: rf.properties.publish.CorrelationData,
		answered:    make(chan struct{}),
	}
	if !rf.properties.publish.Has(packets.PropCorrelationData) {
		id := make([]byte, 8)
		rand.Read(id)
		r.correlation = []byte(hex.EncodeToString(id))
	}
	runCtx := ctx
	if rf.timeoutValue > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, rf.timeoutValue)
		defer cancel()
	}
	opts := rf.options(rf.clientID(), &traceHandler{out: out})
	opts.OnMessage = r.onMessage
	c, err := client.Dial(runCtx, opts)
	if err != nil {
		if status, ended := rf.ended(ctx, runCtx, stdio); ended {
			return status
		}
		return rf.connectFailure(stdio, err)
	}
	defer c.Close()
	status := rf.request(runCtx, c, r, payload, stdio)
	if status == exitOK {
		c.DisconnectWith(runCtx, &packets.Disconnect{Properties: rf.properties.disconnect})
	} else if status == exitFailure {
		if s, ended := rf.ended(ctx, runCtx, stdio); ended {
			return s
		}
	}
	return status
}

// request subscribes to the response topic, publishes the request and
// waits for the response.
func (rf *rrFlags) request(ctx context.Context, c *client.Client, r *responder, payload []byte, stdio Stdio) int {
	subscribe := &packets.Subscribe{Properties: rf.properties.subscribe,
		Subscriptions: []packets.Subscription{{Filter: rf.response.value, QoS: rf.qosValue}}}
	ack, err := c.SubscribeWith(ctx, subscribe)
	if err != nil {
		return rf.failed(err, stdio)
	}
	if code := ack.ReasonCodes[0]; code.IsError() {
		if !rf.quiet {
			fmt.Fprintln(stdio.Err, client.ConnackString(packets.V5, code))
		}
		return exitFailure
	}
	props := rf.properties.publish
	props.ResponseTopic = rf.response.value
	props.CorrelationData = r.correlation
	request := &packets.Publish{Topic: rf.topic, QoS: rf.qosValue, Payload: payload, Properties: props}
	if err := c.Publish(ctx, request); err != nil {
		var refused *client.AckError
		if errors.As(err, &refused) && !rf.quiet {
			fmt.Fprintf(stdio.Err, "Warning: Publish %d failed: %s.\n", refused.PacketID, client.ConnackString(packets.V5, refused.Code))
			return exitFailure
		}
		return rf.failed(err, stdio)
	}
	select {
	case <-r.answered:
		return exitOK
	case <-ctx.Done():
		return exitFailure // ended says why
	case <-c.Done():
		return rf.failed(c.Err(), stdio)
	}
}

// failed reports an error after connecting and returns 1.
func (rf *rrFlags) failed(err error, stdio Stdio) int {
	if !rf.quiet && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		fmt.Fprintln(stdio.Err, runtimeErrorText(err))
	}
	return exitFailure
}

// ended reports whether the run is over because ctx was cancelled (130) or
// -W ran out (27, after saying so).
func (rf *rrFlags) ended(ctx, runCtx context.Context, stdio Stdio) (int, bool) {
	switch {
	case ctx.Err() != nil:
		return exitInterrupted, true
	case runCtx.Err() != nil:
		if !rf.quiet {
			fmt.Fprintln(stdio.Err, "Timed out")
		}
		return exitTimeout, true
	}
	return 0, false
}

// connectFailure is the shared report of a failed Dial, except for a
// server without MQTT 5, which mosquitto_rr words its own way.
func (rf *rrFlags) connectFailure(stdio Stdio, err error) int {
	var refused *client.ConnectError
	if errors.As(err, &refused) && refused.Code == packets.UnsupportedProtocolVersion {
		if !rf.quiet {
			fmt.Fprintf(stdio.Err, "Connection error: %s. midge rr only supports connecting to an MQTT v5 broker\n",
				client.ConnackString(packets.V5, refused.Code))
		}
		return int(refused.Code)
	}
	return rf.clientFlags.connectFailure(stdio, false, err)
}

func rrUsage(w io.Writer) {
	io.WriteString(w, `midge rr is an mqtt client that can be used to publish a request message and wait for a response.
It takes mosquitto_rr's options, and speaks MQTT v5 only.

Usage: midge rr {[-h host] [-p port] [-u username] [-P password] -t topic} -e response-topic
                {-f file | -n | -m message | -s}
                [-c] [-k keepalive] [-q qos] [-R] [-x session-expiry-interval]
                [-F format] [--pretty]
                [-W timeout_secs]
                [-i id] [-I id_prefix]
                [-d] [-N] [--quiet] [-v]
                [--will-topic [--will-payload payload] [--will-qos qos] [--will-retain]]
                [{--cafile file | --capath dir} [--cert file] [--key file]
                  [--insecure] [--tls-version version]]
                  [--tls-use-os-certs]
                [-D command property value] [--scram]
                [-A bind_address] [-L URL] [--unix path] [--nodelay] [--proxy socks-url]
                [--ciphers ciphers] [--tls-alpn protocol]
       midge rr --help

 -c : disable clean session/enable persistent client mode
      When this argument is used, the broker will be instructed not to clean existing sessions
      for the same client id when the client connects, and sessions will never expire when the
      client disconnects. MQTT v5 clients can change their session expiry interval with the -x
      argument.
 -d : enable debug messages.
 -D : Define MQTT v5 properties: -D command property value, or -D command user-property
      name value. Commands: connect, publish, subscribe, unsubscribe, disconnect, will.
 -e : Response topic. The client will subscribe to this topic to wait for a response.
      The request carries it as its Response Topic, with a random Correlation Data unless
      -D publish correlation-data gives one; a response with other correlation data is
      not the answer and is skipped.
 -f : send the contents of a file as the request.
 -F : output format, as for midge sub.
 -h : mqtt host to connect to. Defaults to localhost.
 -i : id to use for this client. Defaults to an id the broker assigns.
 -I : define the client id as id_prefix appended with the process id.
 -k : keep alive in seconds for this client. Defaults to 60.
 -m : request payload to send.
 -n : send a null (zero length) request.
 -M : the maximum inflight messages for QoS 1/2. Defaults to 20.
 -N : do not add an end of line character when printing the payload.
 -p : network port to connect to. Defaults to 1883 for plain MQTT and 8883 for MQTT over TLS.
 -P : provide a password
 -q : quality of service level to use for communications. Defaults to 0.
 -R : do not print stale responses (those with retain set).
 -s : read the request from stdin, sending the entire input as a message.
 -t : topic where the request message will be sent.
 -u : provide a username
 -v : print received messages verbosely.
 -V : specify the version of the MQTT protocol to use when connecting: only mqttv5 (5).
 -W : Specifies a timeout in seconds how long to wait for a response.
 -x : Set the session-expiry-interval property on the CONNECT packet. Set to 0-4294967294
      to specify the session will expire in that many seconds after the client disconnects,
      or use -1, 4294967295, or ∞ for a session that does not expire. Defaults to -1 if -c
      is also given, or 0 if -c not given.
 --help : display this message.
 --pretty : print formatted output rather than minimised output when using the
            JSON output format option.
 --quiet : don't print error messages.
`+willAndTLSUsage)
}
