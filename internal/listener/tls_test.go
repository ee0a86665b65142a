package listener

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// handshakeTimeout bounds every handshake in these tests.
const handshakeTimeout = 5 * time.Second

// pair is a client and a server TLS connection over loopback TCP.
type pair struct {
	client, server *tls.Conn
	clientErr      error // the client's handshake
	serverErr      error // the server's Handshake
}

// connect dials srv over 127.0.0.1 with clientCfg and runs both
// handshakes; the connections are closed when the test ends.
func connect(t *testing.T, srv *TLS, clientCfg *tls.Config) pair {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	type accepted struct {
		conn *tls.Conn
		err  error
	}
	done := make(chan accepted, 1)
	go func() {
		nc, err := l.Accept()
		if err != nil {
			done <- accepted{err: err}
			return
		}
		conn := srv.Server(nc)
		done <- accepted{conn, Handshake(context.Background(), conn, handshakeTimeout)}
	}()
	nc, err := net.DialTimeout("tcp", l.Addr().String(), handshakeTimeout)
	if err != nil {
		t.Fatal(err)
	}
	p := pair{client: tls.Client(nc, clientCfg)}
	t.Cleanup(func() { p.client.Close() })
	p.client.SetDeadline(time.Now().Add(handshakeTimeout))
	p.clientErr = p.client.Handshake()
	a := <-done
	p.server, p.serverErr = a.conn, a.err
	if p.server != nil {
		t.Cleanup(func() { p.server.Close() })
	}
	if p.clientErr == nil && p.serverErr != nil {
		// A TLS 1.3 client finishes before the server has checked its
		// certificate: a read sees the server's verdict.
		_, p.clientErr = p.client.Read(make([]byte, 1))
	}
	p.client.SetDeadline(time.Time{})
	return p
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// pki is a CA with a server certificate, written to files.
type pki struct {
	ca                *testCA
	dir               string
	caFile            string
	certFile, keyFile string
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	p := &pki{ca: newCA(t, "Test CA"), dir: t.TempDir()}
	srv := p.ca.server(t, "server one")
	p.caFile = writeFile(t, p.dir, "ca.crt", p.ca.pem)
	p.certFile = writeFile(t, p.dir, "server.crt", srv.certPEM)
	p.keyFile = writeFile(t, p.dir, "server.key", srv.keyPEM)
	return p
}

func (p *pki) options() TLSOptions {
	return TLSOptions{CAFile: p.caFile, CertFile: p.certFile, KeyFile: p.keyFile}
}

// clientConfig trusts p's CA and presents cert, if any.
func (p *pki) clientConfig(cert *issued) *tls.Config {
	roots := x509.NewCertPool()
	roots.AddCert(p.ca.cert)
	cfg := &tls.Config{RootCAs: roots, ServerName: "localhost"}
	if cert != nil {
		pair, err := tls.X509KeyPair(cert.certPEM, cert.keyPEM)
		if err != nil {
			panic(err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg
}

func newTLS(t *testing.T, o TLSOptions) *TLS {
	t.Helper()
	srv, err := NewTLS(o)
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

func TestClientCertificates(t *testing.T) {
	p := newPKI(t)
	other := newCA(t, "Other CA")
	good := p.ca.client(t, pkix.Name{CommonName: "alice", Organization: []string{"Example"}})
	revoked := p.ca.client(t, pkix.Name{CommonName: "mallory"})
	expired := p.ca.issue(t, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "old"},
		NotBefore:   time.Now().Add(-48 * time.Hour),
		NotAfter:    time.Now().Add(-24 * time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	stranger := other.client(t, pkix.Name{CommonName: "alice"})
	o := p.options()
	o.RequireCertificate = true
	o.UseIdentityAsUsername = true
	o.CRLFile = writeFile(t, p.dir, "ca.crl", p.ca.crl(t, time.Now().Add(24*time.Hour), revoked.cert))
	srv := newTLS(t, o)

	cases := []struct {
		name   string
		cert   *issued
		accept bool
	}{
		{"valid", &good, true},
		{"none", nil, false},
		{"expired", &expired, false},
		{"other CA", &stranger, false},
		{"revoked", &revoked, false},
	}
	for _, tc := range cases {
		for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			t.Run(tc.name+"/"+tls.VersionName(version), func(t *testing.T) {
				cfg := p.clientConfig(tc.cert)
				cfg.MaxVersion = version
				c := connect(t, srv, cfg)
				if tc.accept {
					if c.serverErr != nil || c.clientErr != nil {
						t.Fatalf("refused: server %v, client %v", c.serverErr, c.clientErr)
					}
					if name, ok := srv.Username(c.server.ConnectionState()); !ok || name != "alice" {
						t.Errorf("Username = %q, %v; want alice", name, ok)
					}
					return
				}
				if c.serverErr == nil {
					t.Fatal("server accepted the client")
				}
				if c.clientErr == nil {
					t.Error("client saw no failure")
				}
			})
		}
	}
	t.Run("revoked error", func(t *testing.T) {
		c := connect(t, srv, p.clientConfig(&revoked))
		if c.serverErr == nil || !strings.Contains(c.serverErr.Error(), "revoked") {
			t.Errorf("server error %v, want one that says revoked", c.serverErr)
		}
	})
}

func TestCRLFromAnotherIssuerRefusesAll(t *testing.T) {
	// With a crlfile, a certificate whose issuer has no CRL there is
	// refused, as OpenSSL's X509_V_FLAG_CRL_CHECK does.
	p := newPKI(t)
	other := newCA(t, "Other CA")
	client := p.ca.client(t, pkix.Name{CommonName: "alice"})
	o := p.options()
	o.RequireCertificate = true
	o.CRLFile = writeFile(t, p.dir, "other.crl", other.crl(t, time.Now().Add(time.Hour)))
	c := connect(t, newTLS(t, o), p.clientConfig(&client))
	if c.serverErr == nil || !strings.Contains(c.serverErr.Error(), "no CRL") {
		t.Errorf("server error %v, want no CRL", c.serverErr)
	}
	// An expired CRL of the right issuer is refused too.
	o.CRLFile = writeFile(t, p.dir, "expired.crl", p.ca.crl(t, time.Now().Add(-time.Minute)))
	c = connect(t, newTLS(t, o), p.clientConfig(&client))
	if c.serverErr == nil || !strings.Contains(c.serverErr.Error(), "expired") {
		t.Errorf("server error %v, want expired", c.serverErr)
	}
	// A DER CRL loads as well as PEM.
	block, _ := pem.Decode(p.ca.crl(t, time.Now().Add(time.Hour)))
	o.CRLFile = writeFile(t, p.dir, "good.crl.der", block.Bytes)
	if c := connect(t, newTLS(t, o), p.clientConfig(&client)); c.serverErr != nil {
		t.Errorf("DER CRL: %v", c.serverErr)
	}
}

func TestNoCertificateRequestedByDefault(t *testing.T) {
	// require_certificate false: Mosquitto's SSL_VERIFY_NONE sends no
	// CertificateRequest, so a client's certificate is never seen.
	p := newPKI(t)
	client := p.ca.client(t, pkix.Name{CommonName: "alice"})
	o := p.options()
	o.UseIdentityAsUsername = true
	srv := newTLS(t, o)
	c := connect(t, srv, p.clientConfig(&client))
	if c.serverErr != nil || c.clientErr != nil {
		t.Fatalf("server %v, client %v", c.serverErr, c.clientErr)
	}
	cs := c.server.ConnectionState()
	if len(cs.PeerCertificates) != 0 {
		t.Error("the client sent a certificate nobody asked for")
	}
	if name, ok := srv.Username(cs); ok {
		t.Errorf("Username = %q without a certificate", name)
	}
	// A client without any certificate is welcome too.
	if c := connect(t, srv, p.clientConfig(nil)); c.serverErr != nil {
		t.Error(c.serverErr)
	}
}

func TestCAPath(t *testing.T) {
	p := newPKI(t)
	dir := t.TempDir()
	writeFile(t, dir, "a.pem", newCA(t, "unrelated").pem)
	writeFile(t, dir, "b.pem", p.ca.pem)
	writeFile(t, dir, "README", []byte("not a certificate"))
	client := p.ca.client(t, pkix.Name{CommonName: "alice"})
	o := p.options()
	o.CAFile, o.CAPath, o.RequireCertificate = "", dir, true
	if c := connect(t, newTLS(t, o), p.clientConfig(&client)); c.serverErr != nil {
		t.Error(c.serverErr)
	}
}

func TestReloadKeepsConnections(t *testing.T) {
	p := newPKI(t)
	srv := newTLS(t, p.options())
	first := connect(t, srv, p.clientConfig(nil))
	if first.clientErr != nil || first.serverErr != nil {
		t.Fatal(first.clientErr, first.serverErr)
	}
	next := p.ca.server(t, "server two")
	writeFile(t, p.dir, "server.crt", next.certPEM)
	writeFile(t, p.dir, "server.key", next.keyPEM)
	if err := srv.Reload(); err != nil {
		t.Fatal(err)
	}
	second := connect(t, srv, p.clientConfig(nil))
	if second.clientErr != nil {
		t.Fatal(second.clientErr)
	}
	if cn := second.client.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "server two" {
		t.Errorf("after Reload the server shows %q, want server two", cn)
	}
	if cn := first.client.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "server one" {
		t.Errorf("first connection's certificate %q", cn)
	}
	exchange(t, first)

	// A failed reload keeps what was loaded and says why.
	writeFile(t, p.dir, "server.key", []byte("garbage"))
	err := srv.Reload()
	if err == nil || !strings.Contains(err.Error(), "keyfile "+p.keyFile) {
		t.Errorf("Reload with a bad key: %v", err)
	}
	third := connect(t, srv, p.clientConfig(nil))
	if third.clientErr != nil {
		t.Fatal(third.clientErr)
	}
	if cn := third.client.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "server two" {
		t.Errorf("after a failed Reload the server shows %q", cn)
	}
	exchange(t, first)
}

// exchange checks that bytes still flow both ways over c.
func exchange(t *testing.T, c pair) {
	t.Helper()
	c.client.SetDeadline(time.Now().Add(handshakeTimeout))
	c.server.SetDeadline(time.Now().Add(handshakeTimeout))
	for _, dir := range []struct{ from, to *tls.Conn }{{c.client, c.server}, {c.server, c.client}} {
		if _, err := dir.from.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4)
		if _, err := io.ReadFull(dir.to, buf); err != nil || string(buf) != "ping" {
			t.Fatalf("read %q, %v", buf, err)
		}
	}
}

func TestTLSVersionIsAMinimum(t *testing.T) {
	p := newPKI(t)
	o := p.options()
	o.Version = "tlsv1.3"
	srv := newTLS(t, o)
	cfg := p.clientConfig(nil)
	cfg.MaxVersion = tls.VersionTLS12
	if c := connect(t, srv, cfg); c.serverErr == nil {
		t.Error("tls_version tlsv1.3 accepted a TLS 1.2 client")
	}
	if c := connect(t, srv, p.clientConfig(nil)); c.serverErr != nil {
		t.Error(c.serverErr)
	}
	o.Version = "tlsv1.2"
	c := connect(t, newTLS(t, o), p.clientConfig(nil))
	if c.serverErr != nil || c.server.ConnectionState().Version != tls.VersionTLS13 {
		t.Errorf("tls_version tlsv1.2 should still allow TLS 1.3: %v", c.serverErr)
	}
}

func TestCiphersRestrictTLS12(t *testing.T) {
	p := newPKI(t)
	o := p.options()
	o.Ciphers = "ECDHE-ECDSA-AES256-GCM-SHA384:!aNULL:!MD5"
	srv := newTLS(t, o)
	cfg := p.clientConfig(nil)
	cfg.MaxVersion = tls.VersionTLS12
	c := connect(t, srv, cfg)
	if c.serverErr != nil {
		t.Fatal(c.serverErr)
	}
	if got := c.server.ConnectionState().CipherSuite; got != tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 {
		t.Errorf("negotiated %s", tls.CipherSuiteName(got))
	}
	cfg.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}
	if c := connect(t, srv, cfg); c.serverErr == nil {
		t.Error("a suite outside the list was negotiated")
	}
}

func TestCipherLists(t *testing.T) {
	cases := []struct {
		list string
		want []uint16 // nil: an error
	}{
		{"ECDHE-RSA-AES128-GCM-SHA256", []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}},
		{"ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305", []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}},
		{"ECDHE+AESGCM+aECDSA", []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}},
		{"ECDHE+CHACHA20:!aRSA", []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}},
		{"AESGCM:-kRSA:-aRSA", []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}},
		{"!RC4:RC4-SHA:AES128-SHA", []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA}},
		{"HIGH:!aNULL:!MD5:@STRENGTH", nil}, // checked below: not empty
		{"ECDHE-RSA-AES128-GCM-SHA257", nil},
		{"DHE-RSA-AES128-GCM-SHA256", nil},
		{"!aNULL", nil},
		{"aNULL", nil},
	}
	for _, tc := range cases {
		got, err := CipherSuites(tc.list)
		if tc.list == "HIGH:!aNULL:!MD5:@STRENGTH" {
			if err != nil || len(got) == 0 {
				t.Errorf("%s: %v, %v", tc.list, got, err)
			}
			continue
		}
		if tc.want == nil {
			if err == nil {
				t.Errorf("%s: got %v, want an error", tc.list, got)
			}
			continue
		}
		if err != nil || !equalIDs(got, tc.want) {
			t.Errorf("%s: got %v, %v; want %v", tc.list, got, err, tc.want)
		}
	}
	_, err := CipherSuites("BOGUS")
	if err == nil || !strings.Contains(err.Error(), "ECDHE-RSA-AES128-GCM-SHA256") || !strings.Contains(err.Error(), "HIGH") {
		t.Errorf("an unknown name's error should list what is accepted: %v", err)
	}
}

