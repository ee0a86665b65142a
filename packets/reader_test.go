package packets

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// scriptedReader returns one step per Read call: data, an error, or both.
type scriptedReader struct {
	t     *testing.T
	steps []readStep
}

type readStep struct {
	data []byte
	err  error
}

func (s *scriptedReader) Read(p []byte) (int, error) {
	if len(s.steps) == 0 {
		s.t.Error("Read called after the script ended")
		return 0, io.EOF
	}
	step := &s.steps[0]
	n := copy(p, step.data)
	step.data = step.data[n:]
	if len(step.data) > 0 {
		return n, nil
	}
	err := step.err
	s.steps = s.steps[1:]
	return n, err
}

func TestReaderHugeClaimKeepsBufferSmall(t *testing.T) {
	// PUBLISH claiming 268,435,455 bytes, then 10 bytes, then the end.
	stream := append(b(0x30, 0xFF, 0xFF, 0xFF, 0x7F), make([]byte, 10)...)
	r := NewReader(iotest.OneByteReader(bytes.NewReader(stream)), 0)
	h, _, err := r.ReadFrame()
	if err != io.ErrUnexpectedEOF {
		t.Fatalf("ReadFrame: %v, want io.ErrUnexpectedEOF", err)
	}
	if h.Remaining != MaxRemainingLength {
		t.Fatalf("header %+v", h)
	}
	if r.Size() > defaultBufSize {
		t.Fatalf("buffer grew to %d bytes for 15 bytes received", r.Size())
	}
}

func TestReaderGrowsOnlyWithData(t *testing.T) {
	const sent = 100 << 10
	stream := append(b(0x30, 0x80, 0x80, 0x40), make([]byte, sent)...) // claims 1 MiB
	r := NewReader(bytes.NewReader(stream), 0)
	if _, _, err := r.ReadFrame(); err != io.ErrUnexpectedEOF {
		t.Fatalf("ReadFrame: %v, want io.ErrUnexpectedEOF", err)
	}
	if r.Size() > 2*len(stream) {
		t.Fatalf("buffer of %d bytes for %d bytes received", r.Size(), len(stream))
	}
}

func TestReaderTooLarge(t *testing.T) {
	header := b(0x30, 0xC8, 0x01) // PUBLISH claiming 200 bytes
	src := &scriptedReader{t: t, steps: []readStep{{data: header}}}
	r := NewReader(src, 0)
	r.SetMaxPacketSize(100)
	h, body, err := r.ReadFrame()
	if !errors.Is(err, ErrTooLarge) || body != nil {
		t.Fatalf("ReadFrame: %v, want ErrTooLarge", err)
	}
	if h.Type != TypePublish || h.Remaining != 200 {
		t.Fatalf("header %+v, want the PUBLISH that claimed 200 bytes", h)
	}
	if _, _, again := r.ReadFrame(); again != err {
		t.Fatalf("second ReadFrame: %v, want the same error", again)
	}
}

func TestReaderLimitIsInclusive(t *testing.T) {
	wire := packet(0x30, 0, 1, "t", make([]byte, 97)) // 2 + 100 bytes
	r := NewReader(bytes.NewReader(wire), 0)
	r.SetMaxPacketSize(len(wire))
	if _, body, err := r.ReadFrame(); err != nil || len(body) != 100 {
		t.Fatalf("packet at the limit: %d bytes, %v", len(body), err)
	}
	r = NewReader(bytes.NewReader(wire), 0)
	r.SetMaxPacketSize(len(wire) - 1)
	if _, _, err := r.ReadFrame(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("packet one byte over the limit: %v", err)
	}
}

func TestReaderFramingErrors(t *testing.T) {
	cases := []struct {
		name   string
		stream []byte
		want   error
	}{
		{"empty stream", nil, io.EOF},
		{"first byte only", b(0x30), io.ErrUnexpectedEOF},
		{"inside the remaining length", b(0x30, 0x80), io.ErrUnexpectedEOF},
		{"inside the body", b(0x30, 5, 0, 3), io.ErrUnexpectedEOF},
		{"5th remaining length byte", b(0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01), ErrMalformed},
		{"remaining length not minimal", b(0xC0, 0x80, 0x00), ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := NewReader(iotest.OneByteReader(bytes.NewReader(c.stream)), 0)
			_, _, err := r.ReadFrame()
			if !errors.Is(err, c.want) {
				t.Fatalf("ReadFrame: %v, want %v", err, c.want)
			}
		})
	}
}

