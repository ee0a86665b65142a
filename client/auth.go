package client

import (
	"context"
	"fmt"

	"github.com/midge-mqtt/midge/packets"
)

// AuthMethod runs the client side of an MQTT 5 enhanced authentication
// (5.0 §4.12), such as SCRAM. The client calls it from one goroutine at a
// time, in exchange order: Start, then Next for each AUTH (continue
// authentication) from the server, then Finish. The serverData slices are
// only valid during the call.
type AuthMethod interface {
	// Name is the Authentication Method property, e.g. "SCRAM-SHA-512".
	Name() string
	// Start begins an exchange and returns the Authentication Data sent in
	// CONNECT, or in AUTH (re-authenticate) by Reauthenticate.
	Start() ([]byte, error)
	// Next answers an AUTH (continue authentication) from the server.
	Next(serverData []byte) ([]byte, error)
	// Finish receives the Authentication Data of the final CONNACK or AUTH
	// (success) and verifies the server; an error ends the connection.
	Finish(serverData []byte) error
}

// continueAuth answers an AUTH the server sent before CONNACK.
func (c *Client) continueAuth(a *packets.Auth) (*packets.Auth, error) {
	if c.auth == nil {
		return nil, fmt.Errorf("%w: AUTH without an authentication method", ErrProtocol)
	}
	if a.ReasonCode != packets.ContinueAuthentication {
		return nil, fmt.Errorf("%w: AUTH with reason 0x%02X before CONNACK", ErrProtocol, byte(a.ReasonCode))
	}
	if err := c.checkAuthMethod(a.Properties.AuthMethod, false); err != nil {
		return nil, err
	}
	data, err := c.auth.Next(a.Properties.AuthData)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAuthentication, err)
	}
	return c.authPacket(packets.ContinueAuthentication, data), nil
}

// finishAuth verifies the server with the Authentication Data of a
// successful CONNACK or AUTH; optional says the Authentication Method may
// be missing (CONNACK).
func (c *Client) finishAuth(props *packets.Properties, optional bool) error {
	if err := c.checkAuthMethod(props.AuthMethod, optional); err != nil {
		return err
	}
	if err := c.auth.Finish(props.AuthData); err != nil {
		return fmt.Errorf("%w: server not verified: %w", ErrAuthentication, err)
	}
	return nil
}

// checkAuthMethod rejects an Authentication Method other than the one the
// client uses [MQTT-4.12.0-5]; optional lets it be missing.
func (c *Client) checkAuthMethod(method string, optional bool) error {
	if method != c.auth.Name() && !(optional && method == "") {
		return fmt.Errorf("%w: authentication method %q, the client uses %q", ErrProtocol, method, c.auth.Name())
	}
	return nil
}

func (c *Client) authPacket(code packets.ReasonCode, data []byte) *packets.Auth {
	return &packets.Auth{ReasonCode: code, Properties: packets.Properties{AuthMethod: c.auth.Name(), AuthData: data}}
}

// Reauthenticate runs Options.Auth again on the open connection (5.0
// §4.12.1): it sends AUTH (re-authenticate) with the method's Start data,
// answers each AUTH (continue authentication) with Next, and returns once
// the server's AUTH (success) passed Finish. Calls run one at a time.
//
// A method error, or a server that Finish does not accept, ends the
// connection (with DISCONNECT) and is returned wrapping ErrAuthentication.
// A server that refuses the re-authentication disconnects: Reauthenticate
// then returns the *DisconnectError. If ctx ends first, the exchange goes
// on in the background and a later call waits for it.
func (c *Client) Reauthenticate(ctx context.Context) error {
	if c.auth == nil {
		return fmt.Errorf("%w: re-authentication needs Options.Auth", ErrInvalidOptions)
	}
	select {
	case c.authing <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.closing:
		return c.terminalErr()
	}
	data, err := c.auth.Start()
	if err != nil {
		<-c.authing
		return fmt.Errorf("%w: %w", ErrAuthentication, err)
	}
	done := make(chan error, 1)
	c.mu.Lock()
	c.reauth = done
	c.mu.Unlock()
	if _, err := c.send(ctx, c.authPacket(packets.ReAuthenticate, data)); err != nil {
		c.mu.Lock()
		c.reauth = nil
		c.mu.Unlock()
		<-c.authing
		return err
	}
	return c.wait(ctx, done)
}

// receiveAuth handles an AUTH from the server during a re-authentication.
// Its errors end the connection.
func (c *Client) receiveAuth(a *packets.Auth) error {
	c.mu.Lock()
	done := c.reauth
	c.mu.Unlock()
	if done == nil {
		return fmt.Errorf("%w: AUTH outside an authentication exchange", ErrProtocol)
	}
	if err := c.checkAuthMethod(a.Properties.AuthMethod, false); err != nil {
		return c.endReauth(done, err)
	}
	switch a.ReasonCode {
	case packets.ContinueAuthentication:
		data, err := c.auth.Next(a.Properties.AuthData)
		if err != nil {
			return c.endReauth(done, fmt.Errorf("%w: %w", ErrAuthentication, err))
		}
		return c.reply(c.authPacket(packets.ContinueAuthentication, data))
	case packets.Success:
		if err := c.finishAuth(&a.Properties, false); err != nil {
			return c.endReauth(done, err)
		}
		c.endReauth(done, nil)
		<-c.authing
		return nil
	}
	return c.endReauth(done, fmt.Errorf("%w: AUTH with reason 0x%02X from the server", ErrProtocol, byte(a.ReasonCode)))
}

// endReauth hands err to the waiting Reauthenticate and returns it.
func (c *Client) endReauth(done chan error, err error) error {
	c.mu.Lock()
	c.reauth = nil
	c.mu.Unlock()
	done <- err
	return err
}
