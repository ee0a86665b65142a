package brokercmd

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/midge-mqtt/midge/internal/auth"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/internal/cli"
	"github.com/midge-mqtt/midge/internal/config"
	"github.com/midge-mqtt/midge/internal/mosquittotest"
	"github.com/midge-mqtt/midge/packets"
)

// kitchenSink is midge broker started from testdata/config/kitchensink:
// every kind of listener, TLS, websockets, a password file, an ACL and the
// limits in one configuration.
type kitchenSink struct {
	cfg       *config.Config // the configuration as midge read it, for the limits' values
	tcp       string         // plain listener, "127.0.0.1:PORT"
	tls       string         // TLS listener (max_qos 1)
	ws        string         // websockets listener
	sock      string         // Unix socket listener (max_connections)
	logFile   string
	clientTLS *tls.Config // trusts the listener's CA
}

// startKitchenSink writes the configuration with free ports, certificates
// from midge cert and a password file in which each user's password is
// its name, and starts midge broker with it.
func startKitchenSink(t *testing.T) *kitchenSink {
	t.Helper()
	dir := t.TempDir()
	var certOut bytes.Buffer
	certArgs := []string{"--dir", filepath.Join(dir, "pki"), "--host", "127.0.0.1", "--host", "localhost"}
	if status := cli.Cert(context.Background(), certArgs, cli.Stdio{Out: &certOut, Err: &certOut}); status != 0 {
		t.Fatalf("midge cert %v: status %d, %s", certArgs, status, certOut.String())
	}
	var passwd strings.Builder
	for _, user := range []string{"alice", "bob"} {
		hash, err := auth.Hash(auth.PBKDF2SHA512, []byte(user), auth.DefaultIterations)
		if err != nil {
			t.Fatal(err)
		}
		passwd.WriteString(user + ":" + hash + "\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "passwd"), []byte(passwd.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	testdata, err := filepath.Abs(filepath.Join("..", "..", "testdata", "config", "kitchensink"))
	if err != nil {
		t.Fatal(err)
	}
	template, err := os.ReadFile(filepath.Join(testdata, "midge.conf"))
	if err != nil {
		t.Fatal(err)
	}
	k := &kitchenSink{tcp: mosquittotest.FreeAddr(t), tls: mosquittotest.FreeAddr(t), ws: mosquittotest.FreeAddr(t)}
	values := map[string]string{"DIR": dir, "ACL": filepath.Join(testdata, "acl")}
	_, values["TCP_PORT"] = splitAddr(t, k.tcp)
	_, values["TLS_PORT"] = splitAddr(t, k.tls)
	_, values["WS_PORT"] = splitAddr(t, k.ws)
	conf := filepath.Join(dir, "midge.conf")
	text := os.Expand(string(template), func(name string) string { return values[name] })
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if k.cfg, err = config.Load(conf); err != nil {
		t.Fatal(err)
	}
	k.sock, k.logFile = filepath.Join(dir, "midge.sock"), filepath.Join(dir, "midge.log")

	ca, err := os.ReadFile(filepath.Join(dir, "pki", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca)
	k.clientTLS = &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}

	out := runBroker(t, "-c", conf)
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(k.logFile)
			t.Logf("broker output:\n%s\nlog file:\n%s", out, b)
		}
	})
	// Every listener is bound before any is served, so one answer means
	// all of them are up.
	connackCode(t, k.tcp)
	return k
}

// listener returns the configuration's listener for which pick is true.
func (k *kitchenSink) listener(t *testing.T, pick func(*config.Listener) bool) *config.Listener {
	t.Helper()
	for i := range k.cfg.Listeners {
		if pick(&k.cfg.Listeners[i]) {
			return &k.cfg.Listeners[i]
		}
	}
	t.Fatal("no such listener in the configuration")
	return nil
}

// sinkLogin is a CONNECT as user, with the user's name as password, as
// the password file has it.
func sinkLogin(user, clientID string, version byte, clean bool) *packets.Connect {
	return &packets.Connect{ProtocolName: "MQTT", Version: version, CleanStart: clean, KeepAlive: 60, ClientID: clientID,
		Username: user, UsernameFlag: true, Password: []byte(user), PasswordFlag: true}
}

