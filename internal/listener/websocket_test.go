package listener

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/gorilla/websocket"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/packets"
)

// wsTimeout bounds every wait in these tests.
const wsTimeout = 5 * time.Second

// wsTransport is ws:// or wss:// to a broker started for one test.
type wsTransport struct {
	name   string
	scheme string
	server *tls.Config // nil for ws
	client *tls.Config // nil for ws
}

// wsTransports returns ws and wss, the latter with a fresh CA.
func wsTransports(t *testing.T) []wsTransport {
	ca := newCA(t, "midge test CA")
	cert := ca.server(t, "localhost")
	dir := t.TempDir()
	srv, err := NewTLS(TLSOptions{
		CertFile: writeFile(t, dir, "server.crt", cert.certPEM),
		KeyFile:  writeFile(t, dir, "server.key", cert.keyPEM),
	})
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	return []wsTransport{
		{name: "ws", scheme: "ws"},
		{name: "wss", scheme: "wss", server: srv.Config(), client: &tls.Config{RootCAs: roots, ServerName: "localhost"}},
	}
}

// listenWS opens a WebSocket listener on loopback, over TLS when
// serverTLS is set; it is closed when the test ends.
func listenWS(t *testing.T, opts WebSocketOptions, serverTLS *tls.Config) net.Listener {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if serverTLS != nil {
		inner = tls.NewListener(inner, serverTLS)
	}
	l, err := WebSocket(inner, opts)
	if err != nil {
		inner.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// startWSBroker runs an in-process broker behind a WebSocket listener and
// returns its address.
func startWSBroker(t *testing.T, serverTLS *tls.Config) string {
	t.Helper()
	l := listenWS(t, WebSocketOptions{}, serverTLS)
	return brokertest.Serve(t, broker.Options{}, l, broker.ListenerOptions{}).Addr
}

// pahoOverWS connects a paho client to url; messages go to the returned
// channel. It disconnects when the test ends.
func pahoOverWS(t *testing.T, url string, clientTLS *tls.Config, id string) (mqtt.Client, chan mqtt.Message) {
	t.Helper()
	messages := make(chan mqtt.Message, 100)
	opts := mqtt.NewClientOptions().AddBroker(url).SetClientID(id).SetTLSConfig(clientTLS).
		SetAutoReconnect(false).SetConnectTimeout(wsTimeout).SetWriteTimeout(wsTimeout).
		SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) { messages <- m })
	c := mqtt.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(wsTimeout) || tok.Error() != nil {
		t.Fatalf("paho connect to %s: %v", url, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c, messages
}

func waitToken(t *testing.T, what string, tok mqtt.Token) {
	t.Helper()
	if !tok.WaitTimeout(wsTimeout) {
		t.Fatalf("%s: no answer in %v", what, wsTimeout)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func expectMessage(t *testing.T, messages <-chan mqtt.Message, topic string, qos byte, payload []byte) {
	t.Helper()
	select {
	case m := <-messages:
		if m.Topic() != topic || m.Qos() != qos || !bytes.Equal(m.Payload(), payload) {
			t.Fatalf("received %s QoS %d (%d bytes), want %s QoS %d (%d bytes)",
				m.Topic(), m.Qos(), len(m.Payload()), topic, qos, len(payload))
		}
	case <-time.After(wsTimeout):
		t.Fatalf("no message on %s in %v", topic, wsTimeout)
	}
}

// TestWebSocketPubSub runs paho clients over ws and wss: QoS 0, 1 and 2,
// and messages far larger than a WebSocket frame buffer.
func TestWebSocketPubSub(t *testing.T) {
	for _, tr := range wsTransports(t) {
		t.Run(tr.name, func(t *testing.T) {
			addr := startWSBroker(t, tr.server)
			url := tr.scheme + "://" + addr + "/mqtt"
			sub, messages := pahoOverWS(t, url, tr.client, "ws-sub-"+tr.name)
			pub, _ := pahoOverWS(t, url, tr.client, "ws-pub-"+tr.name)
			waitToken(t, "subscribe", sub.Subscribe("ws/#", 2, nil))
			for qos := byte(0); qos <= 2; qos++ {
				topic := fmt.Sprintf("ws/qos%d", qos)
				payload := []byte("hello at QoS " + fmt.Sprint(qos))
				waitToken(t, "publish", pub.Publish(topic, qos, false, payload))
				expectMessage(t, messages, topic, qos, payload)
			}
			large := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
			waitToken(t, "publish 1 MiB", pub.Publish("ws/large", 1, false, large))
			expectMessage(t, messages, "ws/large", 1, large)
		})
	}
}

// dialWS opens a raw WebSocket connection with the mqtt subprotocol and
// wraps it as the broker would see it, for packet scripts.
func dialWS(t *testing.T, addr string, writeBuffer int) (*webSocketConn, *http.Response) {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{"mqtt"}, HandshakeTimeout: wsTimeout, WriteBufferSize: writeBuffer}
	ws, resp, err := d.Dial("ws://"+addr+"/mqtt", nil)
	if err != nil {
		t.Fatalf("dial ws://%s: %v", addr, err)
	}
	c := newWebSocketConn(ws)
	t.Cleanup(func() { c.Close() })
	return c, resp
}

func encode(t *testing.T, p packets.Packet) []byte {
	t.Helper()
	b, err := p.Encode(nil, packets.V311)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestWebSocketFraming checks that packets may span messages, share one,
// and arrive in fragmented messages with a ping between the fragments.
func TestWebSocketFraming(t *testing.T) {
	addr := startWSBroker(t, nil)
	nc, resp := dialWS(t, addr, 512)
	if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != "mqtt" {
		t.Fatalf("subprotocol %q, want mqtt", got)
	}
	c := brokertest.Wrap(t, nc, packets.V311)

	t.Log("CONNECT sent one byte per message")
	for _, b := range encode(t, &packets.Connect{CleanStart: true, KeepAlive: 60, ClientID: "ws-framing"}) {
		c.Write([]byte{b})
	}
	if ack, ok := c.Expect().(*packets.Connack); !ok || ack.ReasonCode != 0 {
		t.Fatalf("CONNACK = %+v", ack)
	}

	t.Log("SUBSCRIBE and PUBLISH in one message")
	both := encode(t, &packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: "frames/#", QoS: 1}}})
	both = append(both, encode(t, &packets.Publish{Topic: "frames/one", Payload: []byte("shared")})...)
	c.Write(both)
	if _, ok := c.Expect().(*packets.Suback); !ok {
		t.Fatal("no SUBACK")
	}
	if p, ok := c.Expect().(*packets.Publish); !ok || string(p.Payload) != "shared" {
		t.Fatalf("got %+v, want the PUBLISH sent with the SUBSCRIBE", p)
	}

	t.Log("a 64 KiB PUBLISH in fragments of 512 bytes, a ping among them")
	pongs := make(chan struct{}, 1)
	nc.ws.SetPongHandler(func(string) error { pongs <- struct{}{}; return nil })
	payload := bytes.Repeat([]byte{0xA5}, 64<<10)
	large := encode(t, &packets.Publish{Topic: "frames/large", Payload: payload})
	w, err := nc.ws.NextWriter(websocket.BinaryMessage)
	if err != nil {
		t.Fatal(err)
	}
	half := len(large) / 2
	if _, err := w.Write(large[:half]); err != nil {
		t.Fatal(err)
	}
	if err := nc.ws.WriteControl(websocket.PingMessage, []byte("between"), time.Now().Add(wsTimeout)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(large[half:]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if p, ok := c.Expect().(*packets.Publish); !ok || p.Topic != "frames/large" || !bytes.Equal(p.Payload, payload) {
		t.Fatalf("the 64 KiB PUBLISH did not come back whole")
	}
	select {
	case <-pongs:
	default:
		t.Fatal("no pong for the ping sent between fragments")
	}
}

// acceptAll accepts connections from l into a channel until it is closed.
func acceptAll(l net.Listener) <-chan net.Conn {
	accepted := make(chan net.Conn, 10)
	go func() {
		defer close(accepted)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	return accepted
}

func nextAccepted(t *testing.T, accepted <-chan net.Conn) net.Conn {
	t.Helper()
	select {
	case c := <-accepted:
		t.Cleanup(func() { c.Close() })
		return c
	case <-time.After(wsTimeout):
		t.Fatal("Accept returned nothing")
		return nil
	}
}

// TestWebSocketPlainHTTP checks that a request without an upgrade gets an
// HTTP error and never reaches Accept, and that RemoteAddr is the peer.
func TestWebSocketPlainHTTP(t *testing.T) {
	l := listenWS(t, WebSocketOptions{}, nil)
	accepted := acceptAll(l)
	client := &http.Client{Timeout: wsTimeout}
	resp, err := client.Get("http://" + l.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("plain GET: status %d, want 426", resp.StatusCode)
	}
	nc, _ := dialWS(t, l.Addr().String(), 0)
	server := nextAccepted(t, accepted)
	if got, want := server.RemoteAddr().String(), nc.LocalAddr().String(); got != want {
		t.Fatalf("RemoteAddr %s, want the client's address %s (the plain request must not be accepted)", got, want)
	}
	if got, want := server.LocalAddr().String(), l.Addr().String(); got != want {
		t.Fatalf("LocalAddr %s, want %s", got, want)
	}

	t.Log("bytes both ways, and a clean close reads as EOF")
	if _, err := nc.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	server.SetReadDeadline(time.Now().Add(wsTimeout))
	if _, err := io.ReadFull(server, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("read %q, %v", buf, err)
	}
	nc.Close()
	if n, err := server.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("after the client's close: %d, %v, want io.EOF", n, err)
	}
}

// TestWebSocketSubprotocols accepts mqtt, mqttv3.1 and none, and refuses
// a client that offers only others.
func TestWebSocketSubprotocols(t *testing.T) {
	l := listenWS(t, WebSocketOptions{}, nil)
	accepted := acceptAll(l)
	for _, tc := range []struct {
		offer []string
		want  string // "" with ok: none chosen
		ok    bool
	}{
		{[]string{"mqtt"}, "mqtt", true},
		{[]string{"mqttv3.1"}, "mqttv3.1", true},
		{[]string{"other", "mqttv3.1", "mqtt"}, "mqtt", true},
		{nil, "", true},
		{[]string{"chat"}, "", false},
	} {
		d := websocket.Dialer{Subprotocols: tc.offer, HandshakeTimeout: wsTimeout}
		ws, resp, err := d.Dial("ws://"+l.Addr().String()+"/", nil)
		if !tc.ok {
			if err == nil {
				ws.Close()
				t.Fatalf("offer %q: accepted", tc.offer)
			}
			if resp == nil || resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("offer %q: %v, want 400", tc.offer, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("offer %q: %v", tc.offer, err)
		}
		ws.Close()
		nextAccepted(t, accepted)
		if got := ws.Subprotocol(); got != tc.want {
			t.Fatalf("offer %q: chose %q, want %q", tc.offer, got, tc.want)
		}
	}
}

// rawUpgrade opens a TCP connection and upgrades it by hand, so the test
// can send bytes no WebSocket library would.
func rawUpgrade(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, wsTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(wsTimeout))
	fmt.Fprintf(nc, "GET /mqtt HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n", addr)
	r := bufio.NewReader(nc)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: status %d", resp.StatusCode)
	}
	return nc, r
}

// expectEOF reads until the server closes the connection.
func expectEOF(t *testing.T, nc net.Conn, r io.Reader) {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(wsTimeout))
	_, err := io.Copy(io.Discard, r)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the connection is still open")
	}
}

