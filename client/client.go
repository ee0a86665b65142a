// Package client is an MQTT 3.1, 3.1.1 and 5.0 client: it connects to a
// broker, publishes and subscribes at QoS 0, 1 and 2, answers the broker's
// QoS 1 and 2 flows, and keeps the connection alive with PINGREQ.
//
// With MQTT 5, properties pass through Publish, SubscribeWith,
// UnsubscribeWith and DisconnectWith as the caller sets them; failure
// reason codes come back as *AckError, a server's DISCONNECT as
// *DisconnectError. The client keeps to what the server's CONNACK allows
// (Receive Maximum, Maximum Packet Size, Maximum QoS, Retain Available,
// Topic Alias Maximum), maps the topic aliases the server sends, and runs
// enhanced authentication through an AuthMethod.
//
// A Client owns three goroutines: a reader that decodes packets and calls
// Options.OnMessage in order, a writer that drains every queued packet into
// one write call, and a keepalive timer (only when KeepAlive is set). Close
// and Disconnect wait for all three. The client does not reconnect: when the
// connection ends, Done is closed and Err tells why.
package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/midge-mqtt/midge/packets"
	"github.com/midge-mqtt/midge/topic"
)

// Defaults applied by Dial to zero Options fields.
const (
	DefaultMaxInflight    = 20               // Mosquitto's max_inflight_messages
	DefaultConnectTimeout = 30 * time.Second // dial, CONNECT and CONNACK together
)

// readBufferSize is the initial size of the reader's buffer; it grows only as
// larger packets arrive.
const readBufferSize = 4096

// Options configure Dial. The zero value of every field but Addr is usable.
type Options struct {
	// Addr is the broker's "host:port".
	Addr string
	// ClientID is sent in CONNECT. Empty asks the server to assign one
	// (MQTT 3.1.1 with CleanStart, or MQTT 5); MQTT 3.1 servers refuse it.
	ClientID string
	// CleanStart is Clean Session in MQTT 3.1/3.1.1 and Clean Start in 5.
	CleanStart bool
	// KeepAlive is sent in CONNECT, rounded up to whole seconds; the client
	// sends PINGREQ after KeepAlive without sending anything, and closes the
	// connection with ErrPingTimeout when no PINGRESP follows within
	// KeepAlive. Zero disables keepalive. At most 65535 seconds.
	KeepAlive time.Duration
	// Username and Password are sent when UsernameSet and PasswordSet say
	// so (an empty username or password may be sent on purpose). MQTT 3.1
	// and 3.1.1 allow a password only with a username.
	Username    string
	Password    []byte
	UsernameSet bool
	PasswordSet bool
	// Will, when not nil, is the will message carried in CONNECT.
	Will *packets.Will
	// Version is the protocol level: packets.V31, packets.V311 (the default
	// when zero) or packets.V5.
	Version byte
	// Bridge announces a bridge, as Mosquitto's try_private does: the
	// protocol level's high bit, at MQTT 3.1 and 3.1.1, which Mosquitto and
	// midge answer by not sending the bridge its own messages back. (MQTT 5
	// has No Local on each subscription instead.)
	Bridge bool
	// Properties are the MQTT 5 CONNECT properties; ignored before MQTT 5.
	// The client holds the server to the Maximum Packet Size and Topic
	// Alias Maximum given here: a larger packet, or an alias above it, ends
	// the connection with DISCONNECT.
	Properties packets.Properties
	// ConnectTimeout bounds dialing, sending CONNECT and receiving CONNACK
	// together; zero means DefaultConnectTimeout. The ctx given to Dial
	// bounds them too.
	ConnectTimeout time.Duration
	// Dialer opens the network connection; nil means a net.Dialer over TCP.
	// It is how TLS, WebSocket or in-memory transports are plugged in.
	Dialer func(ctx context.Context, network, addr string) (net.Conn, error)
	// OnMessage is called for every PUBLISH the server sends, from the
	// reader goroutine, one at a time and in the order they arrive. The
	// message and its Topic and Payload are only valid during the call: copy
	// what must outlive it. A QoS 1 message is acknowledged after OnMessage
	// returns; a QoS 2 message is delivered once even if the server sends it
	// again with DUP before releasing it. OnMessage must not block on
	// Close, Disconnect or on a Publish/Subscribe/Unsubscribe that waits for
	// an acknowledgement: the reader that would deliver that acknowledgement
	// is the one running OnMessage. Nil discards messages (they are still
	// acknowledged).
	OnMessage func(m *packets.Publish)
	// DeferAck leaves the acknowledgement of each QoS 1 and 2 message to
	// the caller, who calls Ack once the message is safe (a bridge, once
	// the other side has it). OnMessage then need not process the message
	// before it returns, only copy it. Acknowledgements must be given in
	// the order the messages arrived [MQTT-4.6.0-2]; a message left
	// unacknowledged holds one of the server's in-flight slots, and is
	// sent again when the session resumes. A QoS 2 message sent again with
	// DUP before its PUBREL is not delivered a second time.
	DeferAck bool
	// MaxInflight bounds the QoS 1 and 2 publishes awaiting acknowledgement;
	// Publish waits for a free slot. Zero means DefaultMaxInflight. An MQTT 5
	// server's Receive Maximum lowers it further.
	MaxInflight int
	// Logger, when not nil, receives a Debug record for every packet sent
	// and received. The message reads like libmosquitto's debug log
	// ("sending PUBLISH (d0, q1, r0, m1, 'a/b', ... (5 bytes))") and the
	// record carries the attributes "direction" ("sending" or "received"),
	// "packet" (e.g. "PUBLISH"), where the packet has one "packet_id", and
	// for SUBACK "reason_codes" ([]packets.ReasonCode). Every record also
	// carries "client_id": the client identifier in use, empty until an
	// MQTT 5 server assigns one.
	Logger *slog.Logger
	// Auth, when not nil, runs MQTT 5 enhanced authentication: its Name
	// and Start data go in CONNECT, Dial answers the server's AUTH packets
	// with Next until CONNACK, whose data Finish verifies. Reauthenticate
	// runs it again on the open connection. It needs Version packets.V5.
	Auth AuthMethod
}

