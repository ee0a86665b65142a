package cli

// Client TLS for pub, sub, rr and bench: mosquitto_pub's TLS flags made
// into a tls.Config, and the dialer that completes the handshake.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
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
	cfg := &tls.Config{ServerName: serverName}
	var err error
	if c.useOSCerts || c.caFile.set || c.caPath.set {
		roots := x509.NewCertPool()
		if c.useOSCerts {
			if roots, err = x509.SystemCertPool(); err != nil {
				return nil, &tlsSetupError{fmt.Errorf("the system's CA certificates: %w", err)}
			}
		}
		if err := listener.AddCAs(roots, c.caFile.value, c.caPath.value); err != nil {
			return nil, &tlsSetupError{fmt.Errorf("--%w", err)}
		}
		cfg.RootCAs = roots
	}
	if c.certFile.set || c.keyFile.set {
		pair, err := tls.LoadX509KeyPair(c.certFile.value, c.keyFile.value)
		if err != nil {
			return nil, &tlsSetupError{fmt.Errorf("--cert %s, --key %s: %w", c.certFile.value, c.keyFile.value, err)}
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	if cfg.MinVersion, err = listener.TLSVersion(c.version.value); err != nil {
		return nil, &tlsSetupError{&tlsVersionError{err}}
	}
	if c.ciphers.set {
		if cfg.CipherSuites, err = listener.CipherSuites(c.ciphers.value); err != nil {
			return nil, &tlsSetupError{fmt.Errorf("--ciphers %q: %w", c.ciphers.value, err)}
		}
	}
	if c.alpn.set {
		cfg.NextProtos = []string{c.alpn.value}
	}
	if c.insecure {
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = verifyChainOnly(cfg.RootCAs)
	}
	return cfg, nil
}

// verifyChainOnly checks the server's certificate chain against roots (nil:
// the system's) without checking its name: what --insecure leaves of
// verification.
func verifyChainOnly(roots *x509.CertPool) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("the server sent no certificate")
		}
		opts := x509.VerifyOptions{
			Roots:         roots,
			Intermediates: x509.NewCertPool(),
			KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		for _, cert := range cs.PeerCertificates[1:] {
			opts.Intermediates.AddCert(cert)
		}
		_, err := cs.PeerCertificates[0].Verify(opts)
		return err
	}
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
