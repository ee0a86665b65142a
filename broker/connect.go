package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/midge-mqtt/midge/packets"
)

// readBufferSize is the initial read buffer of a connection.
const readBufferSize = 512

// firstByte is the only first byte a connection may start with: CONNECT
// with its reserved flags clear [MQTT-3.1.0-1], [MQTT-2.2.2-2].
const firstByte = byte(packets.TypeConnect) << 4

// handshake reads CONNECT, authenticates the client, attaches its session
// and queues CONNACK. An error means the connection is to be closed; any
// CONNACK refusal has already been written.
func (c *conn) handshake() error {
	deadline := time.Now().Add(c.s.o().ConnectTimeout)
	c.nc.SetReadDeadline(deadline)
	if tc, ok := c.nc.(*tls.Conn); ok {
		// The TLS handshake counts against the CONNECT timeout: a client
		// that never finishes it is closed like one that never sends
		// CONNECT.
		tc.SetWriteDeadline(deadline)
		if err := tc.Handshake(); err != nil {
			var rh tls.RecordHeaderError
			if errors.As(err, &rh) {
				// Not TLS at all, a plain client: say so in TLS's own words,
				// an alert (unexpected_message) that a client can recognise.
				tc.NetConn().Write([]byte{0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x0A})
			}
			return tlsFailure(err)
		}
		tc.SetWriteDeadline(time.Time{})
	}

	// Look at the first byte before reserving anything: a connection that
	// does not start with CONNECT is closed at once (CVE-2023-0809).
	var first [1]byte
	if _, err := io.ReadFull(c.nc, first[:]); err != nil {
		return fmt.Errorf("reading CONNECT: %w", err)
	}
	if first[0] != firstByte {
		return sniff(first[0])
	}
	c.source.first, c.source.hasFirst = first[0], true
	c.reader = packets.NewReader(&c.source, readBufferSize)
	c.reader.SetMaxPacketSize(c.s.o().MaxConnectSize)
	h, body, err := c.reader.ReadFrame()
	if err != nil {
		return fmt.Errorf("reading CONNECT: %w", err)
	}
	c.s.counters.messagesReceived.Add(1)
	c.s.counters.bytesReceived.Add(int64(1 + packets.VarintSize(h.Remaining) + h.Remaining))

	var p packets.Connect
	if err := p.Decode(h.Flags, body, 0); err != nil {
		var pe *packets.Error
		if errors.As(err, &pe) && pe.Code == packets.UnsupportedProtocolVersion {
			c.refuse(packets.V311, packets.ConnRefusedVersion, "") // [MQTT-3.1.2-2]
		}
		return err
	}
	c.version = p.Version
	c.bridge = p.Bridge && p.Version != packets.V5 // Mosquitto ignores the bit at MQTT 5
	c.clientID = p.ClientID
	c.receiveMax = 65535 // before MQTT 5, as many as there are identifiers
	if p.Version == packets.V5 {
		c.receiveMax = int(c.s.o().ReceiveMaximum)
		c.noProblemInfo = p.Properties.Has(packets.PropRequestProblemInfo) && p.Properties.RequestProblemInfo == 0
		if p.Properties.Has(packets.PropMaximumPacketSize) {
			c.maxPacketOut = p.Properties.MaximumPacketSize
		}
		c.aliasesOut = newOutAliases(p.Properties.TopicAliasMaximum, c.s.o().BrokerTopicAliasMaximum, c.maxPacketOut)
	}
	if code, err := c.checkConnect(&p); err != nil {
		if code != 0 {
			c.refuse(p.Version, code, err.Error())
		}
		return err
	}
	if err := c.authenticate(&p); err != nil {
		return err
	}
	if code, err := c.checkWillAccess(&p); err != nil {
		c.refuse(p.Version, code, err.Error())
		return err
	}

	c.nc.SetReadDeadline(time.Time{})
	c.reader.SetMaxPacketSize(c.s.o().MaxPacketSize)
	if c.s.poller != nil {
		c.source.rc, c.fd, c.polled = pollable(c.nc)
	}
	c.keepAlive = time.Duration(p.KeepAlive) * time.Second
	if max := c.s.o().MaxKeepAlive; p.Version == packets.V5 && (p.KeepAlive > max || p.KeepAlive == 0) {
		// MQTT 5 lets the server impose its keep alive instead of
		// refusing the client; CONNACK says so. As in Mosquitto, a client
		// asking for none gets max_keepalive (65535 seconds by default).
		c.keepAlive, c.serverKeepAlive = time.Duration(max)*time.Second, true
	}
	ack := &packets.Connack{}
	if p.Version == packets.V5 {
		c.s.connackProperties(c, &p, &ack.Properties)
		if err := c.fitConnack(ack); err != nil {
			return err
		}
	}
	c.lastRead.Store(c.s.o().Clock.Now().UnixNano()) // publishes polled and keepAlive to the keep-alive check
	if p.Will != nil {
		w := *p.Will
		w.Payload = append([]byte(nil), w.Payload...) // the read buffer is reused
		c.will = &w
	}
	if _, err := c.s.attachSession(c, &p, ack); err != nil {
		return err
	}
	c.s.counters.clientConnected()
	c.s.log.Info(fmt.Sprintf("New %s connected from %s as %s (p%d, c%d, k%d%s).",
		peerKind(c.bridge), c.remote, c.clientID, protocolNumber(p.Version), boolInt(p.CleanStart), p.KeepAlive, userLabel(&p)),
		logTypeKey, logConnection)
	if c.s.tracing.Load() {
		c.traceWill(p.Will)
	}
	c.out.setWriter(c.startWriter) // CONNACK, queued by attachSession, goes now
	return nil
}

