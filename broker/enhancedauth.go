package broker

import (
	"errors"
	"fmt"
	"time"

	"github.com/midge-mqtt/midge/packets"
)

// AuthExchange is one MQTT 5 enhanced authentication in progress, on the
// broker's side (a SASL-like method such as SCRAM-SHA-512).
type AuthExchange interface {
	// Step takes the client's Authentication Data and returns the
	// broker's answer. done reports that the client is authenticated (the
	// answer then travels in CONNACK, or in AUTH 0x00 after a
	// re-authentication); an error refuses it.
	Step(clientData []byte) (serverData []byte, done bool, err error)
	// Username is the authenticated user once done.
	Username() string
}

// EnhancedAuthenticator starts enhanced authentication exchanges for the
// methods it knows.
type EnhancedAuthenticator interface {
	// Start begins an exchange for method; ok is false when the method is
	// not supported (the client is refused with 0x8C).
	Start(method string, info ConnectInfo) (ex AuthExchange, ok bool)
}

// enhancedState is a connection's enhanced authentication.
type enhancedState struct {
	method   string       // the Authentication Method of CONNECT
	username string       // who the method authenticated
	connack  []byte       // the method's last answer, for CONNACK
	reauth   AuthExchange // a re-authentication in progress (owned by the reader)
}

var (
	errBadAuthMethod = errors.New("authentication method not supported")
	errAuthSequence  = errors.New("expected AUTH with the same method during authentication")
)

// enhancedAuthenticate runs the AUTH exchange of a CONNECT that names an
// authentication method. It reports the authenticated user name, or the
// CONNACK code and error to refuse the client with. The CONNACK's
// properties are left in c.enhanced.
func (c *conn) enhancedAuthenticate(p *packets.Connect, info ConnectInfo) (string, packets.ReasonCode, error) {
	method := p.Properties.AuthMethod
	ea := c.security().EnhancedAuth
	if ea == nil {
		return "", packets.BadAuthenticationMethod, errBadAuthMethod
	}
	ex, ok := ea.Start(method, info)
	if !ok {
		return "", packets.BadAuthenticationMethod, fmt.Errorf("%w: %q", errBadAuthMethod, method)
	}
	data := p.Properties.AuthData
	for {
		out, done, err := ex.Step(data)
		if err != nil {
			return "", packets.NotAuthorized, err // Mosquitto's code for a failed exchange
		}
		if done {
			c.enhanced = &enhancedState{method: method, username: ex.Username(), connack: out}
			return ex.Username(), 0, nil
		}
		if err := c.writeNow(authPacket(packets.ContinueAuthentication, method, out)); err != nil {
			return "", packets.UnspecifiedError, err
		}
		if data, err = c.readAuth(method, packets.ContinueAuthentication); err != nil {
			return "", packets.ProtocolError, err
		}
	}
}

// readAuth reads the client's next AUTH during the handshake: it must have
// the reason code want and the method of the exchange.
func (c *conn) readAuth(method string, want packets.ReasonCode) ([]byte, error) {
	h, body, err := c.reader.ReadFrame()
	if err != nil {
		return nil, fmt.Errorf("reading AUTH: %w", err)
	}
	if h.Type != packets.TypeAuth {
		return nil, errAuthSequence
	}
	var a packets.Auth
	if err := a.Decode(h.Flags, body, packets.V5); err != nil {
		return nil, err
	}
	if a.ReasonCode != want || a.Properties.AuthMethod != method {
		return nil, errAuthSequence
	}
	return a.Properties.AuthData, nil
}

func authPacket(code packets.ReasonCode, method string, data []byte) *packets.Auth {
	a := &packets.Auth{ReasonCode: code}
	a.Properties.AuthMethod = method
	a.Properties.Set(packets.PropAuthMethod)
	if data != nil {
		a.Properties.AuthData = data
		a.Properties.Set(packets.PropAuthData)
	}
	return a
}

// writeNow writes a packet straight to the socket, before the writer
// goroutine has anything to do with the connection.
func (c *conn) writeNow(p packets.Packet) error {
	b, err := p.Encode(nil, packets.V5)
	if err != nil {
		return err
	}
	c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	defer c.nc.SetWriteDeadline(time.Time{})
	n, err := c.nc.Write(b)
	c.s.counters.messagesSent.Add(1)
	c.s.counters.bytesSent.Add(int64(n))
	return err
}

// handleAuth handles AUTH after CONNECT: a re-authentication (0x19) with the
// connection's method, and its continuation (0x18). The user must stay the
// same; a failure ends the connection with 0x87.
func (c *conn) handleAuth(h packets.FixedHeader, body []byte) error {
	var a packets.Auth
	if err := a.Decode(h.Flags, body, c.version); err != nil {
		return err
	}
	if c.s.tracing.Load() {
		c.trace("Received AUTH from %s (rc%d, %s)", c.clientID, a.ReasonCode, a.Properties.AuthMethod)
	}
	e := c.enhanced
	if e == nil || a.Properties.AuthMethod != e.method {
		return &closeReason{msg: "AUTH with a method other than the connection's", code: packets.ProtocolError, will: true}
	}
	switch a.ReasonCode {
	case packets.ReAuthenticate:
		ex, ok := c.security().EnhancedAuth.Start(e.method, ConnectInfo{ClientID: c.clientID, Remote: c.nc.RemoteAddr(), Version: c.version})
		if !ok {
			return errReauthFailed
		}
		e.reauth = ex
	case packets.ContinueAuthentication:
		if e.reauth == nil {
			return &closeReason{msg: "AUTH 0x18 outside an exchange", code: packets.ProtocolError, will: true}
		}
	default:
		return &closeReason{msg: "AUTH with reason code " + a.ReasonCode.String(), code: packets.ProtocolError, will: true}
	}
	out, done, err := e.reauth.Step(a.Properties.AuthData)
	if err != nil {
		c.s.log.Info(fmt.Sprintf("Client %s failed re-authentication: %v.", c.clientID, err))
		return errReauthFailed
	}
	if !done {
		c.out.push(outItem{packet: authPacket(packets.ContinueAuthentication, e.method, out)})
		return nil
	}
	if user := e.reauth.Username(); user != e.username {
		c.s.log.Info(fmt.Sprintf("Client %s re-authenticated as %q, not as %q.", c.clientID, user, e.username))
		return errReauthFailed
	}
	e.reauth = nil
	c.out.push(outItem{packet: authPacket(packets.Success, e.method, out)})
	return nil
}
