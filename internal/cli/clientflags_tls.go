package cli

// Client TLS for pub, sub, rr and bench: mosquitto_pub's TLS flags made
// into a tls.Config, and the dialer that completes the handshake.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net"

	"github.com/midge-mqtt/midge/internal/listener"
)

// clientTLS are the TLS settings of midge pub, sub and bench, with
// mosquitto_pub's meanings. It is the one place where midge's tools set up
// client TLS.
type clientTLS struct {
	caFile, caPath    optString // trust these CA certificates
	certFile, keyFile optString // present this client certificate
	version           optString // minimum version: tlsv1.3, tlsv1.2 (default), tlsv1.1
	// insecure skips checking the server's name against its certificate;
	// the chain is still verified, as libmosquitto's tls_insecure does.
	insecure bool
	// useOSCerts trusts the system's CA certificates too.
	useOSCerts bool
	// ciphers is an OpenSSL cipher list for TLS 1.2 and earlier; alpn the
	// protocol offered by ALPN.
	ciphers, alpn optString
}

// enabled reports whether TLS is on: mosquitto_pub turns it on with a CA
// source (--cafile, --capath or --tls-use-os-certs). --cert, --key and
// --insecure alone leave it off, as there.
func (c *clientTLS) enabled() bool {
	return c.caFile.set || c.caPath.set || c.useOSCerts
}

// tlsSetupError is a TLS setting that cannot be used: a file that cannot
// be read or holds nothing usable, or an unknown version.
type tlsSetupError struct {
	err error
}

func (e *tlsSetupError) Error() string { return "TLS setup: " + e.err.Error() }

func (e *tlsSetupError) Unwrap() error { return e.err }

// mosquittoText words e as mosquitto_pub does, with the file's name and
// the reason where mosquitto_pub would fail later with less.
func (e *tlsSetupError) mosquittoText() string {
	var unsupported *tlsVersionError
	switch {
	case errors.As(e.err, &unsupported):
		return "Problem setting TLS options, check the options are valid."
	case errors.Is(e.err, fs.ErrNotExist), errors.Is(e.err, fs.ErrPermission):
		return "Problem setting TLS options: File not found."
	}
	return "Problem setting TLS options: " + e.err.Error() + "."
}

// tlsVersionError is an unknown --tls-version.
type tlsVersionError struct{ err error }

func (e *tlsVersionError) Error() string { return "--tls-version: " + e.err.Error() }

// tlsHandshakeError is a TLS handshake with the broker that failed.
type tlsHandshakeError struct{ err error }

func (e *tlsHandshakeError) Error() string { return "TLS handshake: " + e.err.Error() }

func (e *tlsHandshakeError) Unwrap() error { return e.err }

// config loads the files and returns the configuration for a server that
// should be named serverName (the host dialled). Its errors are
// *tlsSetupError, in mosquitto_pub's order: files, then the version.
func (c *clientTLS) config(serverName string) (*tls.Config, error) {
	cfg, err := listener.ClientTLS{
		ServerName: serverName, CAFile: c.caFile.value, CAPath: c.caPath.value, UseOSCerts: c.useOSCerts,
		CertFile: c.certFile.value, KeyFile: c.keyFile.value, Version: c.version.value,
		Ciphers: c.ciphers.value, ALPN: c.alpn.value, Insecure: c.insecure,
	}.Config()
	var setup *listener.ClientSetupError
	if !errors.As(err, &setup) {
		return cfg, err
	}
	switch setup.Setting {
	case "version":
		return nil, &tlsSetupError{&tlsVersionError{setup.Err}}
	case "cert":
		return nil, &tlsSetupError{fmt.Errorf("--cert %s, --key %s: %w", c.certFile.value, c.keyFile.value, errors.Unwrap(setup.Err))}
	}
	return nil, &tlsSetupError{fmt.Errorf("--%w", setup.Err)}
}

// tlsDialer returns a client.Options.Dialer that connects over TCP and
// completes the TLS handshake before returning, so that a refused
// certificate is reported as such. A cfg that could not be built (err) is
// reported when dialling, after every other check, where mosquitto_pub
// reports it.
func tlsDialer(base func(ctx context.Context, network, addr string) (net.Conn, error),
	cfg *tls.Config, err error) func(ctx context.Context, network, addr string) (net.Conn, error) {
	if base == nil {
		var d net.Dialer
		base = d.DialContext
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if err != nil {
			return nil, err
		}
		nc, err := base(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		conn := tls.Client(nc, cfg)
		if err := conn.HandshakeContext(ctx); err != nil {
			nc.Close()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, &tlsHandshakeError{err}
		}
		return conn, nil
	}
}