// sinkConnack sends connect on c and returns the CONNACK.
func sinkConnack(t *testing.T, c *brokertest.Conn, connect *packets.Connect) *packets.Connack {
	t.Helper()
	c.Send(connect)
	ack, ok := c.Expect().(*packets.Connack)
	if !ok {
		t.Fatalf("CONNECT of %s answered with %T, want CONNACK", connect.ClientID, ack)
	}
	return ack
}

// alice connects as alice to the plain listener and fails unless admitted.
func (k *kitchenSink) alice(t *testing.T, clientID string, version byte, clean bool) *brokertest.Conn {
	t.Helper()
	c := brokertest.Dial(t, k.tcp, version)
	if ack := sinkConnack(t, c, sinkLogin("alice", clientID, version, clean)); ack.ReasonCode != 0 {
		t.Fatalf("alice as %s: CONNACK %#x", clientID, ack.ReasonCode)
	}
	return c
}

// sinkSubscribe subscribes c to filter and returns the SUBACK's code.
func sinkSubscribe(t *testing.T, c *brokertest.Conn, filter string, qos byte) packets.ReasonCode {
	t.Helper()
	c.Send(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: filter, QoS: qos}}})
	ack, ok := c.Expect().(*packets.Suback)
	if !ok || len(ack.ReasonCodes) != 1 {
		t.Fatalf("SUBSCRIBE %s: answered with %+v, want a SUBACK", filter, ack)
	}
	return ack.ReasonCodes[0]
}

// sinkPublish sends a PUBLISH to topic (packet id 1 when QoS > 0).
func sinkPublish(t *testing.T, c *brokertest.Conn, topic string, qos byte, payload []byte) {
	t.Helper()
	p := &packets.Publish{Topic: topic, QoS: qos, Payload: payload}
	if qos > 0 {
		p.PacketID = 1
	}
	c.Send(p)
}

// sinkBarrier sends PINGREQ and returns what c received before the
// PINGRESP. The broker handles a client's packets in order and queues what
// each one causes, deliveries to other clients included, before it reads
// the next, so after the barrier of a publisher every message it sent has
// been routed, and after a subscriber's every delivery routed so far has
// arrived.
func sinkBarrier(t *testing.T, c *brokertest.Conn) (pubs []*packets.Publish, acks []*packets.Ack) {
	t.Helper()
	c.Send(&packets.Pingreq{})
	for {
		switch p := c.Expect().(type) {
		case *packets.Pingresp:
			return pubs, acks
		case *packets.Publish:
			p.Payload = bytes.Clone(p.Payload) // the next read reuses the buffer
			pubs = append(pubs, p)
		case *packets.Ack:
			acks = append(acks, p)
		default:
			t.Fatalf("before PINGRESP: unexpected %T %+v", p, p)
		}
	}
}

// sinkDisconnect ends c normally and closes it.
func sinkDisconnect(c *brokertest.Conn) {
	b, _ := (&packets.Disconnect{}).Encode(nil, c.Version)
	c.Net.Write(b)
	c.Net.Close()
}

// sinkPayloads are the payloads of pubs, as strings.
func sinkPayloads(pubs []*packets.Publish) []string {
	var s []string
	for _, p := range pubs {
		s = append(s, string(p.Payload))
	}
	return s
}

// sinkAckAll acknowledges every QoS 1 message of pubs.
func sinkAckAll(t *testing.T, c *brokertest.Conn, pubs []*packets.Publish) {
	t.Helper()
	for _, p := range pubs {
		if p.QoS == 1 {
			c.Send(&packets.Ack{Kind: packets.TypePuback, PacketID: p.PacketID})
		}
	}
}

