package cli

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/mosquittotest"
)

// makeCerts runs midge cert with args and fails the test unless it
// succeeds; it returns what it printed.
func makeCerts(t *testing.T, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if status := Cert(context.Background(), args, Stdio{Out: &out, Err: &errOut}); status != 0 {
		t.Fatalf("midge cert %v: status %d, stderr %q", args, status, errOut.String())
	}
	return out.String()
}

// readCert parses the PEM certificate at path.
func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("%s: no PEM certificate", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// verifyWith checks cert against the CA at caPath for usage.
func verifyWith(t *testing.T, caPath string, cert *x509.Certificate, usage x509.ExtKeyUsage, name string) {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(readCert(t, caPath))
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: name, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
		t.Errorf("%s does not verify: %v", cert.Subject, err)
	}
}

// opensslVerify runs `openssl verify` on certPath, if openssl is there.
func opensslVerify(t *testing.T, caPath, certPath string, extra ...string) {
	t.Helper()
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Log("openssl is not installed; skipping its check")
		return
	}
	args := append(append([]string{"verify", "-CAfile", caPath}, extra...), certPath)
	if out, err := exec.Command(openssl, args...).CombinedOutput(); err != nil || !strings.Contains(string(out), ": OK") {
		t.Errorf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Mode().Perm()
}

func TestCertServerAndClient(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	out := makeCerts(t, "--dir", dir, "--host", "broker.example", "--host", "127.0.0.1", "--host", "::1")
	for _, want := range []string{"listener 8883", "cafile " + filepath.Join(dir, "ca.crt"),
		"certfile " + filepath.Join(dir, "server.crt"), "keyfile " + filepath.Join(dir, "server.key")} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	caPath, serverPath := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "server.crt")
	if want := "server.crt: CN broker.example, DNS broker.example, IP 127.0.0.1, ::1\n"; !strings.Contains(out, want) {
		t.Errorf("output does not list the names written into the certificate (%q):\n%s", want, out)
	}
	server := readCert(t, serverPath)
	for _, name := range []string{"broker.example", "127.0.0.1", "::1"} {
		verifyWith(t, caPath, server, x509.ExtKeyUsageServerAuth, name)
	}
	if server.Subject.CommonName != "broker.example" || len(server.DNSNames) != 1 || len(server.IPAddresses) != 2 {
		t.Errorf("server certificate: CN %q, DNS %v, IP %v", server.Subject.CommonName, server.DNSNames, server.IPAddresses)
	}
	if days := server.NotAfter.Sub(server.NotBefore).Hours() / 24; days < 824 || days > 826 {
		t.Errorf("server certificate valid for %.1f days", days)
	}
	ca := readCert(t, caPath)
	if !ca.IsCA || ca.NotAfter.Before(time.Now().AddDate(9, 11, 0)) {
		t.Errorf("CA: IsCA %v, NotAfter %v", ca.IsCA, ca.NotAfter)
	}
	opensslVerify(t, caPath, serverPath, "-purpose", "sslserver")
	if runtime.GOOS != "windows" {
		// The folder and the certificates are for everyone, so that any
		// user's client can read ca.crt; the keys are the owner's.
		for path, want := range map[string]os.FileMode{dir: 0o755, caPath: 0o644, filepath.Join(dir, "ca.key"): 0o600,
			filepath.Join(dir, "server.key"): 0o600, serverPath: 0o644} {
			if got := mode(t, path); got != want {
				t.Errorf("%s: mode %v, want %v", path, got, want)
			}
		}
	}

	// Again: the key is there, so nothing is replaced without --force.
	caBefore, _ := os.ReadFile(caPath)
	keyBefore, _ := os.ReadFile(filepath.Join(dir, "server.key"))
	var stderr bytes.Buffer
	if status := Cert(context.Background(), []string{"--dir", dir}, Stdio{Out: &bytes.Buffer{}, Err: &stderr}); status != 1 || !strings.Contains(stderr.String(), "already exists; use --force") {
		t.Errorf("second run: status %d, stderr %q", status, stderr.String())
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "server.key")); !bytes.Equal(after, keyBefore) {
		t.Error("the server key changed without --force")
	}
	out = makeCerts(t, "--dir", dir, "--host", "localhost", "--force")
	if !strings.Contains(out, "Using the CA in "+caPath) {
		t.Errorf("--force run output:\n%s", out)
	}
	if after, _ := os.ReadFile(caPath); !bytes.Equal(after, caBefore) {
		t.Error("--force replaced the CA")
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "server.key")); bytes.Equal(after, keyBefore) {
		t.Error("--force kept the old server key")
	}
	verifyWith(t, caPath, readCert(t, serverPath), x509.ExtKeyUsageServerAuth, "localhost")

	// A client certificate from the same CA.
	out = makeCerts(t, "--dir", dir, "--client", "alice")
	if !strings.Contains(out, "require_certificate true") || !strings.Contains(out, "alice.crt: CN alice\n") {
		t.Errorf("client output lacks require_certificate or the certificate's name:\n%s", out)
	}
	clientPath := filepath.Join(dir, "alice.crt")
	client := readCert(t, clientPath)
	if client.Subject.CommonName != "alice" {
		t.Errorf("client CN %q", client.Subject.CommonName)
	}
	verifyWith(t, caPath, client, x509.ExtKeyUsageClientAuth, "")
	opensslVerify(t, caPath, clientPath, "-purpose", "sslclient")
	if runtime.GOOS != "windows" && mode(t, filepath.Join(dir, "alice.key")) != 0o600 {
		t.Error("client key is not 0600")
	}
	checkKeyLoadsInOpenSSL(t, filepath.Join(dir, "alice.key"))

	// A folder made private by hand is left so, with a note on what it
	// costs other users.
	if runtime.GOOS != "windows" {
		os.Chmod(dir, 0o700)
		out = makeCerts(t, "--dir", dir, "--client", "bob")
		if mode(t, dir) != 0o700 || !strings.Contains(out, "other users' clients cannot read ca.crt") {
			t.Errorf("a 0700 folder: mode %v, output:\n%s", mode(t, dir), out)
		}
	}
}

