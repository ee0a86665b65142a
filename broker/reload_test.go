package broker_test

import (
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/packets"
)

// Reload changes limits while clients stay connected: message_size_limit
// and retain_available take effect on the next PUBLISH, and $SYS, off at
// the start, begins.
func TestReload(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{MessageSizeLimit: 4, SysInterval: -1})
	sub := brokertest.Connect(t, b.Addr, packets.V311, "sub", true)
	subscribe(t, sub, "r/#", 0)
	pub := brokertest.Connect(t, b.Addr, packets.V311, "pub", true)
	pub.Send(&packets.Publish{Topic: "r/1", Payload: []byte("too long")})
	pub.Send(&packets.Publish{Topic: "r/1", Payload: []byte("ok")})
	if p := expectPublish(t, sub); string(p.Payload) != "ok" {
		t.Fatalf("before the reload got %q, want only the short message", p.Payload)
	}

	b.Server.Reload(broker.Options{SysInterval: 50e6, RetainUnavailable: true})
	pub.Send(&packets.Publish{Topic: "r/2", Payload: []byte("now long enough")})
	if p := expectPublish(t, sub); string(p.Payload) != "now long enough" {
		t.Fatalf("after the reload got %q", p.Payload)
	}
	pub.Send(&packets.Publish{Topic: "r/3", Retain: true, Payload: []byte("kept?")})
	if p := pub.ExpectClosed(); p != nil {
		t.Fatalf("retained PUBLISH after retain_available false: got %+v, want the connection closed", p)
	}

	sys := brokertest.Connect(t, b.Addr, packets.V311, "sys", true)
	subscribe(t, sys, "$SYS/broker/uptime", 0)
	if p := expectPublish(t, sys); !strings.HasSuffix(string(p.Payload), " seconds") {
		t.Fatalf("$SYS/broker/uptime = %q", p.Payload)
	}
	sub.Send(&packets.Pingreq{})
	if _, ok := sub.Expect().(*packets.Pingresp); !ok {
		t.Fatal("the subscriber lost its connection over the reload")
	}
}
