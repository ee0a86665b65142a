package broker_test

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/internal/store"
	"github.com/midge-mqtt/midge/packets"
)

// The helpers that the broker's tests share live here, in one file, so
// that a new test finds what exists before writing its own.

// waitFor polls cond until it holds or five seconds pass.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// drain reads n PUBLISH packets, acknowledging QoS 1 ones in batches.
func drain(nc net.Conn, n int, qos byte) int {
	r := packets.NewReader(nc, 64*1024)
	w := bufio.NewWriterSize(nc, 16*1024)
	var p packets.Publish
	got := 0
	nc.SetReadDeadline(time.Now().Add(60 * time.Second))
	for got < n {
		h, body, err := r.ReadFrame()
		if err != nil {
			return got
		}
		if h.Type != packets.TypePublish {
			continue
		}
		got++
		if qos > 0 {
			p.Decode(h.Flags, body, packets.V311)
			w.Write([]byte{0x40, 2, byte(p.PacketID >> 8), byte(p.PacketID)})
			if r.Buffered() == 0 {
				w.Flush()
			}
		}
	}
	w.Flush()
	return got
}

// openDisk opens the on-disk store in dir, and returns it with the func
// that closes it, once the broker using it has stopped; the test's end
// closes it too, after the broker started after it stops.
func openDisk(t *testing.T, dir string) (*store.Disk, func()) {
	t.Helper()
	st, err := store.OpenDisk(dir, store.DiskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	closeStore := sync.OnceFunc(func() {
		if err := st.Close(); err != nil {
			t.Errorf("closing the store: %v", err)
		}
	})
	t.Cleanup(closeStore)
	return st, closeStore
}

// rules is a test Authorizer: per user name, the filters it may read and
// write. Anonymous clients get the "" entry. Bumping gen changes nothing by
// itself; tests swap the maps to model a reload.
type rules struct {
	read, write atomic.Pointer[map[string][]string]
}

func (r *rules) Access(info broker.ConnectInfo) broker.TopicAccess {
	return userAccess{r: r, user: info.Username}
}

// expectNothing fails if c receives a packet within a short while.
func expectNothing(t *testing.T, c *brokertest.Conn) {
	t.Helper()
	c.Timeout = 200 * time.Millisecond
	defer func() { c.Timeout = 5 * time.Second }()
	if p, err := c.Read(); err == nil {
		t.Fatalf("unexpected %T %+v", p, p)
	}
}

func leafCert(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, name string, server bool) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(100 + serial.Add(1)), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		if ip := net.ParseIP(name); ip != nil {
			tmpl.IPAddresses = []net.IP{ip}
		} else {
			tmpl.DNSNames = []string{name}
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func newRules(read, write map[string][]string) *rules {
	r := &rules{}
	r.read.Store(&read)
	r.write.Store(&write)
	return r
}

func newTestCA(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return ca, key
}

func publishQoS1(t *testing.T, c *brokertest.Conn, name, payload string, id uint16) *packets.Ack {
	t.Helper()
	c.Send(&packets.Publish{QoS: 1, Topic: name, PacketID: id, Payload: []byte(payload)})
	a, ok := c.Expect().(*packets.Ack)
	if !ok || a.Kind != packets.TypePuback || a.PacketID != id {
		t.Fatalf("got %T %+v, want PUBACK %d", a, a, id)
	}
	return a
}

// checkBystander publishes through a fresh client and requires the
// bystander to receive it: one bad connection cost nothing else.
func checkBystander(t *testing.T, b *brokertest.Broker, bystander *brokertest.Conn) {
	t.Helper()
	checkSeq++
	payload := []byte{'p', checkSeq}
	pub := brokertest.Connect(t, b.Addr, packets.V311, "", true)
	pub.Send(&packets.Publish{Topic: "check/alive", Payload: payload})
	p, ok := bystander.Expect().(*packets.Publish)
	if !ok || !bytes.Equal(p.Payload, payload) {
		t.Fatalf("bystander got %+v, want payload %q", p, payload)
	}
	if p.QoS == 1 {
		bystander.Send(&packets.Ack{Kind: packets.TypePuback, PacketID: p.PacketID})
	}
}

// expectNothingFor fails if c receives a packet within d.
func expectNothingFor(t *testing.T, c *brokertest.Conn, d time.Duration) {
	t.Helper()
	old := c.Timeout
	c.Timeout = d
	defer func() { c.Timeout = old }()
	if p, err := c.Read(); err == nil {
		t.Fatalf("unexpected %T %+v", p, p)
	}
}

// withWill gives the CONNECT a will on topic with the delay, and a session
// expiry interval.
func withWill(topicName string, delay, expiry uint32) func(*packets.Connect) {
	return func(p *packets.Connect) {
		p.Will = &packets.Will{Topic: topicName, Payload: []byte("gone")}
		p.Will.Properties.WillDelay = delay
		p.Will.Properties.Set(packets.PropWillDelay)
		p.Will.Properties.ContentType = "text/plain"
		p.Will.Properties.Set(packets.PropContentType)
		p.Properties.SessionExpiry = expiry
		p.Properties.Set(packets.PropSessionExpiry)
	}
}

// subscribe5 subscribes with options and an optional identifier and
// returns the SUBACK codes.
func subscribe5(t *testing.T, c *brokertest.Conn, id uint32, subs ...packets.Subscription) []packets.ReasonCode {
	t.Helper()
	p := &packets.Subscribe{PacketID: 9, Subscriptions: subs}
	if id != 0 {
		p.Properties.SubscriptionIDs = []uint32{id}
		p.Properties.Set(packets.PropSubscriptionID)
	}
	c.Send(p)
	ack, ok := c.Expect().(*packets.Suback)
	if !ok {
		t.Fatalf("got %T, want SUBACK", ack)
	}
	return ack.ReasonCodes
}

func expectAck(t *testing.T, c *brokertest.Conn, kind packets.Type, id uint16) {
	t.Helper()
	a, ok := c.Expect().(*packets.Ack)
	if !ok || a.Kind != kind || a.PacketID != id {
		t.Fatalf("got %T %+v, want ack type %d id %d", a, a, kind, id)
	}
}

func expectPublish(t *testing.T, c *brokertest.Conn) *packets.Publish {
	t.Helper()
	p, ok := c.Expect().(*packets.Publish)
	if !ok {
		t.Fatalf("got %T, want PUBLISH", p)
	}
	return p
}

func subscribe(t *testing.T, c *brokertest.Conn, filter string, qos byte) {
	t.Helper()
	c.Send(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: filter, QoS: qos}}})
	ack, ok := c.Expect().(*packets.Suback)
	if !ok || len(ack.ReasonCodes) != 1 || ack.ReasonCodes[0] != packets.ReasonCode(qos) {
		t.Fatalf("SUBACK = %+v", ack)
	}
}