// checkKeyLoadsInOpenSSL reads a key file with openssl, as mosquitto does.
func checkKeyLoadsInOpenSSL(t *testing.T, path string) {
	t.Helper()
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		return
	}
	if out, err := exec.Command(openssl, "pkey", "-in", path, "-noout").CombinedOutput(); err != nil {
		t.Errorf("openssl pkey %s: %v\n%s", path, err, out)
	}
}

func TestCertDefaultHosts(t *testing.T) {
	dir := t.TempDir()
	makeCerts(t, "--dir", dir)
	server := readCert(t, filepath.Join(dir, "server.crt"))
	for _, name := range []string{"localhost", "127.0.0.1", "::1"} {
		verifyWith(t, filepath.Join(dir, "ca.crt"), server, x509.ExtKeyUsageServerAuth, name)
	}
	if host, err := os.Hostname(); err == nil && checkHost(host) == nil {
		verifyWith(t, filepath.Join(dir, "ca.crt"), server, x509.ExtKeyUsageServerAuth, host)
	}
}

func TestCertUsage(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		args   []string
		status int
		stderr string
	}{
		{[]string{"--help"}, 0, ""},
		{nil, 1, "--dir is required"},
		{[]string{"--dir", dir, "--client", "a", "--host", "h"}, 1, "leave it out with --client"},
		{[]string{"--dir", dir, "--client", "ca"}, 1, "would replace the ca's files"},
		{[]string{"--dir", dir, "--client", "../x"}, 1, "cannot hold /"},
		{[]string{"--dir", dir, "--host", "a b"}, 1, "neither an IP address nor a DNS name"},
		{[]string{"--dir", dir, "--bogus"}, 1, "flag provided but not defined"},
		{[]string{"--dir", dir, "extra"}, 1, `unexpected argument "extra"`},
	}
	for _, tc := range cases {
		var out, errOut bytes.Buffer
		status := Cert(context.Background(), tc.args, Stdio{Out: &out, Err: &errOut})
		if status != tc.status || !strings.Contains(errOut.String(), tc.stderr) {
			t.Errorf("%v: status %d, stderr %q; want %d, %q", tc.args, status, errOut.String(), tc.status, tc.stderr)
		}
		if tc.args != nil && tc.args[0] == "--help" && !strings.Contains(out.String(), "Usage: midge cert") {
			t.Errorf("--help printed %q", out.String())
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("usage errors left files behind: %v", entries)
	}
}

