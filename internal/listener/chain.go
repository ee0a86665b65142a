package listener

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"time"
)

// maxChainDepth bounds the chain completeChain builds, as OpenSSL's verify
// depth (100 by default) bounds the one it builds.
const maxChainDepth = 100

// completeChain appends to cert, when its certfile held the leaf alone,
// the issuers that cas (the cafile and capath certificates) hold: the
// leaf's issuer, that one's issuer, and so on up to a self-signed root or
// to a certificate whose issuer cas lacks. This is what OpenSSL, and so
// Mosquitto, sends (its automatic chain, built from the verify store when
// SSL_CTX_use_certificate_chain_file found no extra certificates), so a
// client that trusts only the root can verify a leaf an intermediate
// signed; like OpenSSL, it sends a root that cas holds too. A certfile
// that carries more than the leaf is sent as it is, as OpenSSL does.
// Without a matching issuer, cert is left alone: the listener starts as
// before, and only clients that hold the intermediates can verify it.
func completeChain(cert *tls.Certificate, cas []*x509.Certificate, now time.Time) {
	if len(cert.Certificate) != 1 || len(cas) == 0 {
		return
	}
	current := cert.Leaf
	if current == nil {
		var err error
		if current, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return
		}
	}
	seen := map[*x509.Certificate]bool{}
	for len(cert.Certificate) < maxChainDepth && !selfSigned(current) {
		issuer := findIssuer(current, cas, now)
		if issuer == nil || seen[issuer] {
			return
		}
		seen[issuer] = true
		cert.Certificate = append(cert.Certificate, issuer.Raw)
		current = issuer
	}
}

// findIssuer returns the certificate of cas that signed cert, preferring
// one valid at now, as OpenSSL's issuer lookup does; nil when none did.
func findIssuer(cert *x509.Certificate, cas []*x509.Certificate, now time.Time) *x509.Certificate {
	var expired *x509.Certificate
	for _, ca := range cas {
		if !bytes.Equal(ca.RawSubject, cert.RawIssuer) || cert.CheckSignatureFrom(ca) != nil {
			continue
		}
		if now.Before(ca.NotBefore) || now.After(ca.NotAfter) {
			if expired == nil {
				expired = ca
			}
			continue
		}
		return ca
	}
	return expired
}

// selfSigned reports whether cert is its own issuer, the end of a chain.
func selfSigned(cert *x509.Certificate) bool {
	return bytes.Equal(cert.RawSubject, cert.RawIssuer) && cert.CheckSignatureFrom(cert) == nil
}
