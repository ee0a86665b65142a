package cli

import (
	"crypto/tls"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/internal/listener"
	"github.com/midge-mqtt/midge/packets"
)

// subscribed connects a raw subscriber to filter on the broker at addr.
func subscribed(t *testing.T, addr, filter string) *brokertest.Conn {
	t.Helper()
	c := brokertest.Connect(t, addr, packets.V311, "watcher", true)
	c.Send(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: filter}}})
	c.Expect()
	return c
}

func expectMessage(t *testing.T, c *brokertest.Conn, topic, payload string) {
	t.Helper()
	p, ok := c.Expect().(*packets.Publish)
	if !ok || p.Topic != topic || string(p.Payload) != payload {
		t.Fatalf("got %+v, want %q on %s", p, payload, topic)
	}
}

// -L takes the host, port, user name, password and topic from one URL, as
// mosquitto_pub's and mosquitto_sub's do.
func TestURLOption(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b toolBroker) {
		host, port := b.start(t)
		at := net.JoinHostPort(host, port)
		sub := startSub(t, host, port, "-L", "mqtt://"+at+"/url/a", "-C", "1", "-v")
		if r := run(t, Pub, "", "-L", "mqtt://user:pw@"+at+"/url/a", "-m", "via URL"); r.status != 0 {
			t.Fatalf("pub -L: status %d, stderr %q", r.status, r.stderr)
		}
		if r := sub.wait(t); r.status != 0 || messages(r.stdout) != "url/a via URL\n" {
			t.Errorf("sub -L: status %d, stdout %q, stderr %q", r.status, r.stdout, r.stderr)
		}
	})
	pf, err := parsePub([]string{"-L", "mqtts://alice:secret@broker.example/a/b", "-m", "x"})
	if err != nil {
		t.Fatal(err)
	}
	opts := pf.options("id", &traceHandler{})
	if opts.Addr != "broker.example:8883" || opts.Username != "alice" || string(opts.Password) != "secret" || pf.topic != "a/b" || opts.Dialer == nil {
		t.Errorf("mqtts URL: addr %s, user %q, password %q, topic %q, TLS %v", opts.Addr, opts.Username, opts.Password, pf.topic, opts.Dialer != nil)
	}
	if r := run(t, Pub, "", "-L", "http://broker/a", "-m", "x"); r.status != 1 || !strings.Contains(r.stderr, "use mqtt://[username[:password]@]host[:port]/topic") {
		t.Errorf("-L http://: status %d, stderr %q", r.status, r.stderr)
	}
}

// --unix reaches a broker through a Unix socket.
func TestUnixSocketOption(t *testing.T) {
	b := brokertest.Start(t, broker.Options{})
	sock := filepath.Join(t.TempDir(), "midge.sock")
	ul, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	go b.Server.Serve(ul) // returns at the broker's shutdown
	watcher := subscribed(t, b.Addr, "unix/#")
	if r := run(t, Pub, "", "--unix", sock, "-t", "unix/a", "-m", "over a socket"); r.status != 0 {
		t.Fatalf("pub --unix: status %d, stderr %q", r.status, r.stderr)
	}
	expectMessage(t, watcher, "unix/a", "over a socket")
}

// -A connects from the address given: the broker sees it.
func TestBindAddressOption(t *testing.T) {
	logger, log := brokertest.NewLog(slog.LevelInfo)
	b := brokertest.Start(t, broker.Options{Logger: logger})
	host, port := splitAddr(t, b.Addr)
	pub(t, host, port, "", "-A", "127.0.0.2", "-t", "a", "-m", "x")
	for _, line := range log.Lines() {
		if strings.HasPrefix(line, "New connection from 127.0.0.2:") {
			return
		}
	}
	t.Errorf("the broker saw no connection from 127.0.0.2:\n%s", strings.Join(log.Lines(), "\n"))
}