func TestCertReusesAnOpenSSLCA(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not installed")
	}
	dir := t.TempDir()
	caPath, keyPath := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	// What generate-CA.sh makes: an RSA CA in PKCS#8 or traditional PEM.
	if out, err := exec.Command(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
		"-subj", "/CN=openssl CA", "-keyout", keyPath, "-out", caPath).CombinedOutput(); err != nil {
		t.Fatalf("openssl req: %v\n%s", err, out)
	}
	makeCerts(t, "--dir", dir, "--host", "localhost")
	server := readCert(t, filepath.Join(dir, "server.crt"))
	verifyWith(t, caPath, server, x509.ExtKeyUsageServerAuth, "localhost")
	if ca := readCert(t, caPath); server.NotAfter.After(ca.NotAfter) {
		t.Errorf("server certificate outlives its CA: %v > %v", server.NotAfter, ca.NotAfter)
	}
	// A CA key without its certificate is an error, not a new CA.
	os.Remove(caPath)
	var stderr bytes.Buffer
	if status := Cert(context.Background(), []string{"--dir", dir, "--client", "bob"}, Stdio{Out: &bytes.Buffer{}, Err: &stderr}); status != 1 || !strings.Contains(stderr.String(), "ca.crt is missing") {
		t.Errorf("status %d, stderr %q", status, stderr.String())
	}
}

// startTLSMosquitto runs mosquitto with a TLS listener that uses the
// files midge cert wrote in dir, and returns the listener's port. extra
// lines go after the TLS listener's options.
func startTLSMosquitto(t *testing.T, dir, extra string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(mosquittotest.FreeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf("listener %s 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\n%s\n", port,
		filepath.Join(dir, "ca.crt"), filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"), extra)
	if os.Geteuid() == 0 {
		// Started as root, mosquitto switches to user mosquitto before it
		// reads the 0600 key, and then cannot; stay root in tests.
		config += "user root\n"
	}
	mosquittotest.Start(t, config)
	return port
}

// TestCertFilesWorkInMosquitto loads the files into Debian's mosquitto and
// publishes through it with mosquitto_pub, with and without a client
// certificate.
func TestCertFilesWorkInMosquitto(t *testing.T) {
	mosquittotest.NeedBinary(t, "mosquitto_pub")
	dir := filepath.Join(t.TempDir(), "tls")
	makeCerts(t, "--dir", dir, "--host", "localhost", "--host", "127.0.0.1")
	makeCerts(t, "--dir", dir, "--client", "alice")
	port := startTLSMosquitto(t, dir, "")
	ca := filepath.Join(dir, "ca.crt")
	if r := runMosquittoTool(t, "mosquitto_pub", "", "--cafile", ca, "-h", "127.0.0.1", "-p", port, "-t", "t", "-m", "hello"); r.status != 0 {
		t.Errorf("mosquitto_pub over TLS: status %d, stderr %q", r.status, r.stderr)
	}

	strict := startTLSMosquitto(t, dir, "require_certificate true\nuse_identity_as_username true")
	cert, key := filepath.Join(dir, "alice.crt"), filepath.Join(dir, "alice.key")
	if r := runMosquittoTool(t, "mosquitto_pub", "", "--cafile", ca, "--cert", cert, "--key", key,
		"-h", "localhost", "-p", strict, "-t", "t", "-m", "hello"); r.status != 0 {
		t.Errorf("mosquitto_pub with a client certificate: status %d, stderr %q", r.status, r.stderr)
	}
	if r := runMosquittoTool(t, "mosquitto_pub", "", "--cafile", ca, "-h", "localhost", "-p", strict, "-t", "t", "-m", "hello"); r.status == 0 {
		t.Error("mosquitto_pub without a client certificate was let in")
	}
}
