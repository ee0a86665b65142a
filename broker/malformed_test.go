package broker_test

import (
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/packets"
)

// connect311 is a valid MQTT 3.1.1 CONNECT: clean session, keep alive 60,
// client id "x".
var connect311 = []byte{0x10, 0x0D, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 1, 'x'}

// Each malformed or illegal packet closes that connection and nothing else:
// a bystander subscribed before every case still receives messages after it.
func TestMalformedClosesOnlyThatConnection(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{ConnectTimeout: 2 * time.Second})
	bystander := brokertest.Connect(t, b.Addr, packets.V311, "bystander", true)
	bystander.Send(&packets.Subscribe{PacketID: 1, Subscriptions: []packets.Subscription{{Filter: "check/#", QoS: 1}}})
	if _, ok := bystander.Expect().(*packets.Suback); !ok {
		t.Fatal("no SUBACK")
	}

	beforeConnect := []struct {
		name  string
		bytes []byte
	}{
		{"MQTT-3.1.0-1 first packet PUBLISH", []byte{0x30, 0x05, 0, 1, 'a', 'h', 'i'}},
		{"MQTT-3.1.0-1 first packet PINGREQ", []byte{0xC0, 0x00}},
		{"MQTT-3.1.0-1 first packet claims 268 MB", []byte{0x82, 0xFF, 0xFF, 0xFF, 0x7F}},
		{"CONNECT claims 268 MB", []byte{0x10, 0xFF, 0xFF, 0xFF, 0x7F}},
		{"CONNECT over 100000 bytes", []byte{0x10, 0xA1, 0x8D, 0x06}}, // 100001
		{"MQTT-2.2.2-2 CONNECT flags 0x1", []byte{0x11, 0x0D, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 1, 'x'}},
		{"MQTT-3.1.2-1 unknown protocol name", []byte{0x10, 0x0D, 0, 4, 'M', 'Q', 'T', 'X', 4, 0x02, 0, 60, 0, 1, 'x'}},
		{"MQTT-3.1.2-3 reserved connect flag", []byte{0x10, 0x0D, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x03, 0, 60, 0, 1, 'x'}},
		{"remaining length of 5 bytes", []byte{0x10, 0x80, 0x80, 0x80, 0x80, 0x01}},
		{"MQTT-1.5.3-2 client id with U+0000", []byte{0x10, 0x0D, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 1, 0}},
		{"MQTT-1.5.3-1 client id invalid UTF-8", []byte{0x10, 0x0E, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 2, 0xC3, 0x28}},
		{"MQTT-3.1.4-1 CONNECT with trailing bytes", []byte{0x10, 0x0E, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 1, 'x', 'y'}},
	}
	for _, tc := range beforeConnect {
		t.Run(tc.name, func(t *testing.T) {
			c := brokertest.Dial(t, b.Addr, packets.V311)
			c.Write(tc.bytes)
			if p := c.ExpectClosed(); p != nil {
				t.Fatalf("got %T before close, want a bare close", p)
			}
			checkBystander(t, b, bystander)
		})
	}

	afterConnect := []struct {
		name  string
		bytes []byte
	}{
		{"MQTT-3.1.0-2 second CONNECT", connect311},
		{"remaining length of 5 bytes", []byte{0x30, 0x80, 0x80, 0x80, 0x80, 0x01}},
		{"MQTT-3.3.1-4 PUBLISH QoS 3", []byte{0x36, 0x05, 0, 1, 'a', 0, 1}},
		{"MQTT-3.3.1-2 PUBLISH QoS 0 with DUP", []byte{0x38, 0x03, 0, 1, 'a'}},
		{"MQTT-1.5.3-1 PUBLISH topic invalid UTF-8", []byte{0x30, 0x04, 0, 2, 0xC3, 0x28}},
		{"MQTT-1.5.3-2 PUBLISH topic with U+0000", []byte{0x30, 0x03, 0, 1, 0}},
		{"MQTT-3.3.2-2 PUBLISH topic with +", []byte{0x30, 0x05, 0, 3, 'a', '/', '+'}},
		{"MQTT-3.3.2-2 PUBLISH topic with #", []byte{0x30, 0x03, 0, 1, '#'}},
		{"MQTT-4.7.3-1 PUBLISH empty topic", []byte{0x30, 0x02, 0, 0}},
		{"MQTT-2.3.1-1 PUBLISH QoS 1 packet id 0", []byte{0x32, 0x05, 0, 1, 'a', 0, 0}},
		{"MQTT-3.8.3-3 SUBSCRIBE without filters", []byte{0x82, 0x02, 0, 1}},
		{"MQTT-3.8.1-1 SUBSCRIBE reserved flags", []byte{0x80, 0x06, 0, 1, 0, 1, 'a', 0}},
		{"MQTT-3.8.3-4 SUBSCRIBE QoS 3", []byte{0x82, 0x06, 0, 1, 0, 1, 'a', 3}},
		{"MQTT-2.3.1-1 SUBSCRIBE packet id 0", []byte{0x82, 0x06, 0, 0, 0, 1, 'a', 0}},
		{"MQTT-4.7.1-2 SUBSCRIBE filter a/#/b", []byte{0x82, 0x0A, 0, 1, 0, 5, 'a', '/', '#', '/', 'b', 0}},
		{"MQTT-3.10.3-2 UNSUBSCRIBE without filters", []byte{0xA2, 0x02, 0, 1}},
		{"MQTT-2.2.2-2 PINGREQ with flags", []byte{0xC1, 0x00}},
		{"MQTT-3.14.1-1 DISCONNECT with flags", []byte{0xE1, 0x00}},
		{"MQTT-4.8.0-1 client sends CONNACK", []byte{0x20, 0x02, 0, 0}},
		{"MQTT-4.8.0-1 client sends SUBACK", []byte{0x90, 0x03, 0, 1, 0}},
		{"MQTT-4.8.0-1 packet type 0", []byte{0x00, 0x00}},
		{"MQTT-4.8.0-1 packet type 15", []byte{0xF0, 0x00}},
		{"MQTT-4.8.0-1 PUBACK too long", []byte{0x40, 0x03, 0, 1, 0}},
	}
	for _, tc := range afterConnect {
		t.Run(tc.name, func(t *testing.T) {
			c := brokertest.Connect(t, b.Addr, packets.V311, "bad-"+t.Name(), true)
			c.Write(tc.bytes)
			if p := c.ExpectClosed(); p != nil {
				t.Fatalf("got %T before close, want a bare close", p)
			}
			checkBystander(t, b, bystander)
		})
	}
}

