// Package listener holds the network plumbing in front of the broker: the
// TLS configuration of a listener built from Mosquitto's per-listener
// options, its reload, a bounded handshake, and MQTT over WebSockets. It
// knows nothing of MQTT beyond the WebSocket subprotocol names, and imports
// only the standard library and gorilla/websocket.
package listener

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// TLSOptions are a listener's TLS options, named as in mosquitto.conf.
type TLSOptions struct {
	// CAFile and CAPath (a directory of PEM files) hold the CA certificates
	// that client certificates must chain to. One of them is needed when
	// RequireCertificate is set. When CertFile holds the server
	// certificate alone, the issuers found here are sent after it, as
	// OpenSSL does (see completeChain).
	CAFile, CAPath string
	// CertFile (PEM, the server certificate followed by any intermediates)
	// and KeyFile (PEM, unencrypted) are required.
	CertFile, KeyFile string
	// RequireCertificate makes a client certificate that chains to the CA
	// mandatory. When false the server does not ask for one at all, as
	// Mosquitto does (OpenSSL's SSL_VERIFY_NONE: no CertificateRequest).
	RequireCertificate bool
	// Version is tls_version: the minimum version, "tlsv1.3", "tlsv1.2"
	// or "tlsv1.1"; empty means TLS 1.2 (Mosquitto 2.0's default).
	Version string
	// Ciphers is ciphers: an OpenSSL cipher list for TLS 1.2 and earlier
	// (see cipherSuites for what is understood). Empty means Go's defaults.
	Ciphers string
	// Ciphers13 is ciphers_tls1.3. Go's TLS 1.3 suites cannot be chosen,
	// so it is accepted and reported by Warnings.
	Ciphers13 string
	// CRLFile is crlfile: one or more PEM CRLs, or one DER CRL. With
	// RequireCertificate, a client certificate is refused when revoked,
	// and also when no current CRL from its issuer is in the file
	// (OpenSSL's X509_V_FLAG_CRL_CHECK, which Mosquitto sets).
	CRLFile string
	// UseIdentityAsUsername and UseSubjectAsUsername choose what Username
	// returns; identity wins when both are set, as in Mosquitto.
	UseIdentityAsUsername, UseSubjectAsUsername bool
	// Now is the clock for certificate and CRL validity; nil means
	// time.Now.
	Now func() time.Time
}

// TLS is a listener's TLS configuration. Its certificate, key, CA and CRL
// are re-read by Reload; every other option is fixed by NewTLS. It is safe
// for concurrent use.
type TLS struct {
	opts     TLSOptions
	min      uint16
	suites   []uint16 // nil: Go's defaults
	warnings []string
	base     *tls.Config
	current  atomic.Pointer[tls.Config] // the configuration handshakes use now
}

// pairSet names the one of certfile and keyfile that is set, when the
// other is not: its line is the one to show.
func pairSet(o TLSOptions) string {
	if o.CertFile == "" {
		return "keyfile"
	}
	return "certfile"
}

// NewTLS checks the options, loads the files they name and returns the
// configuration. Its errors name the option and the file at fault.
func NewTLS(o TLSOptions) (*TLS, error) {
	t := &TLS{opts: o}
	if o.CertFile == "" || o.KeyFile == "" {
		return nil, optionErrf(pairSet(o), "a TLS listener needs both certfile and keyfile")
	}
	if o.RequireCertificate && o.CAFile == "" && o.CAPath == "" {
		return nil, optionErrf("require_certificate", "require_certificate true needs cafile or capath")
	}
	var err error
	if t.min, err = TLSVersion(o.Version); err != nil {
		return nil, optionErrf("tls_version", "tls_version: %w", err)
	}
	if o.Ciphers != "" {
		if t.suites, err = CipherSuites(o.Ciphers); err != nil {
			return nil, optionErrf("ciphers", "ciphers %q: %w", o.Ciphers, err)
		}
	}
	if o.Ciphers13 != "" {
		t.warnings = append(t.warnings, fmt.Sprintf("ciphers_tls1.3 %q is ignored: Go always offers %s in TLS 1.3",
			o.Ciphers13, "TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384 and TLS_CHACHA20_POLY1305_SHA256"))
	}
	if err := t.Reload(); err != nil {
		return nil, err
	}
	t.base = &tls.Config{
		MinVersion: t.min,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return t.current.Load(), nil
		},
	}
	return t, nil
}