func equalIDs(a, b []uint16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestOptionErrors(t *testing.T) {
	p := newPKI(t)
	other := p.ca.server(t, "other")
	notPEM := writeFile(t, p.dir, "notpem", []byte("hello"))
	otherKey := writeFile(t, p.dir, "other.key", other.keyPEM)
	missing := p.dir + "/missing"
	cases := []struct {
		name string
		edit func(*TLSOptions)
		want string
		// option is the OptionError's, so that the caller names its line.
		option string
	}{
		{"no certfile", func(o *TLSOptions) { o.CertFile = "" }, "certfile and keyfile", "keyfile"},
		{"missing certfile", func(o *TLSOptions) { o.CertFile = missing }, "certfile " + missing + ": no such file or directory", "certfile"},
		{"certfile without certificate", func(o *TLSOptions) { o.CertFile = notPEM }, "certfile " + notPEM + ": no certificate found", "certfile"},
		{"keyfile without key", func(o *TLSOptions) { o.KeyFile = notPEM }, "keyfile " + notPEM + ": no private key found", "keyfile"},
		{"mismatched key", func(o *TLSOptions) { o.KeyFile = otherKey }, "keyfile " + otherKey + " does not match certfile " + p.certFile, "keyfile"},
		{"missing cafile", func(o *TLSOptions) { o.RequireCertificate, o.CAFile = true, missing }, "cafile " + missing, "cafile"},
		{"missing cafile, no client certificates", func(o *TLSOptions) { o.CAFile = missing }, "cafile " + missing, "cafile"},
		{"cafile without certificate", func(o *TLSOptions) { o.RequireCertificate, o.CAFile = true, notPEM }, "cafile " + notPEM + ": no PEM certificate found", "cafile"},
		{"missing capath", func(o *TLSOptions) { o.RequireCertificate, o.CAFile, o.CAPath = true, "", missing }, "capath " + missing, "capath"},
		{"require without CA", func(o *TLSOptions) { o.RequireCertificate, o.CAFile = true, "" }, "require_certificate true needs cafile or capath", "require_certificate"},
		{"bad version", func(o *TLSOptions) { o.Version = "tlsv1.0" }, `tls_version: unsupported TLS version "tlsv1.0"`, "tls_version"},
		{"bad ciphers", func(o *TLSOptions) { o.Ciphers = "FOO" }, `ciphers "FOO": unknown or unsupported cipher "FOO"`, "ciphers"},
		{"bad crlfile", func(o *TLSOptions) { o.CRLFile = notPEM }, "crlfile " + notPEM, "crlfile"},
		{"missing crlfile", func(o *TLSOptions) { o.CRLFile = missing }, "crlfile " + missing, "crlfile"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := p.options()
			tc.edit(&o)
			_, err := NewTLS(o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
			var oe *OptionError
			if !errors.As(err, &oe) || oe.Option != tc.option {
				t.Errorf("%v: not an OptionError for %s", err, tc.option)
			}
		})
	}
	t.Run("encrypted key", func(t *testing.T) {
		o := p.options()
		o.KeyFile = writeFile(t, p.dir, "enc.key", []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"))
		if _, err := NewTLS(o); err == nil || !strings.Contains(err.Error(), "encrypted keys are not supported") {
			t.Errorf("got %v", err)
		}
	})
}

func TestCiphers13Warns(t *testing.T) {
	p := newPKI(t)
	o := p.options()
	if w := newTLS(t, o).Warnings(); len(w) != 0 {
		t.Errorf("warnings without ciphers_tls1.3: %q", w)
	}
	o.Ciphers13 = "TLS_AES_256_GCM_SHA384"
	w := newTLS(t, o).Warnings()
	if len(w) != 1 || !strings.Contains(w[0], "ciphers_tls1.3") {
		t.Errorf("warnings %q", w)
	}
}

func TestHandshakeTimeout(t *testing.T) {
	p := newPKI(t)
	srv := newTLS(t, p.options())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	idle, err := net.Dial("tcp", l.Addr().String()) // never says hello
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	nc, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = Handshake(context.Background(), srv.Server(nc), 100*time.Millisecond)
	if err == nil || !isTimeout(err) {
		t.Fatalf("Handshake: %v, want a timeout", err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("Handshake took %v", elapsed)
	}
	// The connection was closed: the idle client sees EOF.
	idle.SetReadDeadline(time.Now().Add(handshakeTimeout))
	if _, err := idle.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("idle client read: %v, want EOF", err)
	}

	// Cancelling ctx ends a handshake too.
	idle2, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle2.Close()
	nc2, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Handshake(ctx, srv.Server(nc2), time.Minute); err == nil {
		t.Error("Handshake with a cancelled ctx succeeded")
	}
}

func TestUsernameSubject(t *testing.T) {
	p := newPKI(t)
	client := p.ca.client(t, pkix.Name{
		CommonName:         "test client",
		OrganizationalUnit: []string{"Production"},
		Organization:       []string{"Server"},
		Locality:           []string{"Nottingham"},
		Province:           []string{"Nottinghamshire"},
		Country:            []string{"GB"},
	})
	o := p.options()
	o.RequireCertificate, o.UseSubjectAsUsername = true, true
	srv := newTLS(t, o)
	c := connect(t, srv, p.clientConfig(&client))
	if c.serverErr != nil {
		t.Fatal(c.serverErr)
	}
	// The man page's example, in the man page's order.
	want := "CN=test client,OU=Production,O=Server,L=Nottingham,ST=Nottinghamshire,C=GB"
	if name, ok := srv.Username(c.server.ConnectionState()); !ok || name != want {
		t.Errorf("Username = %q, %v; want %q", name, ok, want)
	}
	// Identity wins when both are set.
	o.UseIdentityAsUsername = true
	srv = newTLS(t, o)
	c = connect(t, srv, p.clientConfig(&client))
	if name, ok := srv.Username(c.server.ConnectionState()); !ok || name != "test client" {
		t.Errorf("Username with both options = %q, %v", name, ok)
	}
	// Neither set: no username from the certificate.
	o.UseIdentityAsUsername, o.UseSubjectAsUsername = false, false
	srv = newTLS(t, o)
	c = connect(t, srv, p.clientConfig(&client))
	if name, ok := srv.Username(c.server.ConnectionState()); ok {
		t.Errorf("Username without the options = %q", name)
	}
}

func TestCommonNameFirstAndValid(t *testing.T) {
	ca := newCA(t, "CA")
	two := ca.client(t, pkix.Name{ExtraNames: []pkix.AttributeTypeAndValue{
		{Type: oidCommonName, Value: "first"}, {Type: oidCommonName, Value: "second"},
	}})
	if cn, ok := CommonName(two.cert); !ok || cn != "first" {
		t.Errorf("CommonName = %q, %v; want the first, as Mosquitto takes", cn, ok)
	}
	none := ca.client(t, pkix.Name{Organization: []string{"no CN"}})
	if cn, ok := CommonName(none.cert); ok {
		t.Errorf("CommonName without a CN = %q", cn)
	}
}

func TestReloadedCRLAppliesToResumedSessions(t *testing.T) {
	p := newPKI(t)
	client := p.ca.client(t, pkix.Name{CommonName: "alice"})
	o := p.options()
	o.RequireCertificate = true
	o.CRLFile = writeFile(t, p.dir, "ca.crl", p.ca.crl(t, time.Now().Add(time.Hour)))
	srv := newTLS(t, o)
	cfg := p.clientConfig(&client)
	cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	first := connect(t, srv, cfg)
	if first.serverErr != nil {
		t.Fatal(first.serverErr)
	}
	exchange(t, first) // the client reads, and so takes its session ticket
	c := connect(t, srv, cfg)
	if c.serverErr != nil || !c.server.ConnectionState().DidResume {
		t.Fatalf("second connection: %v, resumed %v", c.serverErr, c.server.ConnectionState().DidResume)
	}
	writeFile(t, p.dir, "ca.crl", p.ca.crl(t, time.Now().Add(time.Hour), client.cert))
	if err := srv.Reload(); err != nil {
		t.Fatal(err)
	}
	if c := connect(t, srv, cfg); c.serverErr == nil {
		t.Errorf("revoked client let in after Reload (resumed %v)", c.server.ConnectionState().DidResume)
	}
}
