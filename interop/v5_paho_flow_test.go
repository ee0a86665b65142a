package interop

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// quiet is how long a test watches for a message that must not come. The
// broker sends what it may at once, so a wrong message shows up well
// within it.
const quiet = 300 * time.Millisecond

// A paho.golang subscriber that announces Receive Maximum 2 and
// acknowledges by hand never holds more than 2 unacknowledged QoS 1
// messages: the broker keeps the rest back, sends one more for each PUBACK,
// and in the end delivers all of them once, in order [MQTT-3.3.4-9].
// (Mosquitto 2.0.11 fails it: it sends two messages for the first PUBACK.)
func TestV5ReceiveMaximumPaho(t *testing.T) {
	addr := brokerAddr(t)
	topic := uniqueTopic(t)
	const window, total = 2, 6
	receiveMaximum := uint16(window)
	sub := connectV5Config(t, addr, uniqueClientID(),
		func(config *paho.ClientConfig) {
			config.EnableManualAcknowledgment = true
			config.SendAcksInterval = 5 * time.Millisecond
		},
		func(cp *paho.Connect) {
			cp.Properties = &paho.ConnectProperties{ReceiveMaximum: &receiveMaximum, RequestProblemInfo: true}
		})
	sub.subscribe(t, 0, paho.SubscribeOptions{Topic: topic, QoS: 1})
	pub := connectV5(t, addr, uniqueClientID(), nil)
	for i := range total {
		pub.publish(t, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte(strconv.Itoa(i))})
	}

	var got []*paho.Publish
	acked := 0
	receive := func() {
		t.Helper()
		p := sub.next(t, "message "+strconv.Itoa(len(got)))
		if string(p.Payload) != strconv.Itoa(len(got)) || p.QoS != 1 {
			t.Fatalf("got %q at QoS %d, want %d at QoS 1", p.Payload, p.QoS, len(got))
		}
		got = append(got, p)
		if unacked := len(got) - acked; unacked > window {
			t.Fatalf("%d messages unacknowledged, more than the Receive Maximum %d", unacked, window)
		}
	}
	ack := func(n int) {
		t.Helper()
		for ; n > 0; n-- {
			if err := sub.Ack(got[acked]); err != nil {
				t.Fatalf("ack %q: %v", got[acked].Payload, err)
			}
			acked++
		}
	}

	receive()
	receive()
	sub.none(t, quiet) // the window is full
	ack(1)
	receive()
	sub.none(t, quiet) // one PUBACK frees room for one message
	for len(got) < total {
		ack(len(got) - acked)
		receive()
	}
	ack(len(got) - acked)
	sub.none(t, quiet)
}

// A paho.golang subscriber that announces Maximum Packet Size 200 gets no
// PUBLISH over 200 bytes: one byte over, or over only because of its
// properties, is dropped, while one of exactly 200 bytes and a small one
// published after the large ones arrive [MQTT-3.1.2-24], [MQTT-3.1.2-25].
// With Receive Maximum 1, a dropped QoS 1 message must not hold the
// window. Publisher and subscriber stay connected. (Mosquitto 2.0.11 fails
// it: it sends the 201-byte PUBLISH, leaving out the first byte in its
// count.)
func TestV5MaximumPacketSizePaho(t *testing.T) {
	addr := brokerAddr(t)
	topic := uniqueTopic(t)
	const limit = 200
	maximumPacketSize, receiveMaximum := uint32(limit), uint16(1)
	sub := connectV5(t, addr, uniqueClientID(), func(cp *paho.Connect) {
		cp.Properties = &paho.ConnectProperties{MaximumPacketSize: &maximumPacketSize,
			ReceiveMaximum: &receiveMaximum, RequestProblemInfo: true}
	})
	sub.subscribe(t, 0, paho.SubscribeOptions{Topic: topic, QoS: 1})
	pub := connectV5(t, addr, uniqueClientID(), nil)

	// A QoS 1 PUBLISH without properties of 128 to 16383 bytes of remaining
	// length: type and flags (1), remaining length (2), topic length (2)
	// and topic, packet identifier (2), properties length (1), payload.
	fits := limit - 8 - len(topic)
	padded := func(name string, size int) []byte { return []byte(name + strings.Repeat(".", size-len(name))) }
	userProperty := &paho.PublishProperties{}
	userProperty.User.Add("pad", strings.Repeat("p", 40)) // 48 bytes of properties
	if got := encodedSize(t, topic, padded("exactly the limit", fits)); got != limit {
		t.Fatalf("the message meant to fill the limit encodes to %d bytes, want %d", got, limit)
	}
	for _, m := range []struct {
		payload    []byte
		properties *paho.PublishProperties
	}{
		{padded("one byte over", fits+1), nil},
		{padded("exactly the limit", fits), nil},
		{padded("over with its properties", fits-20), userProperty},
		{padded("far over", 5000), nil},
		{[]byte("small"), nil},
	} {
		pub.publish(t, &paho.Publish{Topic: topic, QoS: 1, Payload: m.payload, Properties: m.properties})
	}
	for _, want := range []string{string(padded("exactly the limit", fits)), "small"} {
		if got := sub.next(t, want[:min(len(want), 17)]); string(got.Payload) != want {
			t.Fatalf("got %d bytes %.30q..., want %d bytes %.30q...", len(got.Payload), got.Payload, len(want), want)
		}
	}
	sub.none(t, quiet)

	if r := sub.publish(t, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte("still here")}); r.ReasonCode != 0 {
		t.Fatalf("PUBACK reason %#x for the subscriber's own publish", r.ReasonCode)
	}
	if got := sub.next(t, "the subscriber's own message"); string(got.Payload) != "still here" {
		t.Fatalf("got %q", got.Payload)
	}
}

// encodedSize is the size of the QoS 1 PUBLISH without properties that
// carries payload to topic, as paho.golang's encoder writes it.
func encodedSize(t *testing.T, topic string, payload []byte) int {
	t.Helper()
	p := (&paho.Publish{Topic: topic, QoS: 1, PacketID: 1, Payload: payload}).Packet()
	var b bytes.Buffer
	if _, err := p.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.Len()
}