// -h takes an IPv6 address in brackets, as a URL writes it, or bare.
func TestBracketedIPv6Host(t *testing.T) {
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	b := brokertest.Serve(t, broker.Options{}, l, broker.ListenerOptions{})
	watcher := subscribed(t, b.Addr, "v6/#")
	_, port := splitAddr(t, b.Addr)
	for _, host := range []string{"[::1]", "::1"} {
		pub(t, host, port, "", "-t", "v6/a", "-m", host)
		expectMessage(t, watcher, "v6/a", host)
	}
}

// --proxy goes through a SOCKS5 proxy, with its user name and password,
// and leaves the broker's name for the proxy to resolve (socks5h).
func TestProxyOption(t *testing.T) {
	b := brokertest.Start(t, broker.Options{})
	_, port := splitAddr(t, b.Addr)
	watcher := subscribed(t, b.Addr, "proxied/#")
	proxy := startSOCKS5(t, "pu", "pp")
	url := "socks5h://pu:pp@" + proxy.l.Addr().String()
	if r := run(t, Pub, "", "--proxy", url, "-h", "localhost", "-p", port, "-t", "proxied/a", "-m", "via SOCKS"); r.status != 0 {
		t.Fatalf("pub --proxy: status %d, stderr %q", r.status, r.stderr)
	}
	expectMessage(t, watcher, "proxied/a", "via SOCKS")
	if seen := proxy.targets(); len(seen) != 1 || seen[0] != "localhost:"+port {
		t.Errorf("the proxy was asked for %v, want localhost:%s", seen, port)
	}
	wrong := "socks5h://pu:wrong@" + proxy.l.Addr().String()
	if r := run(t, Pub, "", "--proxy", wrong, "-h", "localhost", "-p", port, "-t", "proxied/b", "-m", "x"); r.status == 0 {
		t.Error("pub through the proxy with a wrong password succeeded")
	}
	if r := run(t, Pub, "", "--proxy", "http://proxy:3128", "-t", "a", "-m", "x"); r.status != 1 || !strings.Contains(r.stderr, "socks5h://") {
		t.Errorf("--proxy http://: status %d, stderr %q", r.status, r.stderr)
	}
}

// --ciphers and --tls-alpn reach the TLS handshake: the server sees the
// suite chosen and the protocol offered.
func TestCiphersAndALPNOptions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	makeCerts(t, "--dir", dir, "--host", "127.0.0.1")
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var state tls.ConnectionState
	cfg := &tls.Config{Certificates: []tls.Certificate{pair}, MaxVersion: tls.VersionTLS12, NextProtos: []string{"mqtt"},
		VerifyConnection: func(cs tls.ConnectionState) error {
			mu.Lock()
			state = cs
			mu.Unlock()
			return nil
		}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := brokertest.Serve(t, broker.Options{}, tls.NewListener(l, cfg), broker.ListenerOptions{})
	host, port := splitAddr(t, b.Addr)
	ca := filepath.Join(dir, "ca.crt")
	pub(t, host, port, "", "--cafile", ca, "--ciphers", "ECDHE-ECDSA-AES256-GCM-SHA384", "--tls-alpn", "mqtt", "-t", "a", "-m", "x")
	mu.Lock()
	defer mu.Unlock()
	if state.CipherSuite != tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 || state.NegotiatedProtocol != "mqtt" {
		t.Errorf("handshake: suite %s, ALPN %q", tls.CipherSuiteName(state.CipherSuite), state.NegotiatedProtocol)
	}
	if r := run(t, Pub, "", "-h", host, "-p", port, "--cafile", ca, "--ciphers", "NO-SUCH-CIPHER", "-t", "a", "-m", "x"); r.status != 1 ||
		!strings.Contains(r.stderr, "NO-SUCH-CIPHER") {
		t.Errorf("unknown cipher: status %d, stderr %q", r.status, r.stderr)
	}
}