// Config returns the configuration for tls.Server or tls.NewListener. It
// hands each handshake the material last loaded, so a Reload applies to
// the next handshake without touching established connections.
func (t *TLS) Config() *tls.Config { return t.base }

// Server wraps conn, accepted on the listener, as a TLS server connection;
// the handshake happens on first I/O or in Handshake.
func (t *TLS) Server(conn net.Conn) *tls.Conn { return tls.Server(conn, t.base) }

// Warnings returns what NewTLS accepted but cannot honour, to be logged.
func (t *TLS) Warnings() []string { return t.warnings }

// Reload re-reads the certificate, key, CA and CRL files, and completes
// the certificate chain again from the CA. When any of them fails to
// load, the previous material stays in use and the error names the
// option and file.
func (t *TLS) Reload() error {
	cert, err := loadKeyPair(t.opts.CertFile, t.opts.KeyFile)
	if err != nil {
		return err
	}
	// The CA is loaded, and its errors reported, even when no client
	// certificate is asked for, as Mosquitto does. It also completes the
	// chain the listener sends.
	cas, err := readCAs(t.opts.CAFile, t.opts.CAPath)
	if err != nil {
		return err
	}
	completeChain(&cert, cas, t.now())
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   t.min,
		CipherSuites: t.suites,
		Time:         t.opts.Now,
	}
	if t.opts.RequireCertificate {
		cfg.ClientCAs = x509.NewCertPool()
		for _, ca := range cas {
			cfg.ClientCAs.AddCert(ca)
		}
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	if t.opts.CRLFile != "" {
		crls, err := loadCRLs(t.opts.CRLFile)
		if err != nil {
			return err
		}
		if t.opts.RequireCertificate {
			// VerifyConnection, unlike VerifyPeerCertificate, also runs
			// when a session is resumed.
			cfg.VerifyConnection = func(cs tls.ConnectionState) error {
				return crls.check(cs.VerifiedChains, t.now())
			}
		}
	}
	// Fresh session ticket keys: a session from before the reload cannot
	// be resumed, so every client is checked against the new CA and CRL.
	var ticketKey [32]byte
	if _, err := rand.Read(ticketKey[:]); err != nil {
		return fmt.Errorf("listener: session ticket key: %w", err)
	}
	cfg.SetSessionTicketKeys([][32]byte{ticketKey})
	t.current.Store(cfg)
	return nil
}

func (t *TLS) now() time.Time {
	if t.opts.Now != nil {
		return t.opts.Now()
	}
	return time.Now()
}

// Username returns the MQTT username a connection's client certificate
// stands for: its subject's first Common Name with use_identity_as_username,
// or its whole subject in OpenSSL's RFC 2253 form with
// use_subject_as_username. It reports false when neither option is set,
// when there is no client certificate, or when the certificate gives no
// usable name (no CN, or one that is not UTF-8, which Mosquitto 2.0.16
// refuses too); the broker then refuses the client.
func (t *TLS) Username(cs tls.ConnectionState) (string, bool) {
	if len(cs.PeerCertificates) == 0 {
		return "", false
	}
	cert := cs.PeerCertificates[0]
	switch {
	case t.opts.UseIdentityAsUsername:
		return CommonName(cert)
	case t.opts.UseSubjectAsUsername:
		name, err := SubjectRFC2253(cert)
		return name, err == nil
	}
	return "", false
}

// Handshake runs conn's server handshake within timeout (the broker gives
// it its CONNECT timeout) and ctx. A handshake that fails or does not
// finish in time closes conn. On success the deadline is cleared, so the
// caller sets its own.
func Handshake(ctx context.Context, conn *tls.Conn, timeout time.Duration) error {
	if timeout > 0 {
		conn.SetDeadline(time.Now().Add(timeout))
	}
	if err := conn.HandshakeContext(ctx); err != nil {
		conn.Close()
		return fmt.Errorf("listener: TLS handshake with %s: %w", conn.RemoteAddr(), err)
	}
	if timeout > 0 {
		conn.SetDeadline(time.Time{})
	}
	return nil
}