// TestKitchenSink starts midge with a configuration that uses listeners
// of every kind, TLS, websockets, a password file, an ACL and the limits
// together, and proves with a subtest per option that each takes effect.
// The subtests share the broker and run in order.
func TestKitchenSink(t *testing.T) {
	k := startKitchenSink(t)

	t.Run("password_file", func(t *testing.T) {
		// A refused password is 0x87 at MQTT 5 and 5 at 3.1.1, as in
		// Mosquitto.
		cases := []struct {
			name    string
			version byte
			user    string
			pass    []byte
			want    packets.ReasonCode
		}{
			{"right password", packets.V5, "alice", []byte("alice"), packets.Success},
			{"wrong password", packets.V5, "alice", []byte("bob"), packets.NotAuthorized},
			{"unknown user", packets.V5, "mallory", []byte("mallory"), packets.NotAuthorized},
			{"no password", packets.V5, "alice", nil, packets.NotAuthorized},
			{"3.1.1 right password", packets.V311, "alice", []byte("alice"), packets.ConnAccepted},
			{"3.1.1 wrong password", packets.V311, "alice", []byte("bob"), packets.ConnRefusedNotAuthorized},
		}
		for _, tc := range cases {
			c := brokertest.Dial(t, k.tcp, tc.version)
			connect := sinkLogin(tc.user, "ks-passwd", tc.version, true)
			connect.Password, connect.PasswordFlag = tc.pass, tc.pass != nil
			if ack := sinkConnack(t, c, connect); ack.ReasonCode != tc.want {
				t.Errorf("%s: CONNACK %#x, want %#x", tc.name, ack.ReasonCode, tc.want)
			}
			c.Net.Close()
		}
	})

	t.Run("allow_anonymous", func(t *testing.T) {
		for version, want := range map[byte]packets.ReasonCode{packets.V311: packets.ConnRefusedNotAuthorized, packets.V5: packets.NotAuthorized} {
			c := brokertest.Dial(t, k.tcp, version)
			connect := &packets.Connect{ProtocolName: "MQTT", Version: version, CleanStart: true, KeepAlive: 60, ClientID: "ks-anon"}
			if ack := sinkConnack(t, c, connect); ack.ReasonCode != want {
				t.Errorf("anonymous CONNECT, protocol %d: CONNACK %#x, want %#x", version, ack.ReasonCode, want)
			}
			c.Net.Close()
		}
	})

	t.Run("acl_file", func(t *testing.T) {
		sub := k.alice(t, "ks-acl-sub", packets.V311, true)
		if code := sinkSubscribe(t, sub, "ks/acl/#", 1); code != packets.GrantedQoS1 {
			t.Fatalf("alice SUBSCRIBE ks/acl/#: %#x", code)
		}
		bob := brokertest.Dial(t, k.tcp, packets.V5)
		if ack := sinkConnack(t, bob, sinkLogin("bob", "ks-acl-bob", packets.V5, true)); ack.ReasonCode != 0 {
			t.Fatalf("bob: CONNACK %#x", ack.ReasonCode)
		}
		sinkPublish(t, bob, "ks/acl/secret", 1, []byte("denied"))
		if ack, ok := bob.Expect().(*packets.Ack); !ok || ack.ReasonCode != packets.NotAuthorized {
			t.Errorf("bob PUBLISH ks/acl/secret: %+v, want PUBACK 0x87", ack)
		}
		sinkPublish(t, bob, "ks/acl/public", 1, []byte("allowed"))
		if ack, ok := bob.Expect().(*packets.Ack); !ok || ack.ReasonCode != packets.Success {
			t.Errorf("bob PUBLISH ks/acl/public: %+v, want PUBACK 0", ack)
		}
		sinkBarrier(t, bob)
		pubs, _ := sinkBarrier(t, sub)
		if got := sinkPayloads(pubs); len(got) != 1 || got[0] != "allowed" {
			t.Errorf("alice received %q, want only bob's message to ks/acl/public", got)
		}
		// $SYS is readable for alice only: bob is not sent the retained
		// version, which would come before the PINGRESP.
		sinkSubscribe(t, bob, "$SYS/broker/version", 0)
		if pubs, _ := sinkBarrier(t, bob); len(pubs) > 0 {
			t.Errorf("bob, not granted $SYS, received %s", pubs[0].Topic)
		}
	})

	t.Run("listener tls", func(t *testing.T) {
		nc, err := tls.Dial("tcp", k.tls, k.clientTLS)
		if err != nil {
			t.Fatalf("TLS handshake with the listener's CA: %v", err)
		}
		t.Cleanup(func() { nc.Close() })
		// require_certificate false: no client certificate needed.
		c := brokertest.Wrap(t, nc, packets.V311)
		if ack := sinkConnack(t, c, sinkLogin("alice", "ks-tls", packets.V311, true)); ack.ReasonCode != 0 {
			t.Fatalf("alice over TLS: CONNACK %#x", ack.ReasonCode)
		}
		if untrusted, err := tls.Dial("tcp", k.tls, &tls.Config{ServerName: "127.0.0.1"}); err == nil {
			untrusted.Close()
			t.Error("a client without the CA accepted the listener's certificate")
		}
		// Plain MQTT gets no CONNACK from a TLS listener.
		plain, err := net.DialTimeout("tcp", k.tls, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer plain.Close()
		b, _ := sinkLogin("alice", "ks-plain", packets.V311, true).Encode(nil, packets.V311)
		plain.Write(b)
		plain.SetReadDeadline(time.Now().Add(5 * time.Second))
		reply, _ := io.ReadAll(plain)
		if len(reply) > 0 && reply[0] == 0x20 {
			t.Errorf("the TLS listener answered plain MQTT with a CONNACK: % x", reply)
		}
	})

	t.Run("listener websockets", func(t *testing.T) {
		received := make(chan mqtt.Message, 10)
		opts := mqtt.NewClientOptions().AddBroker("ws://" + k.ws + "/mqtt").SetClientID("ks-ws").
			SetUsername("alice").SetPassword("alice").SetAutoReconnect(false).
			SetConnectTimeout(5 * time.Second).SetWriteTimeout(5 * time.Second)
		client := mqtt.NewClient(opts)
		if tok := client.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("paho over ws://%s: %v", k.ws, tok.Error())
		}
		defer client.Disconnect(100)
		tok := client.Subscribe("ks/ws", 1, func(_ mqtt.Client, m mqtt.Message) { received <- m })
		if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("subscribe over ws: %v", tok.Error())
		}
		if tok := client.Publish("ks/ws", 1, false, "over websockets"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("publish over ws: %v", tok.Error())
		}
		select {
		case m := <-received:
			if string(m.Payload()) != "over websockets" {
				t.Errorf("received %q over ws", m.Payload())
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no message over ws within 5s")
		}
	})

	t.Run("listener unix", func(t *testing.T) {
		nc, err := net.Dial("unix", k.sock)
		if err != nil {
			t.Fatalf("unix socket listener: %v", err)
		}
		c := brokertest.Wrap(t, nc, packets.V311)
		if ack := sinkConnack(t, c, sinkLogin("alice", "ks-unix", packets.V311, true)); ack.ReasonCode != 0 {
			t.Fatalf("alice over the unix socket: CONNACK %#x", ack.ReasonCode)
		}
		sinkDisconnect(c)
	})

	t.Run("max_connections", func(t *testing.T) {
		limit := k.listener(t, (*config.Listener).Unix).MaxConnections
		var held []*brokertest.Conn
		defer func() {
			for _, c := range held {
				c.Net.Close()
			}
		}()
		// Earlier connections may still count for a moment after closing.
		admit := func() bool {
			nc, err := net.Dial("unix", k.sock)
			if err != nil {
				t.Fatalf("unix socket listener: %v", err)
			}
			c := brokertest.Wrap(t, nc, packets.V311)
			b, _ := sinkLogin("alice", fmt.Sprintf("ks-max-%d", len(held)), packets.V311, true).Encode(nil, packets.V311)
			nc.Write(b) // fails when the broker closed the connection already
			if ack, ok := sinkRead(c).(*packets.Connack); ok && ack.ReasonCode == 0 {
				held = append(held, c)
				return true
			}
			nc.Close()
			return false
		}
		mosquittotest.WaitFor(t, 5*time.Second, fmt.Sprintf("%d connections on the unix socket", limit), func() bool {
			admit()
			return len(held) == limit
		})
		// One more is refused: CONNACK 3 Server unavailable, or closed.
		over, err := net.Dial("unix", k.sock)
		if err != nil {
			t.Fatalf("unix socket listener: %v", err)
		}
		defer over.Close()
		b, _ := sinkLogin("alice", "ks-max-over", packets.V311, true).Encode(nil, packets.V311)
		over.Write(b)
		if ack, ok := sinkRead(brokertest.Wrap(t, over, packets.V311)).(*packets.Connack); ok && ack.ReasonCode == 0 {
			t.Fatalf("connection %d of max_connections %d was admitted", limit+1, limit)
		} else if ok && ack.ReasonCode != packets.ConnRefusedUnavailable {
			t.Errorf("connection %d of max_connections %d: CONNACK %d, want 3 (server unavailable)", limit+1, limit, ack.ReasonCode)
		}
		sinkDisconnect(held[0])
		held = held[1:]
		mosquittotest.WaitFor(t, 5*time.Second, "a connection admitted once one closed", admit)
	})

	t.Run("message_size_limit", func(t *testing.T) {
		limit := int(*k.cfg.MessageSizeLimit)
		sub := k.alice(t, "ks-size-sub", packets.V311, true)
		sinkSubscribe(t, sub, "ks/size", 0)
		pub := k.alice(t, "ks-size-pub", packets.V5, true)
		sinkPublish(t, pub, "ks/size", 1, bytes.Repeat([]byte("x"), limit+1))
		if ack, ok := pub.Expect().(*packets.Ack); !ok || ack.ReasonCode != packets.ImplementationError {
			t.Errorf("PUBLISH of %d bytes: %+v, want PUBACK 0x83", limit+1, ack)
		}
		sinkPublish(t, pub, "ks/size", 1, bytes.Repeat([]byte("y"), limit))
		if ack, ok := pub.Expect().(*packets.Ack); !ok || ack.ReasonCode != packets.Success {
			t.Errorf("PUBLISH of %d bytes: %+v, want PUBACK 0", limit, ack)
		}
		sinkBarrier(t, pub)
		pubs, _ := sinkBarrier(t, sub)
		if len(pubs) != 1 || len(pubs[0].Payload) != limit {
			t.Errorf("subscriber received %d messages (%v), want only the one of %d bytes", len(pubs), sinkPayloadSizes(pubs), limit)
		}
	})

	t.Run("max_packet_size", func(t *testing.T) {
		limit := int(*k.cfg.MaxPacketSize)
		c := brokertest.Dial(t, k.tcp, packets.V5)
		ack := sinkConnack(t, c, sinkLogin("alice", "ks-packet", packets.V5, true))
		if !ack.Properties.Has(packets.PropMaximumPacketSize) || ack.Properties.MaximumPacketSize != uint32(limit) {
			t.Errorf("CONNACK Maximum Packet Size %d (present %v), want %d", ack.Properties.MaximumPacketSize,
				ack.Properties.Has(packets.PropMaximumPacketSize), limit)
		}
		// A packet of exactly max_packet_size is read (and its payload
		// refused by message_size_limit); the connection stays.
		atLimit := &packets.Publish{Topic: "ks/packet", QoS: 1, PacketID: 1}
		b, _ := atLimit.Encode(nil, packets.V5)
		atLimit.Payload = make([]byte, limit-len(b)-1) // the remaining length takes a second byte
		if b, _ = atLimit.Encode(nil, packets.V5); len(b) != limit {
			t.Fatalf("test packet of %d bytes, want %d", len(b), limit)
		}
		c.Write(b)
		if p, ok := c.Expect().(*packets.Ack); !ok || p.ReasonCode != packets.ImplementationError {
			t.Errorf("PUBLISH packet of %d bytes: %+v, want PUBACK 0x83", len(b), p)
		}
		c.Send(&packets.Publish{Topic: "ks/packet", QoS: 1, PacketID: 2, Payload: make([]byte, limit)})
		if d, ok := c.ExpectClosed().(*packets.Disconnect); ok && d.ReasonCode != packets.PacketTooLarge {
			t.Errorf("PUBLISH over max_packet_size: DISCONNECT %#x, want 0x95", d.ReasonCode)
		}
	})

	t.Run("max_keepalive", func(t *testing.T) {
		limit := uint16(*k.cfg.MaxKeepalive)
		for _, tc := range []struct {
			version   byte
			keepAlive uint16
			want      packets.ReasonCode
		}{
			{packets.V311, limit, packets.ConnAccepted},
			{packets.V311, limit + 1, packets.ConnRefusedIdentifier},
			{packets.V5, limit + 1, packets.Success},
		} {
			c := brokertest.Dial(t, k.tcp, tc.version)
			connect := sinkLogin("alice", "ks-keepalive", tc.version, true)
			connect.KeepAlive = tc.keepAlive
			ack := sinkConnack(t, c, connect)
			if ack.ReasonCode != tc.want {
				t.Errorf("protocol %d keep alive %d: CONNACK %d, want %d", tc.version, tc.keepAlive, ack.ReasonCode, tc.want)
			}
			if tc.version == packets.V5 && (!ack.Properties.Has(packets.PropServerKeepAlive) || ack.Properties.ServerKeepAlive != limit) {
				t.Errorf("MQTT 5 keep alive %d: Server Keep Alive %d, want %d", tc.keepAlive, ack.Properties.ServerKeepAlive, limit)
			}
			c.Net.Close()
		}
	})

	t.Run("max_qos", func(t *testing.T) {
		want := byte(k.listener(t, func(l *config.Listener) bool { return l.TLS() }).MaxQoS)
		nc, err := tls.Dial("tcp", k.tls, k.clientTLS)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		capped := brokertest.Wrap(t, nc, packets.V5)
		ack := sinkConnack(t, capped, sinkLogin("alice", "ks-qos-tls", packets.V5, true))
		if !ack.Properties.Has(packets.PropMaximumQoS) || ack.Properties.MaximumQoS != want {
			t.Errorf("TLS listener CONNACK Maximum QoS %d (present %v), want %d", ack.Properties.MaximumQoS,
				ack.Properties.Has(packets.PropMaximumQoS), want)
		}
		if code := sinkSubscribe(t, capped, "ks/qos", 2); code != packets.ReasonCode(want) {
			t.Errorf("SUBSCRIBE QoS 2 on the TLS listener: granted %#x, want %d", code, want)
		}
		// The plain listener has no cap.
		open := k.alice(t, "ks-qos-tcp", packets.V5, true)
		if code := sinkSubscribe(t, open, "ks/qos", 2); code != packets.GrantedQoS2 {
			t.Errorf("SUBSCRIBE QoS 2 on the plain listener: granted %#x, want 2", code)
		}
	})

	t.Run("retain_available", func(t *testing.T) {
		c := brokertest.Dial(t, k.tcp, packets.V5)
		ack := sinkConnack(t, c, sinkLogin("alice", "ks-retain", packets.V5, true))
		if !ack.Properties.Has(packets.PropRetainAvailable) || ack.Properties.RetainAvailable != 0 {
			t.Errorf("CONNACK Retain Available %d (present %v), want 0", ack.Properties.RetainAvailable,
				ack.Properties.Has(packets.PropRetainAvailable))
		}
		c.Send(&packets.Publish{Topic: "ks/retain", Retain: true, Payload: []byte("kept?")})
		if d, ok := c.ExpectClosed().(*packets.Disconnect); !ok || d.ReasonCode != packets.RetainNotSupported {
			t.Errorf("retained PUBLISH: %+v, want DISCONNECT 0x9A", d)
		}
	})

	t.Run("max_inflight_messages", func(t *testing.T) {
		window := *k.cfg.MaxInflightMessages
		sub := k.alice(t, "ks-inflight-sub", packets.V311, true)
		sinkSubscribe(t, sub, "ks/inflight", 1)
		pub := k.alice(t, "ks-inflight-pub", packets.V311, true)
		var want []string
		for i := range window + 3 {
			want = append(want, "m"+strconv.Itoa(i+1))
			pub.Send(&packets.Publish{Topic: "ks/inflight", QoS: 1, PacketID: uint16(i + 1), Payload: []byte(want[i])})
		}
		sinkBarrier(t, pub)
		pubs, _ := sinkBarrier(t, sub)
		got := sinkPayloads(pubs)
		if len(got) != window {
			t.Fatalf("unacknowledged deliveries %q, want the first %d", got, window)
		}
		sinkAckAll(t, sub, pubs[:1])
		pubs, _ = sinkBarrier(t, sub)
		if len(pubs) != 1 {
			t.Fatalf("after one PUBACK: %q, want one more message", sinkPayloads(pubs))
		}
		got = append(got, sinkPayloads(pubs)...)
		sinkAckAll(t, sub, pubs)
		for len(got) < len(want) {
			pubs, _ = sinkBarrier(t, sub)
			if len(pubs) == 0 {
				break
			}
			got = append(got, sinkPayloads(pubs)...)
			sinkAckAll(t, sub, pubs)
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("delivered %q, want %q", got, want)
		}
	})

	t.Run("max_queued_messages", func(t *testing.T) {
		window, queued := *k.cfg.MaxInflightMessages, *k.cfg.MaxQueuedMessages
		sub := k.alice(t, "ks-queued", packets.V311, false)
		sinkSubscribe(t, sub, "ks/queued", 1)
		pub := k.alice(t, "ks-queued-pub", packets.V311, true)
		send := func(from, to int) {
			for i := from; i <= to; i++ {
				pub.Send(&packets.Publish{Topic: "ks/queued", QoS: 1, PacketID: uint16(i), Payload: []byte("m" + strconv.Itoa(i))})
			}
			sinkBarrier(t, pub)
		}
		// Fill the in-flight window, then go: whether or not the broker has
		// seen the session go offline yet, what follows is queued.
		send(1, window)
		if pubs, _ := sinkBarrier(t, sub); len(pubs) != window {
			t.Fatalf("before going offline: %q, want %d messages", sinkPayloads(pubs), window)
		}
		sinkDisconnect(sub)
		send(window+1, window+2*queued)

		sub = brokertest.Dial(t, k.tcp, packets.V311)
		if ack := sinkConnack(t, sub, sinkLogin("alice", "ks-queued", packets.V311, false)); !ack.SessionPresent || ack.ReasonCode != 0 {
			t.Fatalf("resuming: CONNACK %+v, want the session present", ack)
		}
		var got []string
		for {
			pubs, _ := sinkBarrier(t, sub)
			if len(pubs) == 0 {
				break
			}
			got = append(got, sinkPayloads(pubs)...)
			sinkAckAll(t, sub, pubs)
		}
		var want []string
		for i := 1; i <= window+queued; i++ {
			want = append(want, "m"+strconv.Itoa(i))
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("after reconnecting: %q, want the %d in flight and the first %d queued: %q", got, window, queued, want)
		}
		sinkDisconnect(sub)
		sinkDisconnect(k.alice(t, "ks-queued", packets.V311, true)) // end the session
	})

	t.Run("queue_qos0_messages", func(t *testing.T) {
		sub := k.alice(t, "ks-qos0", packets.V311, false)
		sinkSubscribe(t, sub, "ks/qos0", 0)
		sinkDisconnect(sub)
		pub := k.alice(t, "ks-qos0-pub", packets.V311, true)
		// A message that arrives before the broker has seen the client go
		// is lost with its connection; offline, it is queued.
		attempt := 0
		mosquittotest.WaitFor(t, 5*time.Second, "a QoS 0 message queued for the offline session", func() bool {
			attempt++
			payload := "offline " + strconv.Itoa(attempt)
			sinkPublish(t, pub, "ks/qos0", 0, []byte(payload))
			sinkBarrier(t, pub)
			sub = brokertest.Dial(t, k.tcp, packets.V311)
			if ack := sinkConnack(t, sub, sinkLogin("alice", "ks-qos0", packets.V311, false)); !ack.SessionPresent {
				t.Fatalf("resuming: CONNACK %+v, want the session present", ack)
			}
			pubs, _ := sinkBarrier(t, sub)
			sinkDisconnect(sub)
			for _, p := range pubs {
				if string(p.Payload) == payload && p.QoS == 0 {
					return true
				}
			}
			return false
		})
		sinkDisconnect(k.alice(t, "ks-qos0", packets.V311, true)) // end the session
	})

	t.Run("persistent_client_expiration", func(t *testing.T) {
		expiration := *k.cfg.PersistentClientExpiration
		sub := k.alice(t, "ks-expiry", packets.V311, false)
		sinkSubscribe(t, sub, "ks/expiry", 1)
		start := time.Now()
		sinkDisconnect(sub)
		// A publisher is told when no subscription matched (0x10): the
		// session's ended. Publishing does not resume it.
		pub := k.alice(t, "ks-expiry-pub", packets.V5, true)
		id := uint16(0)
		mosquittotest.WaitFor(t, expiration+5*time.Second, "the offline session to expire", func() bool {
			id++
			pub.Send(&packets.Publish{Topic: "ks/expiry", QoS: 1, PacketID: id, Payload: []byte("anyone?")})
			ack, ok := pub.Expect().(*packets.Ack)
			if !ok {
				t.Fatalf("PUBLISH: %+v, want PUBACK", ack)
			}
			if ack.ReasonCode != packets.NoMatchingSubscribers {
				time.Sleep(50 * time.Millisecond) // polling
				return false
			}
			return true
		})
		if elapsed := time.Since(start); elapsed < expiration {
			t.Errorf("the session ended %v after its client left, before persistent_client_expiration %v", elapsed, expiration)
		}
		sub = brokertest.Dial(t, k.tcp, packets.V311)
		if ack := sinkConnack(t, sub, sinkLogin("alice", "ks-expiry", packets.V311, true)); ack.SessionPresent {
			t.Error("the expired session was resumed")
		}
	})

	t.Run("sys_interval", func(t *testing.T) {
		interval := *k.cfg.SysInterval
		c := k.alice(t, "ks-sys", packets.V311, true)
		sinkSubscribe(t, c, "$SYS/broker/uptime", 0)
		p, ok := c.Expect().(*packets.Publish)
		if !ok {
			t.Fatalf("$SYS/broker/uptime: %+v", p)
		}
		first := string(p.Payload) // the next read reuses the buffer
		c.Timeout = interval + 2*time.Second
		p, ok = c.Expect().(*packets.Publish)
		if !ok || string(p.Payload) == first || !strings.HasSuffix(string(p.Payload), " seconds") {
			t.Errorf("$SYS/broker/uptime %q, then %+v: want a new figure within %v", first, p, c.Timeout)
		}
		c.Timeout = 5 * time.Second
		sinkSubscribe(t, c, "$SYS/broker/version", 0)
		if p, ok := c.Expect().(*packets.Publish); !ok || p.Topic != "$SYS/broker/version" || string(p.Payload) != "midge version "+Version {
			t.Errorf("$SYS/broker/version: %+v", p)
		}
	})

	// Last, so that every connection above would be in the log.
	t.Run("log_dest file, log_type subscribe, connection_messages false", func(t *testing.T) {
		c := k.alice(t, "ks-log", packets.V311, true)
		sinkSubscribe(t, c, "ks/log/#", 1)
		c.Send(&packets.Unsubscribe{PacketID: 2, Filters: []string{"ks/log/#"}})
		c.Expect() // UNSUBACK
		sinkSubscribe(t, c, "ks/log/after", 0)
		var log string
		mosquittotest.WaitFor(t, 5*time.Second, "the subscribe lines in the log file", func() bool {
			b, _ := os.ReadFile(k.logFile)
			log = string(b)
			return strings.Contains(log, "ks-log 0 ks/log/after")
		})
		if !strings.Contains(log, "ks-log 1 ks/log/#") {
			t.Error("log_type subscribe: the first subscribe line is missing")
		}
		if strings.Contains(log, "ks-log ks/log/#") {
			t.Error("log_type without unsubscribe: an unsubscribe line was logged")
		}
		for _, line := range []string{"New client connected", "Client ks-unix disconnected", "Client ks-queued disconnected"} {
			if strings.Contains(log, line) {
				t.Errorf("connection_messages false: the log file has %q", line)
			}
		}
		if t.Failed() {
			t.Logf("log file:\n%s", log)
		}
	})
}

// sinkRead reads one packet from c, or returns nil when the connection
// ends or its read times out.
func sinkRead(c *brokertest.Conn) packets.Packet {
	p, err := c.Read()
	if err != nil {
		return nil
	}
	return p
}

// sinkPayloadSizes are the payload sizes of pubs.
func sinkPayloadSizes(pubs []*packets.Publish) []int {
	var n []int
	for _, p := range pubs {
		n = append(n, len(p.Payload))
	}
	return n
}
