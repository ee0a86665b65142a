package broker

import (
	"context"
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