// connect5 sends an MQTT 5 CONNECT built by fill and returns the CONNACK.
func connect5(t *testing.T, addr, clientID string, clean bool, fill func(*packets.Connect)) (*brokertest.Conn, *packets.Connack) {
	t.Helper()
	c := brokertest.Dial(t, addr, packets.V5)
	p := &packets.Connect{ProtocolName: "MQTT", Version: packets.V5, CleanStart: clean, KeepAlive: 60, ClientID: clientID}
	if fill != nil {
		fill(p)
	}
	c.Send(p)
	ack, ok := c.Expect().(*packets.Connack)
	if !ok {
		t.Fatalf("got %T, want CONNACK", ack)
	}
	return c, ack
}

func publish5(topicName string, qos byte, id uint16, payload string, alias uint16) *packets.Publish {
	p := &packets.Publish{Topic: topicName, QoS: qos, PacketID: id, Payload: []byte(payload)}
	if alias != 0 {
		p.Properties.TopicAlias = alias
		p.Properties.Set(packets.PropTopicAlias)
	}
	return p
}

func withExpiry(seconds uint32) func(*packets.Connect) {
	return func(p *packets.Connect) {
		p.Properties.SessionExpiry = seconds
		p.Properties.Set(packets.PropSessionExpiry)
	}
}

// expectOpen checks that c is still open: nothing arrives, and the
// connection is not closed, for 100 ms.
func expectOpen(t *testing.T, c *brokertest.Conn) {
	t.Helper()
	c.Net.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	var b [1]byte
	if _, err := c.Net.Read(b[:]); err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("connection not open: read %v", err)
	}
	c.Net.SetReadDeadline(time.Time{})
}
