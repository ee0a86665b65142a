package broker_test

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/internal/mosquittotest"
	"github.com/midge-mqtt/midge/packets"
)

// connectBridge connects as a Mosquitto bridge does with try_private: the
// protocol level with bit 7 set (0x83 for 3.1, 0x84 for 3.1.1).
func connectBridge(t *testing.T, addr string, version byte, clientID string) *brokertest.Conn {
	t.Helper()
	c := brokertest.Dial(t, addr, version)
	name := "MQTT"
	if version == packets.V31 {
		name = "MQIsdp"
	}
	c.Send(&packets.Connect{ProtocolName: name, Version: version, Bridge: true, CleanStart: true, KeepAlive: 60, ClientID: clientID})
	if ack, ok := c.Expect().(*packets.Connack); !ok || ack.ReasonCode != 0 {
		t.Fatalf("bridge CONNACK = %+v", ack)
	}
	return c
}

// A Mosquitto bridge (protocol level 0x83 or 0x84) gets none of its own
// publications back and the RETAIN flag as published, as if each of its
// subscriptions had No Local and Retain As Published; the log calls it a
// bridge. Without this a bridge configured "both" sees every message twice.
func TestBridgeNoLocalRetainAsPublished(t *testing.T) {
	t.Parallel()
	log := &mosquittotest.SyncBuffer{}
	b := brokertest.Start(t, broker.Options{Logger: slog.New(slog.NewTextHandler(log, nil))})
	for _, version := range []byte{packets.V31, packets.V311} {
		bridge := connectBridge(t, b.Addr, version, "bridge")
		bridge.Send(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: "x/#", QoS: 1}}})
		if _, ok := bridge.Expect().(*packets.Suback); !ok {
			t.Fatal("no SUBACK")
		}
		plain := brokertest.Connect(t, b.Addr, version, "plain", true)
		plain.Send(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: "x/#", QoS: 1}}})
		if _, ok := plain.Expect().(*packets.Suback); !ok {
			t.Fatal("no SUBACK")
		}

		// Its own message: PUBACK and then nothing before the PINGRESP.
		bridge.Send(&packets.Publish{Topic: "x/own", QoS: 1, PacketID: 2, Payload: []byte("from the bridge")})
		if _, ok := bridge.Expect().(*packets.Ack); !ok {
			t.Fatal("no PUBACK")
		}
		bridge.Send(&packets.Pingreq{})
		if p := bridge.Expect(); p.Type() != packets.TypePingresp {
			t.Fatalf("level %d: the bridge got %T %+v back, want no copy of its own message", version, p, p)
		}
		if p := expectPublish(t, plain); p.Topic != "x/own" {
			t.Fatalf("plain subscriber got %+v", p)
		}

		// Another client's retained message reaches the bridge with RETAIN
		// set and the plain subscriber without [MQTT-3.3.1-9].
		plain.Send(&packets.Publish{Topic: "x/kept", Retain: true, Payload: []byte("retained")})
		if p := expectPublish(t, bridge); p.Topic != "x/kept" || !p.Retain {
			t.Fatalf("level %d: bridge got %+v, want x/kept with RETAIN", version, p)
		}
		if p := expectPublish(t, plain); p.Topic != "x/kept" || p.Retain {
			t.Fatalf("level %d: plain subscriber got %+v, want x/kept without RETAIN", version, p)
		}
		plain.Send(&packets.Publish{Topic: "x/kept", Retain: true}) // clears it for the next round
		expectPublish(t, bridge)
		expectPublish(t, plain)
		bridge.Send(&packets.Disconnect{})
		plain.Send(&packets.Disconnect{})
		bridge.ExpectClosed()
		plain.ExpectClosed()
	}
	waitFor(t, func() bool { return strings.Count(log.String(), "New bridge connected from") == 2 })
	if n := strings.Count(log.String(), "New client connected from"); n != 2 {
		t.Errorf("%d \"New client connected\" lines, want 2 (the plain clients):\n%s", n, log.String())
	}
}

// Mosquitto ignores bit 7 of the protocol level at MQTT 5 (0x85): an MQTT 5
// bridge asks for No Local itself. The client is an ordinary one.
func TestBridgeBitIgnoredAtV5(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{})
	c, _ := connect5(t, b.Addr, "v5bridge", true, func(p *packets.Connect) { p.Bridge = true })
	subscribe5(t, c, 0, packets.Subscription{Filter: "x/#"})
	c.Send(&packets.Publish{Topic: "x/own", Retain: true, Payload: []byte("mine")})
	if p := expectPublish(t, c); p.Topic != "x/own" || p.Retain {
		t.Fatalf("got %+v, want its own message back without RETAIN", p)
	}
}
