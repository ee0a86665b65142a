package broker_test

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/packets"
)

// mountBroker runs a broker with two listeners: one with mount point "a/",
// one plain. It returns their addresses.
func mountBroker(t *testing.T, opts broker.Options) (mounted, plain string) {
	t.Helper()
	ml, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	// Registered first, so it runs after the broker's shutdown.
	t.Cleanup(func() {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("plain listener still serving 10s after shutdown")
		}
	})
	b := brokertest.Serve(t, opts, ml, broker.ListenerOptions{MountPoint: "a/"})
	go func() {
		defer close(done)
		b.Server.ServeWith(pl, broker.ListenerOptions{})
	}()
	return b.Addr, pl.Addr().String()
}

func expectTopic(t *testing.T, c *brokertest.Conn, want string) *packets.Publish {
	t.Helper()
	p := expectPublish(t, c)
	if p.Topic != want {
		t.Fatalf("PUBLISH topic %q (payload %q), want %q", p.Topic, p.Payload, want)
	}
	return p
}

// publishAcked sends a QoS 1 PUBLISH and waits for its PUBACK, so what it
// did (a retained message stored, say) is done.
func publishAcked(t *testing.T, c *brokertest.Conn, name, payload string, retain bool) {
	t.Helper()
	c.Send(&packets.Publish{Topic: name, QoS: 1, PacketID: 7, Retain: retain, Payload: []byte(payload)})
	expectAck(t, c, packets.TypePuback, 7)
}

// Mosquitto's mount_point: a mounted client's topics and filters get the
// prefix on the way in and lose it on the way out, so it sees only the
// tree under the prefix, and other listeners' clients see its messages
// under the prefix.
func TestMountPoint(t *testing.T) {
	t.Parallel()
	for _, v := range []byte{packets.V5, packets.V311} {
		t.Run(fmt.Sprintf("level=%d", v), func(t *testing.T) {
			mounted, plain := mountBroker(t, broker.Options{})
			pub := brokertest.Connect(t, mounted, v, "pub", true)
			msub := brokertest.Connect(t, mounted, v, "msub", true)
			mall := brokertest.Connect(t, mounted, v, "mall", true)
			psub := brokertest.Connect(t, plain, v, "psub", true)
			ppub := brokertest.Connect(t, plain, v, "ppub", true)
			subscribe(t, msub, "t", 1)
			subscribe(t, mall, "#", 0)
			subscribe(t, psub, "a/t", 1)

			publishAcked(t, pub, "t", "hello", false)
			expectTopic(t, psub, "a/t")
			if p := expectTopic(t, msub, "t"); p.QoS != 1 || string(p.Payload) != "hello" {
				t.Fatalf("mounted subscriber got %+v", p)
			}
			expectTopic(t, mall, "t")

			// Nothing outside the mount point reaches a mounted "#", nor
			// the mount point's own parent level "a", which has no name
			// under it; the marker after them does.
			ppub.Send(&packets.Publish{Topic: "b/t", Payload: []byte("outside")})
			ppub.Send(&packets.Publish{Topic: "a", Payload: []byte("parent")})
			ppub.Send(&packets.Publish{Topic: "a/x", Payload: []byte("marker")})
			expectTopic(t, mall, "x")

			// UNSUBSCRIBE finds the mounted filter.
			msub.Send(&packets.Unsubscribe{PacketID: 3, Filters: []string{"t"}})
			if ack, ok := msub.Expect().(*packets.Unsuback); !ok || v == packets.V5 && ack.ReasonCodes[0] != packets.Success {
				t.Fatalf("got %+v, want UNSUBACK 0", ack)
			}

			// Retained messages: stored whole, delivered stripped.
			publishAcked(t, ppub, "a/r", "kept", true)
			publishAcked(t, pub, "s", "mine", true)
			rsub := brokertest.Connect(t, mounted, v, "rsub", true)
			subscribe(t, rsub, "r", 0)
			if p := expectTopic(t, rsub, "r"); !p.Retain || string(p.Payload) != "kept" {
				t.Fatalf("retained delivery %+v", p)
			}
			rplain := brokertest.Connect(t, plain, v, "rplain", true)
			subscribe(t, rplain, "a/s", 0)
			if p := expectTopic(t, rplain, "a/s"); !p.Retain || string(p.Payload) != "mine" {
				t.Fatalf("retained delivery %+v", p)
			}

			// A will gets the prefix.
			wsub := brokertest.Connect(t, plain, v, "wsub", true)
			subscribe(t, wsub, "a/will", 0)
			w := brokertest.Dial(t, mounted, v)
			w.Send(&packets.Connect{ProtocolName: "MQTT", Version: v, CleanStart: true, KeepAlive: 60, ClientID: "w",
				Will: &packets.Will{Topic: "will", Payload: []byte("gone")}})
			if ack, ok := w.Expect().(*packets.Connack); !ok || ack.ReasonCode != 0 {
				t.Fatalf("got %+v, want CONNACK 0", ack)
			}
			w.Net.Close()
			if p := expectTopic(t, wsub, "a/will"); string(p.Payload) != "gone" {
				t.Fatalf("will %+v", p)
			}

			// A shared subscription's filter is mounted, its group kept.
			sh := brokertest.Connect(t, mounted, v, "sh", true)
			subscribe(t, sh, "$share/g/q", 1)
			ppub.Send(&packets.Publish{Topic: "q", Payload: []byte("outside")})
			publishAcked(t, ppub, "a/q", "shared", false)
			if p := expectTopic(t, sh, "q"); string(p.Payload) != "shared" {
				t.Fatalf("shared delivery %+v", p)
			}
		})
	}
}