// checkConnect applies the broker's rules to a well-formed CONNECT. On
// refusal it returns the CONNACK code and the reason; code 0 closes the
// connection without CONNACK.
func (c *conn) checkConnect(p *packets.Connect) (packets.ReasonCode, error) {
	v5 := p.Version == packets.V5
	if p.ClientID == "" {
		if c.security().NoEmptyClientID {
			return idRejected(v5), errors.New("empty client identifier while allow_zero_length_clientid is false")
		}
		if p.Version == packets.V31 || (!v5 && !p.CleanStart) {
			// [MQTT-3.1.3-8]: an empty identifier needs a clean session.
			return idRejected(v5), errors.New("empty client identifier without clean session [MQTT-3.1.3-8]")
		}
		c.clientID = c.s.nextClientID(c.security().AutoIDPrefix)
	} else if !validClientID(p.ClientID) {
		return idRejected(v5), fmt.Errorf("client identifier %q not allowed", p.ClientID)
	}
	if pre := c.s.o().ClientIDPrefix; pre != "" && !strings.HasPrefix(c.clientID, pre) {
		return notSupported(v5, packets.NotAuthorized), fmt.Errorf("client identifier %q without the prefix %q (clientid_prefixes)", c.clientID, pre)
	}
	if !v5 && p.KeepAlive > c.s.o().MaxKeepAlive {
		return packets.ConnRefusedIdentifier, fmt.Errorf("keep alive %d above max_keepalive %d", p.KeepAlive, c.s.o().MaxKeepAlive)
	}
	if p.Will != nil {
		return c.checkWill(p)
	}
	return 0, nil
}

// notSupported is code at MQTT 5; MQTT 3.1.1 has no such code, and the
// client is refused as not authorized, as Mosquitto does.
func notSupported(v5 bool, code packets.ReasonCode) packets.ReasonCode {
	if v5 {
		return code
	}
	return packets.ConnRefusedNotAuthorized
}

// security is what decides about this client: its listener's Security
// with per_listener_settings, the broker's otherwise.
func (c *conn) security() *Security {
	if ls := c.listener; ls != nil && ls.opts.Security != nil {
		return ls.opts.Security
	}
	return &c.s.o().security
}

// maxQoS is the highest QoS the client's listener allows.
func (c *conn) maxQoS() byte {
	if ls := c.listener; ls != nil && ls.opts.LimitQoS {
		return min(ls.opts.MaxQoS, maxGrantedQoS)
	}
	return maxGrantedQoS
}

func idRejected(v5 bool) packets.ReasonCode {
	if v5 {
		return packets.ClientIDNotValid
	}
	return packets.ConnRefusedIdentifier
}

// validClientID rejects the code points a client identifier must not hold
// (U+0000 and surrogates are caught by the decoder) and the non-characters
// Mosquitto also refuses.
func validClientID(id string) bool {
	for _, r := range id {
		if r == utf8.RuneError || r < 0x20 || (r >= 0x7F && r <= 0x9F) || (r >= 0xFDD0 && r <= 0xFDEF) || r&0xFFFE == 0xFFFE {
			return false
		}
	}
	return true
}

