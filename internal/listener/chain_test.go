package listener

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"testing"
)

// chainPKI is a root, an intermediate it signs, and a server certificate
// the intermediate signs, written to files.
type chainPKI struct {
	root, intermediate *testCA
	server             issued
	dir                string
	certFile, keyFile  string
}

func newChainPKI(t *testing.T) *chainPKI {
	t.Helper()
	p := &chainPKI{root: newCA(t, "Root CA"), dir: t.TempDir()}
	p.intermediate = p.root.intermediate(t, "Intermediate CA")
	p.server = p.intermediate.server(t, "server")
	p.certFile = writeFile(t, p.dir, "server.crt", p.server.certPEM)
	p.keyFile = writeFile(t, p.dir, "server.key", p.server.keyPEM)
	return p
}

// rootClient trusts p's root alone.
func (p *chainPKI) rootClient() *tls.Config {
	roots := x509.NewCertPool()
	roots.AddCert(p.root.cert)
	return &tls.Config{RootCAs: roots, ServerName: "localhost"}
}

// servedChain returns the common names of the chain the server sent.
func servedChain(c pair) []string {
	var names []string
	for _, cert := range c.client.ConnectionState().PeerCertificates {
		names = append(names, cert.Subject.CommonName)
	}
	return names
}

// A certfile with the leaf alone is sent with the issuers the cafile or
// capath hold, as Mosquitto 2.0 (OpenSSL's automatic chain) sends it, so
// a client that trusts only the root verifies the server. Measured with
// mosquitto 2.0.11 on OpenSSL 3.0.19 and `openssl s_client -showcerts`:
// with root and intermediate in cafile it sends leaf, intermediate and
// root; with the intermediate alone, leaf and intermediate.
func TestChainCompletedFromCA(t *testing.T) {
	p := newChainPKI(t)
	capath := t.TempDir()
	writeFile(t, capath, "a.pem", newCA(t, "unrelated").pem)
	writeFile(t, capath, "b.pem", p.intermediate.pem)
	writeFile(t, capath, "c.pem", p.root.pem)
	cases := []struct {
		name           string
		cafile, capath []byte
		want           []string
	}{
		{"root and intermediate in cafile", bytes.Join([][]byte{p.root.pem, p.intermediate.pem}, nil), nil,
			[]string{"server", "Intermediate CA", "Root CA"}},
		{"intermediate before root in cafile", bytes.Join([][]byte{p.intermediate.pem, p.root.pem}, nil), nil,
			[]string{"server", "Intermediate CA", "Root CA"}},
		{"intermediate alone in cafile", p.intermediate.pem, nil,
			[]string{"server", "Intermediate CA"}},
		{"capath", nil, []byte("capath"),
			[]string{"server", "Intermediate CA", "Root CA"}},
	}
	for _, tc := range cases {
		for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			t.Run(tc.name+"/"+tls.VersionName(version), func(t *testing.T) {
				o := TLSOptions{CertFile: p.certFile, KeyFile: p.keyFile}
				if tc.cafile != nil {
					o.CAFile = writeFile(t, t.TempDir(), "ca.crt", tc.cafile)
				}
				if tc.capath != nil {
					o.CAPath = capath
				}
				cfg := p.rootClient()
				cfg.MaxVersion = version
				c := connect(t, newTLS(t, o), cfg)
				if c.clientErr != nil || c.serverErr != nil {
					t.Fatalf("client trusting the root alone: client %v, server %v", c.clientErr, c.serverErr)
				}
				if got := servedChain(c); fmt.Sprint(got) != fmt.Sprint(tc.want) {
					t.Errorf("served chain %q, want %q", got, tc.want)
				}
			})
		}
	}
}

