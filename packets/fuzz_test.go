package packets

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

var fuzzVersions = [...]byte{V31, V311, V5}

// FuzzDecode checks that Decode never panics, that every error is an
// *Error, and that whatever decodes survives Encode and Decode unchanged.
func FuzzDecode(f *testing.F) {
	for _, v := range vectors {
		f.Add(v.version, v.wire[0], v.wire[1+VarintSize(len(v.wire)-2):])
	}
	for _, c := range badInputs {
		if len(c.wire) > 1 {
			f.Add(c.version, c.wire[0], c.wire[2:])
		}
	}
	f.Fuzz(func(t *testing.T, version, first byte, body []byte) {
		version = fuzzVersions[int(version)%len(fuzzVersions)]
		h := FixedHeader{Type: Type(first >> 4), Flags: first & 0x0F, Remaining: len(body)}
		p, err := Decode(h, body, version)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || !e.Code.IsError() {
				t.Fatalf("Decode error %v is not an *Error with a failure code", err)
			}
			return
		}
		checkRoundTrip(t, p, version)
	})
}

// checkRoundTrip encodes p, decodes the result and compares, then checks
// that encoding is stable.
func checkRoundTrip(t *testing.T, p Packet, version byte) {
	t.Helper()
	wire, err := p.Encode(nil, version)
	if err != nil {
		t.Fatalf("Encode of a decoded %v: %v", p.Type(), err)
	}
	r := NewReader(bytes.NewReader(wire), 0)
	h, body, err := r.ReadFrame()
	if err != nil {
		t.Fatalf("ReadFrame of an encoded %v: %v", p.Type(), err)
	}
	again, err := Decode(h, body, version)
	if err != nil {
		t.Fatalf("Decode(Encode(p)) of %v: %v\n% X", p.Type(), err, wire)
	}
	if !reflect.DeepEqual(again, p) {
		t.Fatalf("Decode(Encode(p)) differs\n got %+v\nwant %+v", again, p)
	}
	wire2, err := again.Encode(nil, version)
	if err != nil || !bytes.Equal(wire, wire2) {
		t.Fatalf("encoding is not stable: % X then % X (%v)", wire, wire2, err)
	}
}

// chunkReader hands out data in chunks whose sizes cycle through sizes.
type chunkReader struct {
	data  []byte
	sizes []byte
	reads int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := 1
	if len(c.sizes) > 0 {
		n += int(c.sizes[c.reads%len(c.sizes)])
		c.reads++
	}
	n = copy(p, c.data[:min(n, len(c.data))])
	c.data = c.data[n:]
	return n, nil
}

// FuzzReader feeds a stream to a Reader in chunks of fuzzed sizes and checks
// every frame against a direct parse of the stream, and that the buffer
// never holds more than twice what has arrived.
func FuzzReader(f *testing.F) {
	var all []byte
	for _, v := range vectors {
		all = append(all, v.wire...)
	}
	f.Add(all, []byte{0, 3, 200}, uint16(16), uint16(0))
	f.Add(b(0x30, 0xFF, 0xFF, 0xFF, 0x7F, 1, 2, 3), []byte{1}, uint16(16), uint16(0))
	f.Add(b(0x30, 0x80, 0x01, make([]byte, 128)), []byte{7}, uint16(20), uint16(100))
	f.Fuzz(func(t *testing.T, stream, sizes []byte, bufSize, limit uint16) {
		src := &chunkReader{data: stream, sizes: sizes}
		r := NewReader(src, int(bufSize))
		r.SetMaxPacketSize(int(limit))
		size, maxSize := max(int(bufSize), minBufSize), int(limit)
		if bufSize == 0 {
			size = defaultBufSize
		}
		if limit == 0 {
			maxSize = MaxPacketSize
		}
		want := stream
		for {
			h, body, err := r.ReadFrame()
			arrived := len(stream) - len(src.data)
			if r.Size() > max(size, 2*arrived) {
				t.Fatalf("buffer of %d bytes after %d bytes arrived", r.Size(), arrived)
			}
			var rest []byte
			rest, err = checkFrame(t, want, h, body, err, maxSize)
			if err != nil {
				return
			}
			want = rest
		}
	})
}

// checkFrame compares what ReadFrame returned with a direct parse of the
// stream left, and returns the stream after the frame. A non-nil error
// ends the stream.
func checkFrame(t *testing.T, stream []byte, h FixedHeader, body []byte, err error, limit int) ([]byte, error) {
	t.Helper()
	if len(stream) == 0 {
		if err != io.EOF {
			t.Fatalf("at the end of the stream: %v, want io.EOF", err)
		}
		return nil, err
	}
	remaining, n, verr := decodeVarint(stream[1:])
	switch {
	case verr != nil:
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("bad remaining length: %v, want malformed", err)
		}
		return nil, err
	case n == 0:
		if err != io.ErrUnexpectedEOF {
			t.Fatalf("truncated header: %v", err)
		}
		return nil, err
	case 1+n+remaining > limit:
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("%d-byte packet over the limit %d: %v", 1+n+remaining, limit, err)
		}
		return nil, err
	case 1+n+remaining > len(stream):
		if err != io.ErrUnexpectedEOF {
			t.Fatalf("truncated body: %v", err)
		}
		return nil, err
	}
	if err != nil {
		t.Fatalf("ReadFrame: %v", err)
	}
	if h.Type != Type(stream[0]>>4) || h.Flags != stream[0]&0x0F || h.Remaining != remaining ||
		!bytes.Equal(body, stream[1+n:1+n+remaining]) {
		t.Fatalf("frame %+v % X differs from the stream % X", h, body, stream[:1+n+remaining])
	}
	return stream[1+n+remaining:], nil
}