// TestWebSocketGarbage checks that a client sending what is not a valid
// binary WebSocket stream is closed while another carries on.
func TestWebSocketGarbage(t *testing.T) {
	addr := startWSBroker(t, nil)
	url := "ws://" + addr + "/mqtt"
	sub, messages := pahoOverWS(t, url, nil, "ws-bystander")
	waitToken(t, "subscribe", sub.Subscribe("bystander", 1, nil))

	masked := func(opcode byte, payload []byte) []byte { // a client frame, mask key 0
		return append([]byte{0x80 | opcode, 0x80 | byte(len(payload)), 0, 0, 0, 0}, payload...)
	}
	connect := encode(t, &packets.Connect{CleanStart: true, KeepAlive: 60, ClientID: "ws-garbage"})
	for _, tc := range []struct {
		name  string
		frame []byte
	}{
		{"reserved bits set", []byte{0xF2, 0x80, 0, 0, 0, 0}},
		{"reserved opcode", masked(0x3, nil)},
		{"unmasked frame", append([]byte{0x82, byte(len(connect))}, connect...)},
		{"text message [MQTT-6.0.0-1]", masked(0x1, connect)},
		{"continuation without a start", masked(0x0, connect)},
		{"not WebSocket at all", []byte("\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc, r := rawUpgrade(t, addr)
			if _, err := nc.Write(tc.frame); err != nil {
				t.Fatal(err)
			}
			expectEOF(t, nc, r)
			pub, _ := pahoOverWS(t, url, nil, "ws-pub")
			waitToken(t, "publish", pub.Publish("bystander", 1, false, []byte(tc.name)))
			expectMessage(t, messages, "bystander", 1, []byte(tc.name))
			pub.Disconnect(100)
		})
	}
}

