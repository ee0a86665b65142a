package brokercmd

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// testPKI is a CA and a server certificate for 127.0.0.1 that it signed.
type testPKI struct {
	caFile string
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	leaf   tls.Certificate
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &testPKI{caFile: caFile, ca: ca, caKey: caKey,
		leaf: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}}
}

// staple is an OCSP response from the CA about the server's certificate.
func (p *testPKI) staple(t *testing.T, status int, nextUpdate time.Time) []byte {
	t.Helper()
	b, err := ocsp.CreateResponse(p.ca, p.ca, ocsp.Response{Status: status, SerialNumber: p.leaf.Leaf.SerialNumber,
		ThisUpdate: time.Now().Add(-time.Minute), NextUpdate: nextUpdate, RevokedAt: time.Now().Add(-time.Minute)}, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tlsRemote serves TLS handshakes with cert on loopback and returns its
// address.
func tlsRemote(t *testing.T, cert tls.Certificate) string {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				c.SetDeadline(time.Now().Add(5 * time.Second))
				c.(*tls.Conn).Handshake()
				c.Close()
			}()
		}
	}()
	return l.Addr().String()
}

// bridge_require_ocsp: the connection to the remote is made only when it
// staples a current OCSP response that says its certificate is good.
func TestBridgeRequireOCSP(t *testing.T) {
	pki := newTestPKI(t)
	cases := []struct {
		name   string
		staple []byte
		want   string // "" for a connection
	}{
		{"good", pki.staple(t, ocsp.Good, time.Now().Add(time.Hour)), ""},
		{"revoked", pki.staple(t, ocsp.Revoked, time.Now().Add(time.Hour)), "revoked"},
		{"unknown", pki.staple(t, ocsp.Unknown, time.Now().Add(time.Hour)), "does not know"},
		{"expired", pki.staple(t, ocsp.Good, time.Now().Add(-time.Second)), "expired"},
		{"none", nil, "stapled no OCSP response"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cert := pki.leaf
			cert.OCSPStaple = c.staple
			addr := tlsRemote(t, cert)
			_, plans, err := plansOf(t, "connection a\naddress "+addr+"\ntopic t\nbridge_cafile "+pki.caFile+
				"\nbridge_require_ocsp true\n")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			conn, err := plans[0].opts.Dialer(ctx, "tcp", addr)
			if err == nil {
				conn.Close()
			}
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && err == nil:
				t.Fatal("connected")
			case c.want != "" && !strings.Contains(err.Error(), c.want):
				t.Fatalf("error %q, want it to hold %q", err, c.want)
			}
		})
	}
}

// Without bridge_require_ocsp a remote with no staple is fine, and TLS
// checks the remote's certificate against bridge_cafile.
func TestBridgeTLSVerifiesRemote(t *testing.T) {
	pki := newTestPKI(t)
	addr := tlsRemote(t, pki.leaf)
	other := newTestPKI(t)
	for _, c := range []struct {
		caFile string
		ok     bool
	}{{pki.caFile, true}, {other.caFile, false}} {
		_, plans, err := plansOf(t, "connection a\naddress "+addr+"\ntopic t\nbridge_cafile "+c.caFile+"\n")
		if err != nil {
			t.Fatal(err)
		}
		conn, err := plans[0].opts.Dialer(context.Background(), "tcp", addr)
		if err == nil {
			conn.Close()
		}
		if (err == nil) != c.ok {
			t.Errorf("CA %s: dial error %v, want success %v", c.caFile, err, c.ok)
		}
	}
}