var checkSeq byte

func TestUnsupportedProtocolLevelGetsConnack1(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{})
	for _, level := range []byte{2, 6, 255} {
		c := brokertest.Dial(t, b.Addr, packets.V311)
		c.Write([]byte{0x10, 0x0D, 0, 4, 'M', 'Q', 'T', 'T', level, 0x02, 0, 60, 0, 1, 'x'})
		p := c.ExpectClosed()
		ack, ok := p.(*packets.Connack)
		if !ok || ack.ReasonCode != packets.ConnRefusedVersion {
			t.Errorf("level %d: got %+v, want CONNACK 1 [MQTT-3.1.2-2]", level, p)
		}
	}
}

func TestConnectTimeouts(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{ConnectTimeout: 500 * time.Millisecond})
	t.Run("silent", func(t *testing.T) {
		c := brokertest.Dial(t, b.Addr, packets.V311)
		c.Timeout = 3 * time.Second
		start := time.Now()
		c.ExpectClosed()
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("closed after %v, want about 500ms", d)
		}
	})
	t.Run("trickle", func(t *testing.T) {
		c := brokertest.Dial(t, b.Addr, packets.V311)
		// One byte every 100ms: the CONNECT deadline is for the whole
		// packet, so this is closed before it completes.
		start := time.Now()
		for _, by := range connect311 {
			c.Net.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := c.Net.Write([]byte{by}); err != nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		c.Timeout = 3 * time.Second
		c.ExpectClosed()
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("closed after %v, want about 500ms", d)
		}
	})
}