// TestWebSocketLimits checks the handshake timeout and the header bound.
func TestWebSocketLimits(t *testing.T) {
	l := listenWS(t, WebSocketOptions{HandshakeTimeout: 200 * time.Millisecond, MaxHeaderBytes: 4 << 10}, nil)
	accepted := acceptAll(l)

	t.Log("a client that sends nothing is closed")
	idle, err := net.DialTimeout("tcp", l.Addr().String(), wsTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	expectEOF(t, idle, idle)

	t.Log("oversized headers get 431")
	big, err := net.DialTimeout("tcp", l.Addr().String(), wsTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer big.Close()
	big.SetDeadline(time.Now().Add(wsTimeout))
	fmt.Fprintf(big, "GET / HTTP/1.1\r\nHost: x\r\nX-Filler: %s\r\n\r\n", strings.Repeat("a", 64<<10))
	resp, err := http.ReadResponse(bufio.NewReader(big), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d, want 431", resp.StatusCode)
	}

	t.Log("a slow TLS client is closed too")
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tr := wsTransports(t)[1]
	wss, err := WebSocket(tls.NewListener(inner, tr.server), WebSocketOptions{HandshakeTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer wss.Close()
	silent, err := net.DialTimeout("tcp", wss.Addr().String(), wsTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	expectEOF(t, silent, silent)

	select {
	case c := <-accepted:
		t.Fatalf("Accept returned %v", c.RemoteAddr())
	default:
	}
}

// TestWebSocketClose checks that Close ends Accept and closes a
// connection upgraded but not yet accepted.
func TestWebSocketClose(t *testing.T) {
	l := listenWS(t, WebSocketOptions{}, nil)
	nc, _ := dialWS(t, l.Addr().String(), 0) // upgraded; nobody accepts it
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v, want net.ErrClosed", err)
	}
	nc.SetReadDeadline(time.Now().Add(wsTimeout))
	if _, err := nc.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the unaccepted connection is still open: %v", err)
	}
	if _, err := net.DialTimeout("tcp", l.Addr().String(), wsTimeout); err == nil {
		t.Fatal("the port still accepts connections after Close")
	}
}

// TestWebSocketHTTPDir serves files, never a listing nor anything outside
// the directory, and still upgrades WebSocket requests.
func TestWebSocketHTTPDir(t *testing.T) {
	outside := t.TempDir()
	secret := writeFile(t, outside, "secret.txt", []byte("secret"))
	dir := t.TempDir()
	writeFile(t, dir, "index.html", []byte("<p>midge</p>"))
	if err := os.Mkdir(filepath.Join(dir, "lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "lib/mqtt.min.js", []byte("// mqtt"))
	if err := os.Symlink(secret, filepath.Join(dir, "escape.txt")); err != nil {
		t.Fatal(err)
	}
	if _, err := WebSocket(nil, WebSocketOptions{HTTPDir: filepath.Join(dir, "missing")}); err == nil {
		t.Fatal("a missing http_dir was accepted")
	}
	l := listenWS(t, WebSocketOptions{HTTPDir: dir}, nil)
	accepted := acceptAll(l)
	base := "http://" + l.Addr().String()
	client := &http.Client{Timeout: wsTimeout}
	for _, tc := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/", 200, "<p>midge</p>"},
		{"GET", "/lib/mqtt.min.js", 200, "// mqtt"},
		{"HEAD", "/lib/mqtt.min.js", 200, ""},
		{"GET", "/lib/", 404, ""},
		{"GET", "/missing.js", 404, ""},
		{"GET", "/escape.txt", 0, ""}, // any error status
		{"GET", "/../" + filepath.Base(outside) + "/secret.txt", 404, ""},
		{"POST", "/lib/mqtt.min.js", 405, ""},
	} {
		req, _ := http.NewRequest(tc.method, base+tc.path, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if tc.status == 0 && resp.StatusCode < 400 || tc.status != 0 && resp.StatusCode != tc.status {
			t.Errorf("%s %s: status %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
		}
		if strings.Contains(string(body), "secret") || tc.status == 200 && string(body) != tc.body {
			t.Errorf("%s %s: body %q", tc.method, tc.path, body)
		}
	}
	nc, _ := dialWS(t, l.Addr().String(), 0)
	if got := nextAccepted(t, accepted).RemoteAddr().String(); got != nc.LocalAddr().String() {
		t.Fatalf("accepted %s, want the WebSocket client %s", got, nc.LocalAddr())
	}
}

// Over wss, a listener that takes user names from client certificates
// sees the certificate through the WebSocket connection: the Authorizer
// gets the certificate's common name.
func TestWebSocketCertificateUsername(t *testing.T) {
	ca := newCA(t, "midge test CA")
	cert := ca.server(t, "localhost")
	clientCert := ca.client(t, pkix.Name{CommonName: "sensor-7"})
	dir := t.TempDir()
	srv, err := NewTLS(TLSOptions{
		CertFile:              writeFile(t, dir, "server.crt", cert.certPEM),
		KeyFile:               writeFile(t, dir, "server.key", cert.keyPEM),
		CAFile:                writeFile(t, dir, "ca.crt", ca.pem),
		RequireCertificate:    true,
		UseIdentityAsUsername: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	users := make(chan string, 1)
	auth := broker.AuthorizerFunc(func(info broker.ConnectInfo) broker.TopicAccess {
		users <- info.Username
		return nil
	})
	l := listenWS(t, WebSocketOptions{}, srv.Config())
	addr := brokertest.Serve(t, broker.Options{Authorizer: auth}, l, broker.ListenerOptions{CertUsername: srv.Username}).Addr

	pair, err := tls.X509KeyPair(clientCert.certPEM, clientCert.keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	pahoOverWS(t, "wss://"+addr, &tls.Config{RootCAs: roots, ServerName: "localhost", Certificates: []tls.Certificate{pair}}, "c")
	if got := <-users; got != "sensor-7" {
		t.Fatalf("user name %q, want the certificate's sensor-7", got)
	}
}