// A plain client on a WebSocket or TLS port says so at once, rather than
// reading the answer as MQTT packets until it times out.
func TestPlainClientOnAnotherProtocolsPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ws, err := listener.WebSocket(l, listener.WebSocketOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b := brokertest.Serve(t, broker.Options{}, ws, broker.ListenerOptions{})
	host, port := splitAddr(t, b.Addr)
	start := time.Now()
	r := run(t, Pub, "", "-h", host, "-p", port, "-t", "a", "-m", "x")
	if want := "Error: the server answered with HTTP: is this a WebSocket listener?"; r.status != 1 || !strings.Contains(r.stderr, want) {
		t.Errorf("pub to a WebSocket port: status %d, stderr %q, want %q", r.status, r.stderr, want)
	}
	if waited := time.Since(start); waited > 3*time.Second {
		t.Errorf("the error took %v", waited)
	}

	dir := filepath.Join(t.TempDir(), "tls")
	makeCerts(t, "--dir", dir, "--host", "127.0.0.1")
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"))
	if err != nil {
		t.Fatal(err)
	}
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mb := brokertest.Serve(t, broker.Options{}, tls.NewListener(tl, &tls.Config{Certificates: []tls.Certificate{pair}}), broker.ListenerOptions{})
	_, midgePort := splitAddr(t, mb.Addr)
	r = run(t, Pub, "", "-h", "127.0.0.1", "-p", midgePort, "-t", "a", "-m", "x")
	if want := "Error: the server seems to speak TLS: is this a TLS listener?"; r.status != 1 || !strings.Contains(r.stderr, want) {
		t.Errorf("pub to midge's TLS port: status %d, stderr %q, want %q", r.status, r.stderr, want)
	}
	// Debian's mosquitto resets the connection without a word: the error
	// says what to try.
	tlsPort := startTLSMosquitto(t, dir, "")
	r = run(t, Pub, "", "-h", "127.0.0.1", "-p", tlsPort, "-t", "a", "-m", "x")
	if want := "if this port takes TLS, connect with --cafile"; r.status != 1 || !strings.Contains(r.stderr, want) {
		t.Errorf("pub to Debian mosquitto's TLS port: status %d, stderr %q, want %q", r.status, r.stderr, want)
	}
}

// socks5 is a SOCKS5 proxy (RFC 1928) with user name and password
// authentication (RFC 1929), enough for --proxy: one CONNECT per
// connection, relayed, and the address asked for recorded.
type socks5 struct {
	l    net.Listener
	mu   sync.Mutex
	seen []string
}

func startSOCKS5(t *testing.T, user, password string) *socks5 {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &socks5{l: l}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.serve(nc, user, password)
			}()
		}
	}()
	return s
}

func (s *socks5) targets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

// read reads n bytes, or nil once the connection fails.
func read(r io.Reader, n int) []byte {
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil
	}
	return b
}

func (s *socks5) serve(nc net.Conn, user, password string) {
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	head := read(nc, 2)
	if head == nil || head[0] != 5 || read(nc, int(head[1])) == nil {
		return
	}
	nc.Write([]byte{5, 2}) // user name and password
	ver := read(nc, 2)
	if ver == nil {
		return
	}
	u := read(nc, int(ver[1]))
	plen := read(nc, 1)
	if u == nil || plen == nil {
		return
	}
	if p := read(nc, int(plen[0])); string(u) != user || string(p) != password {
		nc.Write([]byte{1, 1})
		return
	}
	nc.Write([]byte{1, 0})
	req := read(nc, 4)
	if req == nil || req[1] != 1 { // CONNECT
		return
	}
	var host string
	switch req[3] {
	case 1:
		host = net.IP(read(nc, 4)).String()
	case 3:
		n := read(nc, 1)
		if n == nil {
			return
		}
		host = string(read(nc, int(n[0])))
	default:
		return
	}
	port := read(nc, 2)
	if port == nil {
		return
	}
	target := net.JoinHostPort(host, strconv.Itoa(int(binary.BigEndian.Uint16(port))))
	s.mu.Lock()
	s.seen = append(s.seen, target)
	s.mu.Unlock()
	up, err := net.Dial("tcp", target)
	if err != nil {
		nc.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0})
		return
	}
	defer up.Close()
	nc.Write([]byte{5, 0, 0, 1, 127, 0, 0, 1, 0, 0})
	nc.SetDeadline(time.Time{})
	go func() {
		io.Copy(up, nc)
		up.Close()
	}()
	io.Copy(nc, up)
}
