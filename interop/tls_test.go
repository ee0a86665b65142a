package interop

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/midge-mqtt/midge/internal/cli"
	"github.com/midge-mqtt/midge/internal/mosquittotest"
)

// makeCerts runs `midge cert` in dir: a CA, a server certificate for
// 127.0.0.1 and localhost, and client certificates for the names given.
func makeCerts(t *testing.T, dir string, clients ...string) {
	t.Helper()
	run := func(args ...string) {
		var out bytes.Buffer
		if status := cli.Cert(context.Background(), args, cli.Stdio{In: strings.NewReader(""), Out: &out, Err: &out}); status != 0 {
			t.Fatalf("midge cert %v: status %d\n%s", args, status, out.String())
		}
	}
	run("--dir", dir, "--host", "127.0.0.1", "--host", "localhost")
	for _, c := range clients {
		run("--dir", dir, "--client", c)
	}
}

// signedBy writes dir/NAME.crt and dir/NAME.key: a client certificate the
// CA in caDir signs, valid from notBefore to notAfter.
func signedBy(t *testing.T, caDir, dir, name string, notBefore, notAfter time.Time) {
	t.Helper()
	readPEM := func(path string) []byte {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(b)
		return block.Bytes
	}
	ca, err := x509.ParseCertificate(readPEM(filepath.Join(caDir, "ca.crt")))
	if err != nil {
		t.Fatal(err)
	}
	caKey, err := x509.ParsePKCS8PrivateKey(readPEM(filepath.Join(caDir, "ca.key")))
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: notBefore, NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	os.WriteFile(filepath.Join(dir, name+".crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(filepath.Join(dir, name+".key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
}

// Server-authenticated TLS with a password file, as Mosquitto's own
// security steps set it up: mosquitto_pub/mosquitto_sub with --cafile and
// -u/-P, and the Go paho client. A client trusting another CA and plain
// MQTT to the TLS port fail for that client alone, with a log line.
// Replaced certificates are taken on reload without dropping connections.
func TestTLSWithMosquittoTools(t *testing.T) {
	dir := t.TempDir()
	makeCerts(t, dir)
	other := t.TempDir()
	makeCerts(t, other)
	if out, err := tool(t, "mosquitto_passwd", "-c", "-b", filepath.Join(dir, "passwd"), "alice", "pw"); err != nil {
		t.Fatalf("mosquitto_passwd: %v\n%s", err, out)
	}
	b := startSecureBroker(t, dir, `listener {port} 127.0.0.1
cafile {dir}/ca.crt
certfile {dir}/server.crt
keyfile {dir}/server.key
allow_anonymous false
password_file {dir}/passwd
`)
	tlsArgs := []string{"-h", "127.0.0.1", "-p", b.port, "--cafile", filepath.Join(dir, "ca.crt"), "-u", "alice", "-P", "pw"}
	sub, exited := startSub(t, append(append([]string{}, tlsArgs...), "-t", "secure/#", "-v", "-q", "1")...)
	waitSubscribed(t, sub, func(payload string) {
		tool(t, "mosquitto_pub", append(append([]string{}, tlsArgs...), "-t", "secure/probe", "-m", payload)...)
	})

	// The Go paho client over TLS.
	pool := x509.NewCertPool()
	caPEM, _ := os.ReadFile(filepath.Join(dir, "ca.crt"))
	pool.AppendCertsFromPEM(caPEM)
	paho := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("ssl://127.0.0.1:" + b.port).SetClientID("paho-tls").
		SetUsername("alice").SetPassword("pw").SetTLSConfig(&tls.Config{RootCAs: pool}).SetConnectTimeout(5 * time.Second))
	if tok := paho.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("paho over TLS: %v", tok.Error())
	}
	if tok := paho.Publish("secure/paho", 1, false, "from paho"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("paho publish: %v", tok.Error())
	}
	paho.Disconnect(100)
	mosquittotest.WaitFor(t, 5*time.Second, "paho's message", func() bool {
		return strings.Contains(sub.String(), "secure/paho from paho")
	})

	// A client that trusts another CA refuses the server; the broker logs
	// the failed handshake.
	out, err := tool(t, "mosquitto_pub", "-h", "127.0.0.1", "-p", b.port, "--cafile", filepath.Join(other, "ca.crt"),
		"-u", "alice", "-P", "pw", "-t", "secure/x", "-m", "wrong CA")
	if err == nil {
		t.Fatalf("a client trusting another CA connected: %s", out)
	}
	// Plain MQTT to the TLS port.
	if out, err := tool(t, "mosquitto_pub", "-h", "127.0.0.1", "-p", b.port, "-u", "alice", "-P", "pw",
		"-t", "secure/x", "-m", "plain"); err == nil {
		t.Fatalf("plain MQTT was accepted on the TLS port: %s", out)
	}
	mosquittotest.WaitFor(t, 5*time.Second, "handshake failures logged", func() bool {
		return strings.Count(b.log.String(), "TLS handshake failed") >= 2
	})

	// New certificates from another CA, then a reload: new clients need
	// the new CA, and the subscriber stays connected.
	for _, f := range []string{"ca.crt", "server.crt", "server.key"} {
		data, _ := os.ReadFile(filepath.Join(other, f))
		os.WriteFile(filepath.Join(dir, f), data, 0o600)
	}
	b.doReload(t)
	if out, err := tool(t, "mosquitto_pub", "-h", "127.0.0.1", "-p", b.port, "--cafile", filepath.Join(other, "ca.crt"),
		"-u", "alice", "-P", "pw", "-t", "secure/after", "-m", "after reload", "-q", "1"); err != nil {
		t.Fatalf("the reloaded certificate is not served: %v\n%s", err, out)
	}
	mosquittotest.WaitFor(t, 5*time.Second, "message after reload", func() bool {
		return strings.Contains(sub.String(), "secure/after after reload")
	})
	select {
	case <-exited:
		t.Fatal("the reload dropped the subscriber")
	default:
	}
}