// Client is a connection to an MQTT server. Its methods are safe for
// concurrent use.
type Client struct {
	conn           net.Conn
	version        byte
	clientID       string
	sessionPresent bool
	connack        packets.Connack
	keepAlive      time.Duration
	onMessage      func(*packets.Publish)
	deferAck       bool         // Options.DeferAck
	log            *slog.Logger // nil when tracing is off
	auth           AuthMethod   // Options.Auth; nil without enhanced authentication
	limits         serverLimits // what the server's CONNACK allows; read-only after Dial
	aliasMaximum   uint16       // the client's Topic Alias Maximum: the highest alias the server may send

	inflight chan struct{} // a token per QoS 1/2 publish awaiting its ack
	authing  chan struct{} // capacity 1: held while a re-authentication runs

	mu          sync.Mutex
	pending     map[uint16]*pending // requests awaiting acknowledgement; guarded by mu
	nextID      uint16              // last packet identifier handed out; guarded by mu
	err         error               // why the connection ended; guarded by mu
	reauth      chan error          // the waiting Reauthenticate, nil when none runs; guarded by mu
	aliasesSent map[uint16]struct{} // topic aliases given a topic on this connection; guarded by mu

	out outbound // queued bytes and the writer's progress

	closing   chan struct{} // closed when the connection starts to end
	closeOnce sync.Once
	done      chan struct{} // closed when every goroutine has returned
	workers   sync.WaitGroup

	lastSent        atomic.Int64 // UnixNano of the last write
	pingOutstanding atomic.Bool  // a PINGREQ awaits its PINGRESP
	disconnecting   atomic.Bool  // Disconnect has been called
}

