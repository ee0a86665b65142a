package brokercmd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/midge-mqtt/midge/internal/config"
	"github.com/midge-mqtt/midge/internal/listener"
)

// bridgeDialer opens a bridge's connections to its remote: from
// bridge_bind_address, with bridge_tcp_keepalive and
// bridge_tcp_user_timeout, and in TLS when a CA is given (bridge_cafile,
// bridge_capath or bridge_tls_use_os_certs), as in Mosquitto.
func bridgeDialer(c *config.Bridge, log *slog.Logger) (func(ctx context.Context, network, addr string) (net.Conn, error), error) {
	at := func(option string, err error) error {
		file, line := c.At(option)
		return fmt.Errorf("%s:%d: bridge %s: %w", file, line, c.Name, err)
	}
	d := &net.Dialer{Timeout: 30 * time.Second}
	if c.BindAddress != "" {
		ip := net.ParseIP(c.BindAddress)
		if ip == nil {
			return nil, at("bridge_bind_address", fmt.Errorf("bridge_bind_address %q: not an IP address", c.BindAddress))
		}
		d.LocalAddr = &net.TCPAddr{IP: ip}
	}
	if k := c.TCPKeepalive; len(k) == 3 {
		d.KeepAliveConfig = net.KeepAliveConfig{Enable: true,
			Idle: time.Duration(k[0]) * time.Second, Interval: time.Duration(k[1]) * time.Second, Count: k[2]}
	}
	if c.TCPUserTimeout != nil && *c.TCPUserTimeout > 0 {
		if !setUserTimeout(d, *c.TCPUserTimeout) {
			file, line := c.At("bridge_tcp_user_timeout")
			log.Warn(fmt.Sprintf("%s:%d: bridge %s: bridge_tcp_user_timeout is Linux's; ignored here.", file, line, c.Name))
		}
	}
	tlsOn := c.CAFile != "" || c.CAPath != "" || (c.UseOSCerts != nil && *c.UseOSCerts)
	if !tlsOn {
		given := map[string]bool{"bridge_certfile": c.CertFile != "", "bridge_keyfile": c.KeyFile != "",
			"bridge_insecure": c.Insecure != nil && *c.Insecure, "bridge_tls_version": c.TLSVersion != "",
			"bridge_alpn": c.ALPN != "", "bridge_require_ocsp": c.RequireOCSP != nil && *c.RequireOCSP,
			"bridge_ciphers": c.Ciphers != ""}
		for _, option := range []string{"bridge_certfile", "bridge_keyfile", "bridge_insecure", "bridge_tls_version",
			"bridge_alpn", "bridge_require_ocsp", "bridge_ciphers"} {
			if given[option] {
				return nil, at(option, fmt.Errorf("%s needs bridge_cafile, bridge_capath or bridge_tls_use_os_certs, "+
					"which turn TLS to the remote on", option))
			}
		}
		return d.DialContext, nil
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return nil, at("bridge_certfile", errors.New("bridge_certfile and bridge_keyfile go together"))
	}
	base, err := listener.ClientTLS{
		CAFile: c.CAFile, CAPath: c.CAPath, UseOSCerts: c.UseOSCerts != nil && *c.UseOSCerts,
		CertFile: c.CertFile, KeyFile: c.KeyFile, Version: c.TLSVersion, Ciphers: c.Ciphers, ALPN: c.ALPN,
		Insecure: c.Insecure != nil && *c.Insecure,
	}.Config()
	if err != nil {
		option := "bridge_cafile"
		var se *listener.ClientSetupError
		if errors.As(err, &se) {
			option = map[string]string{"ca": "bridge_cafile", "cert": "bridge_certfile",
				"version": "bridge_tls_version", "ciphers": "bridge_ciphers"}[se.Setting]
			if option == "bridge_cafile" && c.CAFile == "" {
				option = "bridge_capath"
			}
		}
		return nil, at(option, err)
	}
	if c.RequireOCSP != nil && *c.RequireOCSP {
		base.VerifyConnection = requireOCSP(base.VerifyConnection)
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		cfg := base.Clone()
		cfg.ServerName = host
		td := tls.Dialer{NetDialer: d, Config: cfg}
		return td.DialContext(ctx, network, addr)
	}, nil
}

// requireOCSP adds to verify (which may be nil) the check of
// bridge_require_ocsp: the remote staples an OCSP response, signed for its
// certificate's issuer, that says the certificate is good.
func requireOCSP(verify func(tls.ConnectionState) error) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if verify != nil {
			if err := verify(cs); err != nil {
				return err
			}
		}
		if len(cs.OCSPResponse) == 0 {
			return errors.New("the remote stapled no OCSP response (bridge_require_ocsp true)")
		}
		chain := cs.PeerCertificates
		if len(cs.VerifiedChains) > 0 {
			chain = cs.VerifiedChains[0]
		}
		if len(chain) < 2 {
			return errors.New("the remote's certificate has no issuer to check its OCSP response against")
		}
		resp, err := ocsp.ParseResponseForCert(cs.OCSPResponse, chain[0], chain[1])
		if err != nil {
			return fmt.Errorf("the remote's OCSP response: %w", err)
		}
		switch resp.Status {
		case ocsp.Good:
		case ocsp.Revoked:
			return errors.New("the remote's OCSP response says its certificate is revoked")
		default:
			return errors.New("the remote's OCSP response does not know its certificate")
		}
		if !resp.NextUpdate.IsZero() && time.Now().After(resp.NextUpdate) {
			return fmt.Errorf("the remote's OCSP response expired at %s", resp.NextUpdate.UTC().Format(time.RFC3339))
		}
		return nil
	}
}