// authenticate admits the client or refuses it, then gives it its topic
// access. A listener that takes user names from certificates decides by
// the certificate; otherwise the Authenticator decides. A refusal writes
// Mosquitto's CONNACK code (see refusalCode), and nothing after it is
// processed [MQTT-3.1.4-5].
func (c *conn) authenticate(p *packets.Connect) error {
	info := ConnectInfo{
		ClientID:    c.clientID,
		Username:    p.Username,
		HasUsername: p.UsernameFlag,
		Password:    p.Password,
		HasPassword: p.PasswordFlag,
		Remote:      c.nc.RemoteAddr(),
		Version:     p.Version,
	}
	if tc, ok := c.nc.(*tls.Conn); ok {
		st := tc.ConnectionState()
		info.TLS = &st
	} else if tc, ok := c.nc.(tlsCarrier); ok {
		if st, ok := tc.TLSConnectionState(); ok {
			info.TLS = &st
		}
	}
	var err error
	enhanced := p.Version == packets.V5 && p.Properties.Has(packets.PropAuthMethod)
	certificate := false
	if ls := c.listener; ls != nil && ls.opts.CertUsername != nil {
		certificate = true
		// The certificate is the credential on this listener: another
		// method must not replace the identity it gives.
		if enhanced {
			c.refuse(p.Version, packets.BadAuthenticationMethod, "this listener takes user names from client certificates")
			return &loginRefused{err: fmt.Errorf("authentication method %q on a listener that takes user names from certificates",
				p.Properties.AuthMethod)}
		}
		err = certIdentity(ls.opts.CertUsername, &info)
		p.Username, p.UsernameFlag = info.Username, info.HasUsername // logged and kept as the session's owner
	} else if enhanced {
		var user string
		var code packets.ReasonCode
		if user, code, err = c.enhancedAuthenticate(p, info); err != nil {
			c.refuse(p.Version, code, authRefusal(code, err))
			return &loginRefused{user: connectingUser(p), err: err}
		}
		p.Username, p.UsernameFlag = user, true
		info.Username, info.HasUsername = user, true
		info.Password, info.HasPassword = nil, false
	} else if ls := c.listener; ls != nil && ls.opts.Internal {
		// The broker's own client: nothing to check.
	} else if a := c.security().Authenticator; a != nil {
		err = a.Authenticate(context.Background(), info)
	}
	if err != nil {
		code := refusalCode(p.Version, certificate)
		c.refuse(p.Version, code, authRefusal(code, err))
		return &loginRefused{user: connectingUser(p), err: err}
	}
	if ls := c.listener; ls != nil && ls.opts.UseUsernameAsClientID {
		if !info.HasUsername {
			c.refuse(p.Version, notSupported(p.Version == packets.V5, packets.NotAuthorized), "not authorized")
			return &loginRefused{err: errors.New("no user name to use as the client identifier (use_username_as_clientid)")}
		}
		c.clientID, info.ClientID = info.Username, info.Username
		p.ClientID = info.Username // not empty: no identifier is assigned
	}
	if a := c.security().Authorizer; a != nil {
		c.access = a.Access(info)
	}
	c.identity = &identity{clientID: info.ClientID, username: info.Username, hasUsername: info.HasUsername}
	return nil
}

// certIdentity replaces the user name in info with the one the client's
// certificate gives; the password, if any, plays no part.
func certIdentity(username func(tls.ConnectionState) (string, bool), info *ConnectInfo) error {
	if info.TLS == nil {
		return errors.New("the listener takes user names from certificates, and the connection is not TLS")
	}
	name, ok := username(*info.TLS)
	if !ok {
		return errors.New("no client certificate to take the user name from")
	}
	info.Username, info.HasUsername = name, true
	info.Password, info.HasPassword = nil, false
	return nil
}

// refusalCode is the CONNACK code of a refused login, Mosquitto's: a
// listener that takes user names from certificates refuses a client
// without a usable one as a bad user name or password (MQTT 5 0x86, 3.1.1
// return code 4); a refused password or a plugin's no is not authorized
// (0x87, return code 5), whether the user is unknown or the password wrong.
func refusalCode(version byte, certificate bool) packets.ReasonCode {
	switch {
	case version == packets.V5 && certificate:
		return packets.BadUsernameOrPassword
	case version == packets.V5:
		return packets.NotAuthorized
	case certificate:
		return packets.ConnRefusedBadCredentials
	}
	return packets.ConnRefusedNotAuthorized
}

// authRefusal is the reason string of a refused login. It says no more than
// the reason code and whether the credentials were wrong: why a password
// failed is for the log, not the client.
func authRefusal(code packets.ReasonCode, err error) string {
	switch {
	case code == packets.BadAuthenticationMethod:
		return "authentication method not supported"
	case code == packets.BadUsernameOrPassword, errors.Is(err, ErrBadCredentials):
		return "bad user name or password"
	}
	return "not authorized"
}