func TestReaderResumesAfterSourceError(t *testing.T) {
	timeout := errors.New("timeout")
	wire := packet(0x30, 0, 1, "t", "payload")
	src := &scriptedReader{t: t, steps: []readStep{
		{data: wire[:4], err: timeout},
		{data: wire[4:], err: io.EOF},
	}}
	r := NewReader(src, 0)
	if _, _, err := r.ReadFrame(); err != timeout {
		t.Fatalf("first ReadFrame: %v, want the source's error", err)
	}
	_, body, err := r.ReadFrame()
	if err != nil || !bytes.Equal(body, wire[2:]) {
		t.Fatalf("second ReadFrame: % X, %v", body, err)
	}
	if _, _, err := r.ReadFrame(); err != io.EOF {
		t.Fatalf("third ReadFrame: %v, want io.EOF", err)
	}
}

func TestReaderBufferedAndBodyCapacity(t *testing.T) {
	first, second := b(0xC0, 0), packet(0x30, 0, 1, "t", "x")
	r := NewReader(bytes.NewReader(append(append([]byte{}, first...), second...)), 0)
	_, body, err := r.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	if r.Buffered() != len(second) {
		t.Fatalf("Buffered = %d, want %d", r.Buffered(), len(second))
	}
	_ = append(body, 0xEE, 0xEE) // must not overwrite the next packet
	h, body, err := r.ReadFrame()
	if err != nil || h.Type != TypePublish || !bytes.Equal(body, second[2:]) {
		t.Fatalf("second packet: %+v % X %v", h, body, err)
	}
}

func TestReaderShrinksAfterLargePacket(t *testing.T) {
	const bufSize = 64
	large := packet(0x30, 0, 1, "t", make([]byte, 10000))
	small := b(0xC0, 0)
	r := NewReader(io.MultiReader(bytes.NewReader(large), bytes.NewReader(small)), bufSize)
	if _, body, err := r.ReadFrame(); err != nil || len(body) != 10003 {
		t.Fatalf("large packet: %d bytes, %v", len(body), err)
	}
	if r.Size() < 10000 || r.Size() > 2*len(large) {
		t.Fatalf("buffer of %d bytes for a packet of %d", r.Size(), len(large))
	}
	if _, _, err := r.ReadFrame(); err != nil {
		t.Fatal(err)
	}
	if r.Size() != bufSize {
		t.Fatalf("buffer of %d bytes after a small packet, want %d", r.Size(), bufSize)
	}
}

func TestReaderNoProgress(t *testing.T) {
	r := NewReader(iotest.ErrReader(nil), 0)
	if _, _, err := r.ReadFrame(); err != io.ErrNoProgress {
		t.Fatalf("ReadFrame from a source that returns (0, nil): %v", err)
	}
}

func TestReaderRelease(t *testing.T) {
	src := bytes.NewReader([]byte{0xC0, 0x00, 0xC0, 0x00, 0xC0})
	r := NewReader(src, 16)
	if _, _, err := r.ReadFrame(); err != nil {
		t.Fatal(err)
	}
	if r.Release() {
		t.Fatal("Release with unread bytes buffered must keep the buffer")
	}
	if _, _, err := r.ReadFrame(); err != nil {
		t.Fatal(err)
	}
	if r.Release() {
		t.Fatal("Release inside a partial packet must keep the buffer")
	}
	if _, _, err := r.ReadFrame(); err != io.ErrUnexpectedEOF {
		t.Fatalf("err = %v, want unexpected EOF", err)
	}
	r2 := NewReader(bytes.NewReader([]byte{0xD0, 0x00}), 16)
	if _, _, err := r2.ReadFrame(); err != nil {
		t.Fatal(err)
	}
	if !r2.Release() || r2.Size() != 0 {
		t.Fatalf("Release after a whole packet: size %d, want 0", r2.Size())
	}
	if _, _, err := r2.ReadFrame(); err != io.EOF {
		t.Fatalf("after Release: err = %v, want EOF", err)
	}
}
