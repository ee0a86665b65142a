package brokercmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/internal/mosquittotest"
	"github.com/midge-mqtt/midge/packets"
)

// expectPublish reads c until a PUBLISH arrives, acknowledging QoS 1, and
// returns its topic and payload.
func expectPublish(t *testing.T, c *brokertest.Conn) (topic, payload string) {
	t.Helper()
	for {
		p, ok := c.Expect().(*packets.Publish)
		if !ok {
			continue
		}
		if p.QoS == 1 {
			c.Send(&packets.Ack{Kind: packets.TypePuback, PacketID: p.PacketID})
		}
		return p.Topic, string(p.Payload)
	}
}

// expectTopic reads publishes from c until one on topic arrives.
func expectTopic(t *testing.T, c *brokertest.Conn, topic, payload string) {
	t.Helper()
	for {
		got, body := expectPublish(t, c)
		if got == topic && (payload == "" || body == payload) {
			return
		}
	}
}

func subscribe(t *testing.T, c *brokertest.Conn, filters ...string) {
	t.Helper()
	s := &packets.Subscribe{PacketID: 1}
	for _, f := range filters {
		s.Subscriptions = append(s.Subscriptions, packets.Subscription{Filter: f, QoS: 1})
	}
	c.Send(s)
	for {
		switch p := c.Expect().(type) {
		case *packets.Suback:
			return
		case *packets.Ack: // a PUBACK for what the test sent before
		default:
			t.Fatalf("%T before the SUBACK", p)
		}
	}
}

// The broker command runs the connection sections of its configuration
// file: messages cross both ways, $SYS shows the bridge, and a reload
// removes, adds and changes bridges.
func TestBrokerRunsBridges(t *testing.T) {
	remote := brokertest.Start(t, broker.Options{})
	dir := t.TempDir()
	addr := mosquittotest.FreeAddr(t)
	_, port := splitAddr(t, addr)
	conf := filepath.Join(dir, "midge.conf")
	logFile := filepath.Join(dir, "midge.log")
	write := func(sections ...string) {
		text := "listener " + port + " 127.0.0.1\nallow_anonymous true\nsys_interval 1\nlog_dest file " + logFile + "\n\n" +
			strings.Join(sections, "\n")
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	far := brokertest.Connect(t, remote.Addr, packets.V311, "far", true)
	subscribe(t, far, "sensors/#", "other/#", "again/#", "$SYS/broker/connection/#")
	cloud := "connection cloud\naddress " + remote.Addr + "\nremote_clientid pi.cloud\ntopic sensors/# out 1\ntopic cmd/# in 1\n"
	write(cloud)
	reload := runWithReload(t, conf)
	connackCode(t, addr)

	// A message published as soon as the broker accepts clients crosses
	// (the broker waits for its bridges' local subscriptions; the bridge
	// tests check Ready itself).
	local := brokertest.Connect(t, addr, packets.V311, "local", true)
	local.Send(&packets.Publish{Topic: "sensors/early", QoS: 1, PacketID: 9, Payload: []byte("first")})
	expectTopic(t, far, "sensors/early", "first")
	subscribe(t, local, "cmd/#", "$SYS/broker/bridges/cloud/connected")
	expectTopic(t, local, "$SYS/broker/bridges/cloud/connected", "1")

	local.Send(&packets.Publish{Topic: "sensors/t", QoS: 1, PacketID: 1, Payload: []byte("21")})
	expectTopic(t, far, "sensors/t", "21")
	far.Send(&packets.Publish{Topic: "cmd/lamp", QoS: 1, PacketID: 1, Payload: []byte("on")})
	expectTopic(t, local, "cmd/lamp", "on")

	// Reload: cloud goes, other comes.
	other := "connection other\naddress " + remote.Addr + "\nremote_clientid pi.other\ntopic other/# out 1\n"
	write(other)
	reload <- struct{}{}
	waitForText(t, logFile, "Bridge cloud removed.")
	waitForText(t, logFile, "Bridge other added.")
	expectTopic(t, far, "$SYS/broker/connection/pi.cloud/state", "0")
	expectTopic(t, far, "$SYS/broker/connection/pi.other/state", "1")
	local.Send(&packets.Publish{Topic: "sensors/t", QoS: 1, PacketID: 2, Payload: []byte("gone")})
	local.Send(&packets.Publish{Topic: "other/t", QoS: 1, PacketID: 3, Payload: []byte("here")})
	if topic, payload := expectPublish(t, far); topic != "other/t" {
		t.Fatalf("after removing cloud the remote got %s %q first", topic, payload)
	}

	// Reload: other changes its topic, at once with immediate.
	write(strings.Replace(other, "topic other/#", "bridge_reload_type immediate\ntopic again/#", 1))
	reload <- struct{}{}
	waitForText(t, logFile, "Bridge other restarted with its new configuration.")
	expectTopic(t, far, "$SYS/broker/connection/pi.other/state", "1")
	deadline := time.Now().Add(5 * time.Second)
	for i := uint16(10); ; i++ {
		// The new subscription may not be in place on the first try.
		local.Send(&packets.Publish{Topic: "again/t", QoS: 0, Payload: []byte("x")})
		far.Timeout = 300 * time.Millisecond
		p, err := far.Read()
		if err == nil {
			if pub, ok := p.(*packets.Publish); ok && pub.Topic == "again/t" {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("again/t never crossed after the immediate reload")
		}
	}

	// Reload: a change without immediate waits for the connection to end.
	write(strings.Replace(other, "topic other/#", "topic lazy/#", 1))
	reload <- struct{}{}
	waitForText(t, logFile, "Bridge other changed; the change applies when its connection ends")
	time.Sleep(300 * time.Millisecond)
	if b, _ := os.ReadFile(logFile); strings.Count(string(b), "Bridge other restarted") != 1 {
		t.Fatalf("a lazy change restarted the bridge while it was connected:\n%s", b)
	}
	remote.Stop()
	mosquittotest.WaitFor(t, 5*time.Second, "the lazy change applied once the remote went", func() bool {
		b, _ := os.ReadFile(logFile)
		return strings.Count(string(b), "Bridge other restarted") == 2
	})
}
