package packets

import (
	"bytes"
	"fmt"
	"testing"
)

const benchTopic = "sensors/building-1/floor-2/temperature"

// benchPublish returns a QoS 1 PUBLISH with a payload of size bytes; for
// MQTT 5 it carries a Message Expiry Interval.
func benchPublish(size int, version byte) *Publish {
	p := &Publish{QoS: 1, Topic: benchTopic, PacketID: 1, Payload: bytes.Repeat([]byte{'x'}, size)}
	if version >= V5 {
		p.Properties.MessageExpiry = 3600
		p.Properties.Set(PropMessageExpiry)
	}
	return p
}

var benchCases = []struct {
	name    string
	size    int
	version byte
}{
	{"v3.1.1/16B", 16, V311},
	{"v3.1.1/1KiB", 1 << 10, V311},
	{"v3.1.1/64KiB", 64 << 10, V311},
	{"v5/16B", 16, V5},
	{"v5/1KiB", 1 << 10, V5},
	{"v5/64KiB", 64 << 10, V5},
}

// BenchmarkPublishDecode decodes into one reused value, as a connection's
// read loop does; the payload is aliased, not touched, so the time does not
// grow with its size.
func BenchmarkPublishDecode(b *testing.B) {
	for _, c := range benchCases {
		b.Run(c.name, func(b *testing.B) {
			wire, err := benchPublish(c.size, c.version).Encode(nil, c.version)
			if err != nil {
				b.Fatal(err)
			}
			h, body := readFrame(b, wire)
			var p Publish
			b.ReportAllocs()
			for b.Loop() {
				if err := p.Decode(h.Flags, body, c.version); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPublishDecodeNew decodes into a new value each time, so the
// topic string is always allocated: the cost of a topic seen for the first
// time.
func BenchmarkPublishDecodeNew(b *testing.B) {
	for _, version := range []byte{V311, V5} {
		b.Run(fmt.Sprintf("v%s/1KiB", versionName(version)), func(b *testing.B) {
			wire, _ := benchPublish(1<<10, version).Encode(nil, version)
			h, body := readFrame(b, wire)
			b.ReportAllocs()
			for b.Loop() {
				var p Publish
				if err := p.Decode(h.Flags, body, version); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPublishEncode(b *testing.B) {
	for _, c := range benchCases {
		b.Run(c.name, func(b *testing.B) {
			p := benchPublish(c.size, c.version)
			dst := make([]byte, 0, c.size+128)
			b.SetBytes(int64(c.size))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if dst, err = p.Encode(dst[:0], c.version); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReadDecode frames and decodes a stream of 1 KiB PUBLISH packets.
func BenchmarkReadDecode(b *testing.B) {
	for _, version := range []byte{V311, V5} {
		b.Run(fmt.Sprintf("v%s/1KiB", versionName(version)), func(b *testing.B) {
			wire, _ := benchPublish(1<<10, version).Encode(nil, version)
			stream := &repeatReader{packet: wire}
			r := NewReader(stream, 0)
			var p Publish
			b.SetBytes(int64(len(wire)))
			b.ReportAllocs()
			for b.Loop() {
				h, body, err := r.ReadFrame()
				if err != nil {
					b.Fatal(err)
				}
				if err := p.Decode(h.Flags, body, version); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// repeatReader returns the same packet over and over.
type repeatReader struct {
	packet []byte
	offset int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.packet[r.offset:])
		n += c
		r.offset = (r.offset + c) % len(r.packet)
	}
	return n, nil
}

func readFrame(tb testing.TB, wire []byte) (FixedHeader, []byte) {
	tb.Helper()
	h, body, err := NewReader(bytes.NewReader(wire), 0).ReadFrame()
	if err != nil {
		tb.Fatal(err)
	}
	return h, body
}

func TestPublishDecodeAllocs(t *testing.T) {
	for _, version := range []byte{V311, V5} {
		first, _ := benchPublish(100, version).Encode(nil, version)
		other := benchPublish(100, version)
		other.Topic = "another/topic"
		second, _ := other.Encode(nil, version)
		h1, body1 := readFrame(t, first)
		h2, body2 := readFrame(t, second)
		var p Publish
		same := testing.AllocsPerRun(100, func() {
			if err := p.Decode(h1.Flags, body1, version); err != nil {
				t.Fatal(err)
			}
		})
		alternating := testing.AllocsPerRun(100, func() {
			_ = p.Decode(h1.Flags, body1, version)
			_ = p.Decode(h2.Flags, body2, version)
		})
		if same != 0 || alternating > 2 {
			t.Errorf("v%s: PUBLISH decode allocates %.1f times for a repeated topic (want 0) and %.1f for two alternating topics (want at most 1 each)",
				versionName(version), same, alternating)
		}
	}
}

func TestPublishEncodeAllocs(t *testing.T) {
	for _, version := range []byte{V311, V5} {
		p := benchPublish(100, version)
		dst := make([]byte, 0, 512)
		allocs := testing.AllocsPerRun(100, func() {
			dst, _ = p.Encode(dst[:0], version)
		})
		if allocs != 0 {
			t.Errorf("v%s: PUBLISH encode allocates %.1f times, want 0", versionName(version), allocs)
		}
	}
}
