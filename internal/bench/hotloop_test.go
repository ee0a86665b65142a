package bench

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/midge-mqtt/midge/packets"
)

// testPublisher is a publisher over no connection, for the encoding path.
func testPublisher(t testing.TB, qos byte, size int, version byte) *publisher {
	t.Helper()
	conn := &rawConn{version: version, receiveMax: 65535}
	p, err := newPublisher(7, conn, "bench/topic/7", size, publishPlan{qos: qos, window: 1 << 15, batch: 64})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// decodeStream splits encoded packets with the packets package's Reader.
func decodeStream(t *testing.T, b []byte, version byte) []*packets.Publish {
	t.Helper()
	r := packets.NewReader(bytes.NewReader(b), 0)
	var out []*packets.Publish
	for {
		h, body, err := r.ReadFrame()
		if err != nil {
			return out
		}
		p, err := packets.Decode(h, body, version)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p.(*packets.Publish))
	}
}

func TestPublisherBatchEncodes(t *testing.T) {
	for _, version := range []byte{packets.V311, packets.V5} {
		for _, qos := range []byte{0, 1, 2} {
			p := testPublisher(t, qos, 32, version)
			p.nextID = 65534 // the identifier wraps past 0
			if err := p.appendBatch(4, 12345); err != nil {
				t.Fatal(err)
			}
			msgs := decodeStream(t, p.buf, version)
			if len(msgs) != 4 {
				t.Fatalf("v%d QoS %d: decoded %d messages, want 4", version, qos, len(msgs))
			}
			wantIDs := []uint16{65534, 65535, 1, 2}
			for i, m := range msgs {
				h, err := DecodeHeader(m.Payload)
				if err != nil || h != (Header{Publisher: 7, Sequence: uint32(i), SentAt: 12345}) || len(m.Payload) != 32 {
					t.Fatalf("v%d QoS %d message %d: header %+v, %v, payload %d bytes", version, qos, i, h, err, len(m.Payload))
				}
				if m.Topic != "bench/topic/7" || m.QoS != qos {
					t.Fatalf("message %d: topic %q QoS %d", i, m.Topic, m.QoS)
				}
				if qos > 0 && m.PacketID != wantIDs[i] {
					t.Fatalf("message %d: packet id %d, want %d", i, m.PacketID, wantIDs[i])
				}
			}
		}
	}
}

func TestParsePublish(t *testing.T) {
	for _, version := range []byte{packets.V311, packets.V5} {
		for _, qos := range []byte{0, 1, 2} {
			msg := packets.Publish{QoS: qos, Topic: "a/b", Payload: []byte("hello")}
			if qos > 0 {
				msg.PacketID = 42
			}
			if version == packets.V5 {
				msg.Properties.ContentType = "text/plain"
				msg.Properties.MessageExpiry = 60
				msg.Properties.Set(packets.PropMessageExpiry)
			}
			b, err := msg.Encode(nil, version)
			if err != nil {
				t.Fatal(err)
			}
			h, body, err := packets.NewReader(bytes.NewReader(b), 0).ReadFrame()
			if err != nil {
				t.Fatal(err)
			}
			id, payload, err := parsePublish(h.Flags, body, version)
			if err != nil || id != msg.PacketID || string(payload) != "hello" {
				t.Fatalf("v%d QoS %d: id %d payload %q err %v", version, qos, id, payload, err)
			}
			for cut := range body {
				if _, p, err := parsePublish(h.Flags, body[:cut], version); err == nil && len(p) > len(body[:cut]) {
					t.Fatalf("truncated body accepted beyond its end")
				}
			}
		}
	}
}

// frames encodes n messages of the publisher at QoS qos as a subscriber
// would receive them, split into frames.
func frames(t testing.TB, qos byte, size, n int) (headers []packets.FixedHeader, bodies [][]byte) {
	p := testPublisher(t, qos, size, packets.V311)
	if err := p.appendBatch(n, 1); err != nil {
		t.Fatal(err)
	}
	r := packets.NewReader(bytes.NewReader(p.buf), 1<<20)
	for range n {
		h, body, err := r.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		headers = append(headers, h)
		bodies = append(bodies, body)
	}
	return headers, bodies
}

func TestHotLoopAllocatesNothing(t *testing.T) {
	for _, qos := range []byte{0, 1, 2} {
		p := testPublisher(t, qos, 64, packets.V311)
		p.appendBatch(64, 1) // grows the buffer once
		if allocs := testing.AllocsPerRun(100, func() {
			p.buf = p.buf[:0]
			p.appendBatch(64, 2)
		}); allocs != 0 {
			t.Errorf("QoS %d: a publisher batch allocates %v times", qos, allocs)
		}

		headers, bodies := frames(t, qos, 64, 64)
		s := newSubscriber(0, "bench/#", &rawConn{version: packets.V311}, 0)
		s.handle(headers[0], bodies[0], 2) // meets the publisher once
		i := 0
		if allocs := testing.AllocsPerRun(1000, func() {
			s.out = s.out[:0]
			s.handle(headers[i%64], bodies[i%64], 3)
			i++
		}); allocs != 0 {
			t.Errorf("QoS %d: handling a delivery allocates %v times", qos, allocs)
		}
	}
}

func BenchmarkPublisherBatch(b *testing.B) {
	for _, size := range []int{16, 64, 1024} {
		for _, qos := range []byte{0, 1} {
			b.Run(fmt.Sprintf("%dB/QoS%d", size, qos), func(b *testing.B) {
				p := testPublisher(b, qos, size, packets.V311)
				b.ReportAllocs()
				b.SetBytes(int64(64 * len(p.template)))
				for b.Loop() {
					p.buf = p.buf[:0]
					p.appendBatch(64, 1)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*64), "ns/msg")
			})
		}
	}
}

func BenchmarkSubscriberHandle(b *testing.B) {
	for _, size := range []int{16, 64, 1024} {
		for _, qos := range []byte{0, 1} {
			b.Run(fmt.Sprintf("%dB/QoS%d", size, qos), func(b *testing.B) {
				headers, bodies := frames(b, qos, size, 64)
				s := newSubscriber(0, "bench/#", &rawConn{version: packets.V311}, 0)
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					s.out = s.out[:0]
					s.handle(headers[i%64], bodies[i%64], 3)
					i++
				}
			})
		}
	}
}
