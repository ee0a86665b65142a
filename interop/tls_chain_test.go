package interop

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/mosquittotest"
)

// makeChain writes, with the openssl command line, a root CA, an
// intermediate CA it signs and a server certificate for 127.0.0.1 and
// localhost that the intermediate signs: dir/root.crt, dir/intermediate.crt,
// dir/server.crt (the leaf alone), dir/server.key, and dir/bundle.crt (root
// and intermediate).
func makeChain(t *testing.T, dir string) {
	t.Helper()
	openssl := mosquittotest.NeedBinary(t, "openssl")
	run := func(args ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, openssl, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	key := []string{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"}
	run(append(append([]string{"req", "-x509"}, key...), "-keyout", "root.key", "-out", "root.crt", "-days", "2", "-subj", "/CN=midge test root")...)
	run(append(append([]string{"req"}, key...), "-keyout", "intermediate.key", "-out", "intermediate.csr", "-subj", "/CN=midge test intermediate")...)
	write("intermediate.ext", "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n")
	run("x509", "-req", "-in", "intermediate.csr", "-CA", "root.crt", "-CAkey", "root.key", "-CAcreateserial",
		"-days", "2", "-extfile", "intermediate.ext", "-out", "intermediate.crt")
	run(append(append([]string{"req"}, key...), "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=midge test server")...)
	write("server.ext", "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
	run("x509", "-req", "-in", "server.csr", "-CA", "intermediate.crt", "-CAkey", "intermediate.key", "-CAcreateserial",
		"-days", "2", "-extfile", "server.ext", "-out", "server.crt")
	root, _ := os.ReadFile(filepath.Join(dir, "root.crt"))
	intermediate, _ := os.ReadFile(filepath.Join(dir, "intermediate.crt"))
	write("bundle.crt", string(root)+string(intermediate))
}

// A TLS listener whose certfile holds only its leaf, signed by an
// intermediate that the cafile bundle holds with the root, sends the
// chain as Mosquitto does: mosquitto_pub and mosquitto_sub trusting only
// the root connect, and so does a Go client to a wss listener with the
// same files.
func TestTLSChainFromCAFileWithMosquittoTools(t *testing.T) {
	dir := t.TempDir()
	makeChain(t, dir)
	_, wssPort, _ := net.SplitHostPort(mosquittotest.FreeAddr(t))
	b := startSecureBroker(t, dir, fmt.Sprintf(`per_listener_settings false
allow_anonymous true
listener {port} 127.0.0.1
certfile {dir}/server.crt
keyfile {dir}/server.key
cafile {dir}/bundle.crt
listener %s 127.0.0.1
protocol websockets
certfile {dir}/server.crt
keyfile {dir}/server.key
cafile {dir}/bundle.crt
`, wssPort))
	args := []string{"-h", "127.0.0.1", "-p", b.port, "--cafile", filepath.Join(dir, "root.crt"), "-t", "t"}
	if out, err := tool(t, "mosquitto_pub", append(append([]string{}, args...), "-m", "through the chain", "-r", "-q", "1")...); err != nil {
		t.Fatalf("mosquitto_pub --cafile root.crt: %v\n%s", err, out)
	}
	out, err := tool(t, "mosquitto_sub", append(append([]string{}, args...), "-C", "1", "-W", "10")...)
	if err != nil || strings.TrimSpace(out) != "through the chain" {
		t.Fatalf("mosquitto_sub --cafile root.crt: %v\n%s", err, out)
	}

	// The wss listener serves the same chain.
	rootPEM, _ := os.ReadFile(filepath.Join(dir, "root.crt"))
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(rootPEM)
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", "127.0.0.1:"+wssPort,
		&tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("wss handshake trusting the root alone: %v", err)
	}
	defer conn.Close()
	var names []string
	for _, c := range conn.ConnectionState().PeerCertificates {
		names = append(names, c.Subject.CommonName)
	}
	if want := "[midge test server midge test intermediate midge test root]"; fmt.Sprint(names) != want {
		t.Errorf("wss served %v, want %s", names, want)
	}
}
