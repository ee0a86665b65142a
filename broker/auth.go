package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
)

// ConnectInfo is what an Authenticator sees of a connecting client.
type ConnectInfo struct {
	ClientID    string
	Username    string
	HasUsername bool
	Password    []byte
	HasPassword bool
	Remote      net.Addr
	Version     byte // protocol level: 3, 4 or 5
	// TLS is the connection's TLS state; nil on a plain connection.
	TLS *tls.ConnectionState
}

// tlsCarrier is a connection that runs over TLS without being a *tls.Conn
// itself, such as MQTT over secure WebSockets: it hands over the TLS state
// for certificate checks and user names.
type tlsCarrier interface {
	TLSConnectionState() (tls.ConnectionState, bool)
}

// Authenticator decides whether a client may connect. It returns nil to
// admit the client, ErrBadCredentials or ErrNotAuthorized to refuse it (the
// CONNACK carries the matching code), or another error, which refuses the
// client as not authorized and is logged.
type Authenticator interface {
	Authenticate(ctx context.Context, info ConnectInfo) error
}

// AuthenticatorFunc adapts a function to the Authenticator interface.
type AuthenticatorFunc func(ctx context.Context, info ConnectInfo) error

// Authenticate calls f.
func (f AuthenticatorFunc) Authenticate(ctx context.Context, info ConnectInfo) error {
	return f(ctx, info)
}

// Errors an Authenticator returns to refuse a client.
var (
	ErrBadCredentials = errors.New("broker: bad user name or password")
	ErrNotAuthorized  = errors.New("broker: not authorized")
)

// AnonymousOnly returns an Authenticator for a broker without a password
// file: with allow true it admits every client; with allow false it refuses
// every client, as Mosquitto does with allow_anonymous false and no other
// source of users.
func AnonymousOnly(allow bool) Authenticator {
	return AuthenticatorFunc(func(context.Context, ConnectInfo) error {
		if allow {
			return nil
		}
		return ErrNotAuthorized
	})
}

// TopicAccess is what one client may do with topics. The broker asks
// CanWrite for every PUBLISH the client sends and for its will, and CanRead
// for every message about to be delivered to it: retained messages, queued
// messages and in-flight messages resent on reconnection included. Both are
// called often and from many goroutines at once.
type TopicAccess interface {
	CanRead(topic string) bool
	CanWrite(topic string) bool
}

// SubscribeAccess is a TopicAccess that also judges SUBSCRIBE filters.
// The broker asks CanSubscribe once for each filter of a SUBSCRIBE (the
// filter inside $share/GROUP/ for a shared subscription, after any mount
// point), and refuses the filters it answers false for: SUBACK 0x80 at
// MQTT 3.1.1, 0x87 Not authorized at MQTT 5. It should answer false only
// for a filter that matches no topic name CanRead allows, since every
// message through a granted filter is still checked with CanRead. A
// TopicAccess without the method has every filter granted.
type SubscribeAccess interface {
	TopicAccess
	CanSubscribe(filter string) bool
}

// Authorizer gives each admitted client its TopicAccess. The broker calls
// Access once per connection, after authentication, with the client's final
// identity (a listener that takes user names from certificates has filled
// Username in). A nil Authorizer, or a nil TopicAccess, allows everything.
type Authorizer interface {
	Access(info ConnectInfo) TopicAccess
}

// AuthorizerFunc adapts a function to the Authorizer interface.
type AuthorizerFunc func(info ConnectInfo) TopicAccess

// Access calls f.
func (f AuthorizerFunc) Access(info ConnectInfo) TopicAccess { return f(info) }