// Dial connects to opts.Addr, sends CONNECT and waits for CONNACK. A refusal
// returns a *ConnectError carrying the code. On success the client's
// goroutines run until Close, Disconnect or the end of the connection.
func Dial(ctx context.Context, opts Options) (*Client, error) {
	connect, err := buildConnect(&opts)
	if err != nil {
		return nil, err
	}
	timeout := opts.ConnectTimeout
	if timeout <= 0 {
		timeout = DefaultConnectTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	dial := opts.Dialer
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	conn, err := dial(ctx, "tcp", opts.Addr)
	if err != nil {
		return nil, err
	}
	c := &Client{
		conn:      conn,
		version:   connect.Version,
		clientID:  connect.ClientID,
		keepAlive: time.Duration(connect.KeepAlive) * time.Second,
		onMessage: opts.OnMessage,
		deferAck:  opts.DeferAck,
		auth:      opts.Auth,
		limits:    noLimits,
		pending:   make(map[uint16]*pending),
		authing:   make(chan struct{}, 1),
		closing:   make(chan struct{}),
		done:      make(chan struct{}),
	}
	c.out.init()
	if opts.Logger != nil && opts.Logger.Enabled(ctx, slog.LevelDebug) {
		c.log = opts.Logger
	}
	reader := packets.NewReader(&firstReply{r: conn}, readBufferSize)
	if c.version == packets.V5 {
		// What the client announced, it enforces [MQTT-3.1.2-24].
		props := &connect.Properties
		if props.Has(packets.PropMaximumPacketSize) {
			reader.SetMaxPacketSize(int(props.MaximumPacketSize))
		}
		if props.Has(packets.PropTopicAliasMaximum) {
			c.aliasMaximum = props.TopicAliasMaximum
		}
	}
	if err := c.handshake(ctx, connect, reader); err != nil {
		conn.Close()
		return nil, err
	}
	if c.version == packets.V5 {
		c.limits = limitsOf(&c.connack.Properties)
		c.out.maxPacketSize = c.limits.maxPacketSize
	}
	maxInflight := opts.MaxInflight
	if maxInflight <= 0 {
		maxInflight = DefaultMaxInflight
	}
	if c.connack.Properties.Has(packets.PropReceiveMaximum) && int(c.connack.Properties.ReceiveMaximum) < maxInflight {
		// Never more unacknowledged QoS 1/2 PUBLISHes than the server
		// accepts [MQTT-4.9.0-2].
		maxInflight = int(c.connack.Properties.ReceiveMaximum)
	}
	c.inflight = make(chan struct{}, min(max(maxInflight, 1), 65535))
	c.lastSent.Store(time.Now().UnixNano())

	c.workers.Add(1)
	go c.writeLoop()
	if c.keepAlive > 0 {
		c.workers.Add(1)
		go c.keepAliveLoop()
	}
	go c.readLoop(reader)
	return c, nil
}

// buildConnect validates opts, fills in defaults and returns the CONNECT.
func buildConnect(opts *Options) (*packets.Connect, error) {
	version := opts.Version
	if version == 0 {
		version = packets.V311
	}
	if version != packets.V31 && version != packets.V311 && version != packets.V5 {
		return nil, fmt.Errorf("%w: protocol version %d", ErrInvalidOptions, version)
	}
	if opts.Addr == "" {
		return nil, fmt.Errorf("%w: no address", ErrInvalidOptions)
	}
	if opts.KeepAlive < 0 || opts.KeepAlive > 65535*time.Second {
		return nil, fmt.Errorf("%w: keepalive %v outside 0..65535s", ErrInvalidOptions, opts.KeepAlive)
	}
	if opts.PasswordSet && !opts.UsernameSet && version != packets.V5 {
		return nil, fmt.Errorf("%w: a password needs a username before MQTT 5", ErrInvalidOptions)
	}
	if w := opts.Will; w != nil {
		if err := topic.ValidName(w.Topic); err != nil {
			return nil, fmt.Errorf("%w: will topic %q: %w", ErrInvalidOptions, w.Topic, err)
		}
		if w.QoS > 2 {
			return nil, fmt.Errorf("%w: will QoS %d", ErrInvalidOptions, w.QoS)
		}
	}
	keepAlive := (opts.KeepAlive + time.Second - 1) / time.Second
	connect := &packets.Connect{
		ProtocolName: "MQTT",
		Version:      version,
		CleanStart:   opts.CleanStart,
		KeepAlive:    uint16(keepAlive),
		ClientID:     opts.ClientID,
		UsernameFlag: opts.UsernameSet,
		Username:     opts.Username,
		PasswordFlag: opts.PasswordSet,
		Password:     opts.Password,
		Will:         opts.Will,
		Bridge:       opts.Bridge && version != packets.V5,
	}
	if version == packets.V31 {
		connect.ProtocolName = "MQIsdp"
	}
	if version == packets.V5 {
		connect.Properties = opts.Properties
	}
	if opts.Auth != nil {
		if version != packets.V5 {
			return nil, fmt.Errorf("%w: enhanced authentication needs MQTT 5", ErrInvalidOptions)
		}
		data, err := opts.Auth.Start()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrAuthentication, err)
		}
		connect.Properties.AuthMethod = opts.Auth.Name()
		connect.Properties.AuthData = data
	}
	return connect, nil
}