// TLSVersion maps a tls_version (or --tls-version) value to the minimum
// version it stands for; "" is TLS 1.2.
func TLSVersion(name string) (uint16, error) {
	switch name {
	case "", "tlsv1.2":
		return tls.VersionTLS12, nil
	case "tlsv1.3":
		return tls.VersionTLS13, nil
	case "tlsv1.1":
		return tls.VersionTLS11, nil
	}
	return 0, fmt.Errorf("unsupported TLS version %q: use tlsv1.3, tlsv1.2 or tlsv1.1", name)
}

// AddCAs adds to pool the CA certificates of cafile (a PEM file) and
// capath (a directory whose files are all read, so OpenSSL's hash links
// are not needed; files without a PEM certificate are skipped). Errors
// name the option and the path, and wrap the file system's.
func AddCAs(pool *x509.CertPool, cafile, capath string) error {
	cas, err := readCAs(cafile, capath)
	for _, ca := range cas {
		pool.AddCert(ca)
	}
	return err
}

// readCAs returns the certificates AddCAs adds, cafile's first, then
// capath's in the order of its file names.
func readCAs(cafile, capath string) ([]*x509.Certificate, error) {
	var cas []*x509.Certificate
	if cafile != "" {
		data, err := os.ReadFile(cafile)
		if err != nil {
			return nil, optionErr("cafile", cafile, err)
		}
		if cas = appendCerts(cas, data); len(cas) == 0 {
			return nil, optionErrf("cafile", "cafile %s: no PEM certificate found", cafile)
		}
	}
	if capath != "" {
		entries, err := os.ReadDir(capath)
		if err != nil {
			return nil, optionErr("capath", capath, err)
		}
		before := len(cas)
		for _, e := range entries {
			data, err := os.ReadFile(filepath.Join(capath, e.Name()))
			if err != nil {
				continue // a subdirectory or a dangling link
			}
			cas = appendCerts(cas, data)
		}
		if len(cas) == before {
			return nil, optionErrf("capath", "capath %s: no PEM certificate found", capath)
		}
	}
	return cas, nil
}

// appendCerts appends the certificates of PEM data to cas, skipping what
// x509.CertPool.AppendCertsFromPEM skips: other blocks, blocks with
// headers, and certificates that do not parse.
func appendCerts(cas []*x509.Certificate, data []byte) []*x509.Certificate {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return cas
		}
		if block.Type != "CERTIFICATE" || len(block.Headers) != 0 {
			continue
		}
		if cert, err := x509.ParseCertificate(block.Bytes); err == nil {
			cas = append(cas, cert)
		}
	}
}

// loadKeyPair reads certfile and keyfile, with errors that say which one
// is wrong.
func loadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, optionErr("certfile", certFile, err)
	}
	if !hasPEM(certPEM, func(typ string) bool { return typ == "CERTIFICATE" }) {
		return tls.Certificate{}, optionErrf("certfile", "certfile %s: no certificate found", certFile)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, optionErr("keyfile", keyFile, err)
	}
	if hasPEM(keyPEM, func(typ string) bool { return typ == "ENCRYPTED PRIVATE KEY" }) || bytes.Contains(keyPEM, []byte("Proc-Type: 4,ENCRYPTED")) {
		return tls.Certificate{}, optionErrf("keyfile", "keyfile %s: encrypted keys are not supported", keyFile)
	}
	if !hasPEM(keyPEM, func(typ string) bool { return strings.HasSuffix(typ, "PRIVATE KEY") }) {
		return tls.Certificate{}, optionErrf("keyfile", "keyfile %s: no private key found", keyFile)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		if strings.Contains(err.Error(), "does not match") {
			return tls.Certificate{}, optionErrf("keyfile", "keyfile %s does not match certfile %s", keyFile, certFile)
		}
		return tls.Certificate{}, optionErrf("keyfile", "certfile %s, keyfile %s: %v", certFile, keyFile, err)
	}
	return cert, nil
}

// hasPEM reports whether data holds a PEM block whose type satisfies want.
func hasPEM(data []byte, want func(string) bool) bool {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return false
		}
		if want(block.Type) {
			return true
		}
	}
}
