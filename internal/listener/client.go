package listener

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
)

// ClientTLS are the TLS settings of a connection midge makes to another
// broker: midge pub, sub, rr and bench, and a bridge's connection to its
// remote. The names are libmosquitto's.
type ClientTLS struct {
	// ServerName is the name the server's certificate must carry.
	ServerName string
	// CAFile and CAPath are trusted CA certificates (see AddCAs);
	// UseOSCerts trusts the system's too. With none of them the system's
	// alone are trusted.
	CAFile, CAPath string
	UseOSCerts     bool
	// CertFile and KeyFile are the client's certificate, when it has one.
	CertFile, KeyFile string
	// Version is the lowest version (see TLSVersion).
	Version string
	// Ciphers is an OpenSSL cipher list for TLS 1.2 and earlier; ALPN the
	// protocol offered. Empty: Go's defaults, none.
	Ciphers, ALPN string
	// Insecure skips checking the server's name against its certificate;
	// the chain is still verified, as libmosquitto's tls_insecure does.
	Insecure bool
}

// ClientSetupError is a ClientTLS setting that cannot be used: a file that
// cannot be read or holds nothing usable, an unknown version or cipher.
// Setting is "ca" (Err names the option and path), "cert", "version" or
// "ciphers".
type ClientSetupError struct {
	Setting string
	Err     error
}

func (e *ClientSetupError) Error() string { return e.Err.Error() }

func (e *ClientSetupError) Unwrap() error { return e.Err }

// Config loads the files and returns the configuration, checking the
// settings in libmosquitto's order: files, then the version.
func (c ClientTLS) Config() (*tls.Config, error) {
	cfg := &tls.Config{ServerName: c.ServerName}
	var err error
	if c.UseOSCerts || c.CAFile != "" || c.CAPath != "" {
		roots := x509.NewCertPool()
		if c.UseOSCerts {
			if roots, err = x509.SystemCertPool(); err != nil {
				return nil, &ClientSetupError{"ca", fmt.Errorf("the system's CA certificates: %w", err)}
			}
		}
		if err := AddCAs(roots, c.CAFile, c.CAPath); err != nil {
			return nil, &ClientSetupError{"ca", err}
		}
		cfg.RootCAs = roots
	}
	if c.CertFile != "" || c.KeyFile != "" {
		pair, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, &ClientSetupError{"cert", fmt.Errorf("certfile %s, keyfile %s: %w", c.CertFile, c.KeyFile, err)}
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	if cfg.MinVersion, err = TLSVersion(c.Version); err != nil {
		return nil, &ClientSetupError{"version", err}
	}
	if c.Ciphers != "" {
		if cfg.CipherSuites, err = CipherSuites(c.Ciphers); err != nil {
			return nil, &ClientSetupError{"ciphers", fmt.Errorf("ciphers %q: %w", c.Ciphers, err)}
		}
	}
	if c.ALPN != "" {
		cfg.NextProtos = []string{c.ALPN}
	}
	if c.Insecure {
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = verifyChainOnly(cfg.RootCAs)
	}
	return cfg, nil
}

// verifyChainOnly checks the server's certificate chain against roots (nil:
// the system's) without checking its name: what Insecure leaves of
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