// Client certificates with require_certificate and use_identity_as_username:
// the certificate's common name is the user name the ACL sees; a client
// without a certificate, with an expired one, or with one from another CA
// is refused at the handshake.
func TestClientCertificatesWithMosquittoTools(t *testing.T) {
	dir := t.TempDir()
	makeCerts(t, dir, "sensor-1")
	other := t.TempDir()
	makeCerts(t, other, "sensor-1")
	signedBy(t, dir, dir, "expired", time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	os.WriteFile(filepath.Join(dir, "acl"), []byte("user sensor-1\ntopic readwrite sensors/sensor-1/#\n"), 0o600)
	b := startSecureBroker(t, dir, `listener {port} 127.0.0.1
cafile {dir}/ca.crt
certfile {dir}/server.crt
keyfile {dir}/server.key
require_certificate true
use_identity_as_username true
acl_file {dir}/acl
`)
	withCert := func(certDir, name string, extra ...string) []string {
		args := []string{"-h", "127.0.0.1", "-p", b.port, "--cafile", filepath.Join(dir, "ca.crt")}
		if name != "" {
			args = append(args, "--cert", filepath.Join(certDir, name+".crt"), "--key", filepath.Join(certDir, name+".key"))
		}
		return append(args, extra...)
	}
	sub, _ := startSub(t, withCert(dir, "sensor-1", "-t", "#", "-v")...)
	waitSubscribed(t, sub, func(payload string) {
		tool(t, "mosquitto_pub", withCert(dir, "sensor-1", "-t", "sensors/sensor-1/probe", "-m", payload)...)
	})
	// The ACL applies to the certificate's name: another subtree is not
	// writable.
	tool(t, "mosquitto_pub", withCert(dir, "sensor-1", "-t", "sensors/sensor-2/x", "-m", "not mine", "-q", "1")...)
	tool(t, "mosquitto_pub", withCert(dir, "sensor-1", "-t", "sensors/sensor-1/x", "-m", "mine", "-q", "1")...)
	mosquittotest.WaitFor(t, 5*time.Second, "own message", func() bool {
		return strings.Contains(sub.String(), "sensors/sensor-1/x mine")
	})
	if strings.Contains(sub.String(), "not mine") {
		t.Errorf("the ACL for the certificate's user was not applied:\n%s", sub.String())
	}
	for _, tc := range []struct {
		what string
		args []string
	}{
		{"no client certificate", withCert(dir, "", "-t", "sensors/sensor-1/y", "-m", "x")},
		{"an expired certificate", withCert(dir, "expired", "-t", "sensors/sensor-1/y", "-m", "x")},
		{"a certificate from another CA", withCert(other, "sensor-1", "-t", "sensors/sensor-1/y", "-m", "x")},
	} {
		before := strings.Count(b.log.String(), "TLS handshake failed")
		if out, err := tool(t, "mosquitto_pub", tc.args...); err == nil {
			t.Errorf("%s: accepted: %s", tc.what, out)
		}
		mosquittotest.WaitFor(t, 5*time.Second, tc.what+" logged", func() bool {
			return strings.Count(b.log.String(), "TLS handshake failed") > before
		})
	}
}