// MQTT 5 deliveries to a mounted client keep their own properties, and an
// inbound topic alias is resolved before the topic is mounted.
func TestMountPointV5(t *testing.T) {
	t.Parallel()
	mounted, plain := mountBroker(t, broker.Options{})
	pub, _ := connect5(t, mounted, "pub", true, nil)
	sub, _ := connect5(t, mounted, "sub", true, nil)
	psub, _ := connect5(t, plain, "psub", true, nil)
	subscribe5(t, sub, 42, packets.Subscription{Filter: "i/+", QoS: 1})
	subscribe5(t, psub, 0, packets.Subscription{Filter: "a/i/#"})

	p := publish5("i/1", 1, 1, "first", 3)
	p.Properties.MessageExpiry = 60
	p.Properties.Set(packets.PropMessageExpiry)
	pub.Send(p)
	expectAck(t, pub, packets.TypePuback, 1)
	pub.Send(publish5("", 0, 0, "again", 3)) // the alias alone
	for _, want := range []string{"first", "again"} {
		got := expectTopic(t, sub, "i/1")
		if string(got.Payload) != want || len(got.Properties.SubscriptionIDs) != 1 || got.Properties.SubscriptionIDs[0] != 42 {
			t.Fatalf("mounted delivery %+v, want %q with subscription identifier 42", got, want)
		}
		if want == "first" && (!got.Properties.Has(packets.PropMessageExpiry) || got.Properties.MessageExpiry > 60) {
			t.Fatalf("mounted delivery lost its message expiry: %+v", got.Properties)
		}
		if got.QoS == 1 {
			sub.Send(&packets.Ack{Kind: packets.TypePuback, PacketID: got.PacketID})
		}
		expectTopic(t, psub, "a/i/1")
	}
}

// Access control sees the whole topic: the ACL names "a/t", and the
// mounted client writes "t". Nor may a mounted client write what it sees
// as $SYS.
func TestMountPointACL(t *testing.T) {
	t.Parallel()
	r := newRules(map[string][]string{"": {"#"}}, map[string][]string{"": {"a/t", "a/$SYS/#"}})
	mounted, _ := mountBroker(t, broker.Options{Authorizer: r})
	c, _ := connect5(t, mounted, "c", true, nil)
	subscribe5(t, c, 0, packets.Subscription{Filter: "#"})
	for _, name := range []string{"u", "$SYS/x"} {
		c.Send(publish5(name, 1, 1, "denied", 0))
		if a, ok := c.Expect().(*packets.Ack); !ok || a.PacketID != 1 || a.ReasonCode != packets.NotAuthorized {
			t.Fatalf("PUBLISH %q: got %+v, want PUBACK 0x87", name, a)
		}
	}
	c.Send(publish5("t", 1, 2, "allowed", 0))
	expectAck(t, c, packets.TypePuback, 2)
	if p := expectTopic(t, c, "t"); string(p.Payload) != "allowed" {
		t.Fatalf("got %+v", p)
	}
}