// handshake sends CONNECT and reads CONNACK, bounded by ctx.
func (c *Client) handshake(ctx context.Context, connect *packets.Connect, reader *packets.Reader) error {
	if deadline, ok := ctx.Deadline(); ok {
		c.conn.SetDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Unix(1, 0)) })
	err := c.exchangeConnect(connect, reader)
	if !stop() {
		// ctx ended: whatever happened on the wire, the deadline is spoilt.
		if err == nil || isTimeout(err) {
			err = ctx.Err()
		}
		return err
	}
	if isTimeout(err) {
		// The connection's deadline is ctx's: ctx ran out, perhaps a hair
		// before its timer marked it done.
		return fmt.Errorf("client: waiting for CONNACK: %w", context.DeadlineExceeded)
	}
	if err != nil {
		return err
	}
	return c.conn.SetDeadline(time.Time{})
}

// exchangeConnect sends CONNECT, answers any AUTH (continue
// authentication) with Options.Auth, and reads CONNACK.
func (c *Client) exchangeConnect(connect *packets.Connect, reader *packets.Reader) error {
	if err := c.writeDirect(connect); err != nil {
		return err
	}
	for {
		h, body, err := reader.ReadFrame()
		if err != nil {
			var notMQTT *NotMQTTError
			if errors.As(err, &notMQTT) || errors.Is(err, ErrProtocol) {
				return err
			}
			return fmt.Errorf("%w: waiting for CONNACK: %w", ErrConnectionLost, err)
		}
		if h.Type != packets.TypeConnack && h.Type != packets.TypeAuth {
			return fmt.Errorf("%w: %s before CONNACK", ErrProtocol, h.Type.String())
		}
		p, err := packets.Decode(h, body, c.version)
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrProtocol, h.Type.String(), err)
		}
		if auth, ok := p.(*packets.Auth); ok {
			if c.log != nil {
				c.traceReceived(auth)
			}
			answer, err := c.continueAuth(auth)
			if err != nil {
				return err
			}
			if err := c.writeDirect(answer); err != nil {
				return err
			}
			continue
		}
		ack, ok := p.(*packets.Connack)
		if !ok {
			return fmt.Errorf("%w: CONNACK decoded as %T", ErrProtocol, p)
		}
		return c.receiveConnack(ack)
	}
}

// writeDirect writes p on the connection before the writer goroutine runs.
func (c *Client) writeDirect(p packets.Packet) error {
	buf, err := p.Encode(nil, c.version)
	if err != nil {
		return err
	}
	if c.log != nil {
		c.traceSent(p)
	}
	_, err = c.conn.Write(buf)
	return err
}

// receiveConnack records the CONNACK, or returns the refusal; with
// Options.Auth it verifies the server's final authentication data.
func (c *Client) receiveConnack(ack *packets.Connack) error {
	if c.version == packets.V5 && ack.Properties.AssignedClientID != "" {
		c.clientID = ack.Properties.AssignedClientID
	}
	c.trace("received", packets.TypeConnack, 0, "received CONNACK (%d)", byte(ack.ReasonCode))
	if ack.ReasonCode != packets.Success {
		return &ConnectError{Code: ack.ReasonCode, Version: c.version, Reason: ack.Properties.ReasonString}
	}
	if c.auth != nil {
		if err := c.finishAuth(&ack.Properties, true); err != nil {
			return err
		}
	}
	ack.Properties.AuthData = nil // consumed by Finish; it aliases the read buffer
	c.connack = *ack
	c.sessionPresent = ack.SessionPresent
	if c.version == packets.V5 && ack.Properties.Has(packets.PropServerKeepAlive) {
		c.keepAlive = time.Duration(ack.Properties.ServerKeepAlive) * time.Second
	}
	return nil
}