// fitConnack makes an MQTT 5 CONNACK fit the client's Maximum Packet
// Size: the reason string and user properties go first [MQTT-3.1.2-25];
// a CONNACK too large without them is not sent [MQTT-3.1.2-24], and the
// error ends the connection, as in Mosquitto.
func (c *conn) fitConnack(ack *packets.Connack) error {
	if c.maxPacketOut == 0 {
		return nil
	}
	b, err := ack.Encode(nil, packets.V5)
	if err == nil && uint32(len(b)) <= c.maxPacketOut {
		return nil
	}
	ack.Properties.ReasonString, ack.Properties.User = "", nil
	if b, err = ack.Encode(nil, packets.V5); err != nil {
		return err
	}
	if uint32(len(b)) > c.maxPacketOut {
		return fmt.Errorf("CONNACK of %d bytes is over the client's maximum packet size %d [MQTT-3.1.2-24]", len(b), c.maxPacketOut)
	}
	return nil
}

// refuse writes a CONNACK with a failure code, and at MQTT 5 the reason
// string why, straight to the socket; the writer goroutine is not running
// yet. As in Mosquitto, an MQTT 5 refusal still names the listener's
// maximum QoS when it is below 2.
func (c *conn) refuse(version byte, code packets.ReasonCode, why string) {
	ack := &packets.Connack{ReasonCode: code}
	if q := c.maxQoS(); version == packets.V5 && q < maxGrantedQoS {
		ack.Properties.MaximumQoS = q
		ack.Properties.Set(packets.PropMaximumQoS)
	}
	c.addReasonString(ack, &ack.Properties, why)
	if version == packets.V5 && c.fitConnack(ack) != nil {
		return
	}
	b, err := ack.Encode(nil, version)
	if err != nil {
		return
	}
	if c.s.tracing.Load() {
		c.tracePacketSent(ack)
	}
	c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	if n, err := c.nc.Write(b); err == nil {
		c.s.counters.messagesSent.Add(1)
		c.s.counters.bytesSent.Add(int64(n))
	}
}

// connectingUser names the user of a CONNECT for a log line.
func connectingUser(p *packets.Connect) string {
	if !p.UsernameFlag {
		return " (no user name)"
	}
	return fmt.Sprintf(" (user '%s')", p.Username)
}

// connackProperties tells an MQTT 5 client what the broker allows.
// Properties whose value is the protocol's default are left out.
func (s *Server) connackProperties(c *conn, p *packets.Connect, props *packets.Properties) {
	if p.ClientID == "" {
		props.AssignedClientID = c.clientID
		props.Set(packets.PropAssignedClientID)
	}
	if e := c.enhanced; e != nil {
		props.AuthMethod = e.method
		props.Set(packets.PropAuthMethod)
		if e.connack != nil {
			props.AuthData = e.connack
			props.Set(packets.PropAuthData)
		}
		e.connack = nil
	}
	if c.serverKeepAlive {
		props.ServerKeepAlive = s.o().MaxKeepAlive
		props.Set(packets.PropServerKeepAlive)
	}
	if c.receiveMax < 65535 {
		props.ReceiveMaximum = uint16(c.receiveMax)
		props.Set(packets.PropReceiveMaximum)
	}
	if s.o().MaxPacketSize > 0 {
		props.MaximumPacketSize = uint32(s.o().MaxPacketSize)
		props.Set(packets.PropMaximumPacketSize)
	}
	if s.o().TopicAliasMaximum > 0 {
		props.TopicAliasMaximum = s.o().TopicAliasMaximum
		props.Set(packets.PropTopicAliasMaximum)
	}
	if q := c.maxQoS(); q < maxGrantedQoS {
		props.MaximumQoS = q
		props.Set(packets.PropMaximumQoS)
	}
	if s.o().RetainUnavailable {
		props.RetainAvailable = 0
		props.Set(packets.PropRetainAvailable)
	}
	if p.Properties.Has(packets.PropRequestResponseInfo) && p.Properties.RequestResponseInfo == 1 {
		props.ResponseInfo = s.o().ResponseTopicPrefix + c.clientID
		props.Set(packets.PropResponseInfo)
	}
}

func protocolNumber(v byte) int {
	if v == packets.V31 {
		return 1
	}
	if v == packets.V5 {
		return 5
	}
	return 2
}

// peerKind names a connected client in the log as Mosquitto does.
func peerKind(bridge bool) string {
	if bridge {
		return "bridge"
	}
	return "client"
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func userLabel(p *packets.Connect) string {
	if !p.UsernameFlag {
		return ""
	}
	return fmt.Sprintf(", u'%s'", p.Username)
}