// A certfile that carries more than the leaf is sent as it is, as OpenSSL
// sends SSL_CTX_use_certificate_chain_file's extra certificates alone.
func TestChainInCertFileLeftAlone(t *testing.T) {
	p := newChainPKI(t)
	o := TLSOptions{
		CertFile: writeFile(t, p.dir, "chain.crt", bytes.Join([][]byte{p.server.certPEM, p.intermediate.pem}, nil)),
		KeyFile:  p.keyFile,
		CAFile:   writeFile(t, p.dir, "ca.crt", bytes.Join([][]byte{p.root.pem, p.intermediate.pem}, nil)),
	}
	c := connect(t, newTLS(t, o), p.rootClient())
	if c.clientErr != nil {
		t.Fatal(c.clientErr)
	}
	if got, want := servedChain(c), []string{"server", "Intermediate CA"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("served chain %q, want %q", got, want)
	}
}

// Without the leaf's issuer in the cafile the listener starts as before,
// sending the leaf alone, which a client trusting only the root refuses.
func TestChainIncompleteStartsAsBefore(t *testing.T) {
	p := newChainPKI(t)
	o := TLSOptions{CertFile: p.certFile, KeyFile: p.keyFile, CAFile: writeFile(t, p.dir, "ca.crt", p.root.pem)}
	c := connect(t, newTLS(t, o), p.rootClient())
	if c.clientErr == nil {
		t.Fatal("a client trusting the root verified a leaf sent without its intermediate")
	}
	var unknown x509.UnknownAuthorityError
	if !errors.As(c.clientErr, &unknown) {
		t.Errorf("client error %v, want an unknown authority", c.clientErr)
	}
}

// The cafile that completes the chain still checks client certificates,
// those the intermediate signs and those the root signs.
func TestChainCAFileVerifiesClients(t *testing.T) {
	p := newChainPKI(t)
	o := TLSOptions{
		CertFile: p.certFile, KeyFile: p.keyFile, RequireCertificate: true, UseIdentityAsUsername: true,
		CAFile: writeFile(t, p.dir, "ca.crt", bytes.Join([][]byte{p.root.pem, p.intermediate.pem}, nil)),
	}
	srv := newTLS(t, o)
	for _, issuer := range []*testCA{p.intermediate, p.root, newCA(t, "Other CA")} {
		name := issuer.cert.Subject.CommonName
		t.Run(name, func(t *testing.T) {
			client := issuer.client(t, pkix.Name{CommonName: "alice"})
			pair, err := tls.X509KeyPair(client.certPEM, client.keyPEM)
			if err != nil {
				t.Fatal(err)
			}
			cfg := p.rootClient()
			cfg.Certificates = []tls.Certificate{pair}
			c := connect(t, srv, cfg)
			if name == "Other CA" {
				if c.serverErr == nil {
					t.Error("server accepted a client of another CA")
				}
				return
			}
			if c.serverErr != nil || c.clientErr != nil {
				t.Fatalf("server %v, client %v", c.serverErr, c.clientErr)
			}
			if user, ok := srv.Username(c.server.ConnectionState()); !ok || user != "alice" {
				t.Errorf("Username = %q, %v; want alice", user, ok)
			}
		})
	}
}

// Reload builds the chain again from the files as they are then.
func TestChainRebuiltOnReload(t *testing.T) {
	p := newChainPKI(t)
	caFile := writeFile(t, p.dir, "ca.crt", bytes.Join([][]byte{p.root.pem, p.intermediate.pem}, nil))
	srv := newTLS(t, TLSOptions{CertFile: p.certFile, KeyFile: p.keyFile, CAFile: caFile})
	if got := servedChain(connect(t, srv, p.rootClient())); len(got) != 3 || got[1] != "Intermediate CA" {
		t.Fatalf("served chain %q before the reload", got)
	}
	second := p.root.intermediate(t, "Second Intermediate CA")
	server := second.server(t, "server two")
	writeFile(t, p.dir, "server.crt", server.certPEM)
	writeFile(t, p.dir, "server.key", server.keyPEM)
	writeFile(t, p.dir, "ca.crt", bytes.Join([][]byte{p.root.pem, second.pem}, nil))
	if err := srv.Reload(); err != nil {
		t.Fatal(err)
	}
	c := connect(t, srv, p.rootClient())
	if c.clientErr != nil {
		t.Fatal(c.clientErr)
	}
	if got, want := servedChain(c), []string{"server two", "Second Intermediate CA", "Root CA"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("served chain %q after the reload, want %q", got, want)
	}
}