// SessionPresent reports the Session Present flag of the CONNACK.
func (c *Client) SessionPresent() bool { return c.sessionPresent }

// ClientID is the client identifier in use: the one sent in CONNECT, or the
// one an MQTT 5 server assigned.
func (c *Client) ClientID() string { return c.clientID }

// Connack returns the server's CONNACK (for its MQTT 5 properties),
// without its Authentication Data, which Options.Auth consumed.
func (c *Client) Connack() packets.Connack { return c.connack }

// Done is closed when the connection has ended and every goroutine of the
// client has returned.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns nil while the connection is up. Once Done is closed it
// returns why the connection ended: ErrClosed after Close or Disconnect,
// a *DisconnectError when the server sent DISCONNECT, otherwise an error
// wrapping ErrConnectionLost, ErrPingTimeout, ErrProtocol (with MQTT 5 the
// client sent DISCONNECT with the reason code first) or ErrAuthentication.
func (c *Client) Err() error {
	select {
	case <-c.done:
	default:
		return nil
	}
	return c.terminalErr()
}

// terminalErr is the reason recorded by shutdown; nil before it.
func (c *Client) terminalErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close drops the network connection without sending DISCONNECT (so the
// server publishes the will, if any) and waits for the client's goroutines.
// It returns nil, also when the connection had already ended. It must not be
// called from OnMessage.
func (c *Client) Close() error {
	c.shutdown(ErrClosed)
	<-c.done
	return nil
}

// Disconnect sends DISCONNECT, waits (bounded by ctx) until it is written,
// closes the connection and waits for the client's goroutines. The server
// then discards the will. It returns an error when DISCONNECT could not be
// written; the connection is closed either way. It must not be called from
// OnMessage.
func (c *Client) Disconnect(ctx context.Context) error {
	return c.DisconnectWith(ctx, &packets.Disconnect{})
}

// DisconnectWith is Disconnect with the given DISCONNECT: with MQTT 5 it
// may carry a reason code (packets.DisconnectWithWill asks the server to
// publish the will anyway) and properties (a Session Expiry Interval, a
// Reason String, User Properties). Before MQTT 5 they are left out.
func (c *Client) DisconnectWith(ctx context.Context, d *packets.Disconnect) error {
	// From here the end of the connection is ours, even if the server
	// closes it first once it has read DISCONNECT.
	c.disconnecting.Store(true)
	end, err := c.send(ctx, d)
	if err == nil {
		err = c.out.waitFlushed(ctx, end)
	}
	c.shutdown(ErrClosed)
	<-c.done
	return err
}

// shutdown records why the connection ends, the first time it is called,
// and stops the goroutines: the reader and writer see the closed socket, the
// keepalive timer sees closing.
func (c *Client) shutdown(reason error) {
	c.closeOnce.Do(func() {
		if c.disconnecting.Load() {
			reason = ErrClosed
		}
		c.mu.Lock()
		c.err = reason
		orphans := c.pending
		c.pending = nil // register refuses from now on: c.err is set
		c.mu.Unlock()
		close(c.closing)
		c.conn.Close()
		c.out.fail(reason)
		for _, p := range orphans {
			p.done <- reason // what PublishAsync promises its caller
		}
	})
}

// readLoop is the reader goroutine. When reading fails it ends the
// connection, waits for the other goroutines and closes done.
func (c *Client) readLoop(reader *packets.Reader) {
	err := c.read(reader)
	if c.version == packets.V5 && (errors.Is(err, ErrProtocol) || errors.Is(err, ErrAuthentication)) {
		c.disconnectFor(err)
	}
	c.shutdown(err)
	c.workers.Wait()
	close(c.done)
}

// send queues p for the writer and traces it. ctx bounds only the wait for
// room in the queue.
func (c *Client) send(ctx context.Context, p packets.Packet) (uint64, error) {
	// Traced before it is queued, as libmosquitto does: once queued, the
	// writer may send it and the reply may be traced first.
	if c.log != nil {
		c.traceSent(p)
	}
	return c.out.enqueue(ctx, p, c.version)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
