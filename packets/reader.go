package packets

import (
	"errors"
	"fmt"
	"io"
	"sync"
)

// buffers recycles Reader buffers given back by Release, so that a server
// holding many idle connections keeps buffers only for those mid-packet.
var buffers sync.Pool // of *[]byte

// Buffer sizes of a Reader.
const (
	defaultBufSize = 4096
	minBufSize     = 16
	// shrinkFactor: a buffer grown past shrinkFactor times the configured
	// size for one large packet is dropped before the next one.
	shrinkFactor = 4
	// maxEmptyReads is how many (0, nil) reads in a row Reader tolerates
	// before failing with io.ErrNoProgress, as bufio does.
	maxEmptyReads = 100
)

// Reader frames MQTT packets from a byte stream. It reads ahead into one
// buffer, which it grows only as bytes arrive: a header that claims a large
// remaining length costs memory in proportion to what the peer has actually
// sent, never to what it claimed. A Reader is not safe for concurrent use.
type Reader struct {
	src     io.Reader
	buf     []byte // buf[start:end] holds bytes read and not yet returned; nil until needed
	start   int
	end     int
	bufSize int   // the size buf starts at and shrinks back to
	maxSize int   // largest packet accepted, fixed header included
	err     error // sticky framing error: the stream cannot be resynchronised
	readErr error // error the source returned with data, reported when more is needed
}

// NewReader returns a Reader that reads from r with a buffer of bufSize
// bytes (4096 when bufSize is 0 or less, at least 16), allocated at the
// first read. The packet size limit starts at the protocol maximum.
func NewReader(r io.Reader, bufSize int) *Reader {
	switch {
	case bufSize <= 0:
		bufSize = defaultBufSize
	case bufSize < minBufSize:
		bufSize = minBufSize
	}
	return &Reader{src: r, bufSize: bufSize, maxSize: MaxPacketSize}
}

// SetMaxPacketSize limits the size of a whole packet, fixed header included,
// to n bytes; 0 (or a value above it) means the protocol maximum,
// MaxPacketSize. A server may lower it until CONNECT has been accepted.
func (r *Reader) SetMaxPacketSize(n int) {
	if n <= 0 || n > MaxPacketSize {
		n = MaxPacketSize
	}
	r.maxSize = n
}

// Buffered returns the number of bytes read from the source beyond the
// packets returned so far.
func (r *Reader) Buffered() int { return r.end - r.start }

// Size returns the current size of the Reader's buffer in bytes: 0 before
// the first read, larger than the configured size while a large packet is
// being read or was just returned.
func (r *Reader) Size() int { return len(r.buf) }

// ReadFrame reads the next packet and returns its fixed header and body.
// The body aliases the Reader's buffer and is valid until the next call.
//
// At the end of the stream between packets it returns io.EOF; inside a
// packet, io.ErrUnexpectedEOF. A remaining length longer than four bytes
// or not in minimal form is a MalformedPacket *Error. A packet larger than
// the limit (see SetMaxPacketSize) fails with an error for which
// errors.Is(err, ErrTooLarge) holds, together with the header that claimed
// it, before any of its body is read. After a framing error the stream
// cannot be resynchronised and every later call returns the same error;
// errors from the source are returned as they are.
func (r *Reader) ReadFrame() (FixedHeader, []byte, error) {
	if r.err != nil {
		return FixedHeader{}, nil, r.err
	}
	r.shrink()
	h, headerLen, err := r.readHeader()
	if err != nil {
		return h, nil, err
	}
	total := headerLen + h.Remaining
	if total > r.maxSize {
		r.err = &Error{Code: PacketTooLarge,
			Msg: fmt.Sprintf("%v of %d bytes exceeds the limit of %d", h.Type, total, r.maxSize)}
		return h, nil, r.err
	}
	if err := r.fill(total); err != nil {
		return h, nil, err
	}
	bodyAt, end := r.start+headerLen, r.start+total
	r.start = end
	return h, r.buf[bodyAt:end:end], nil
}

// readHeader reads the fixed header and returns it with its length.
func (r *Reader) readHeader() (FixedHeader, int, error) {
	if err := r.fill(2); err != nil {
		return FixedHeader{}, 0, err
	}
	for {
		first := r.buf[r.start]
		remaining, n, err := decodeVarint(r.buf[r.start+1 : r.end])
		if err != nil {
			r.err = err
			return FixedHeader{}, 0, err
		}
		if n > 0 {
			h := FixedHeader{Type: Type(first >> 4), Flags: first & 0x0F, Remaining: remaining}
			return h, 1 + n, nil
		}
		if err := r.fill(r.Buffered() + 1); err != nil {
			return FixedHeader{}, 0, err
		}
	}
}

// fill reads until at least n bytes of the current packet are buffered.
// An error that came with data is kept until more data is needed.
func (r *Reader) fill(n int) error {
	empty := 0
	for r.Buffered() < n {
		if r.readErr != nil {
			err := r.readErr
			r.readErr = nil
			return r.endOfStream(err)
		}
		r.makeRoom(n)
		got, err := r.src.Read(r.buf[r.end:])
		if got < 0 || got > len(r.buf)-r.end {
			return errors.New("packets: source returned an invalid count")
		}
		r.end += got
		switch {
		case err != nil:
			r.readErr = err
		case got == 0:
			if empty++; empty >= maxEmptyReads {
				return io.ErrNoProgress
			}
		}
	}
	return nil
}

// endOfStream turns io.EOF inside a packet into io.ErrUnexpectedEOF.
func (r *Reader) endOfStream(err error) error {
	if err == io.EOF && r.Buffered() > 0 {
		return io.ErrUnexpectedEOF
	}
	return err
}

// makeRoom makes space after r.end for at least one more byte. It moves the
// unread bytes to the front when that frees space, and otherwise grows the
// buffer to twice its size but no more than n, the bytes the packet needs:
// the buffer is never larger than twice what has arrived.
func (r *Reader) makeRoom(n int) {
	if r.buf == nil {
		r.buf = getBuffer(r.bufSize)
	}
	if r.start == r.end {
		r.start, r.end = 0, 0
	}
	if r.end < len(r.buf) {
		return
	}
	if r.start > 0 {
		r.end = copy(r.buf, r.buf[r.start:r.end])
		r.start = 0
		return
	}
	grown := make([]byte, min(2*len(r.buf), max(n, len(r.buf)+1)))
	r.end = copy(grown, r.buf[:r.end])
	r.buf = grown
}

// shrink drops a buffer that grew past shrinkFactor times the configured
// size, once what it still holds fits the configured size, so that an idle
// connection does not keep the memory of its largest packet.
func (r *Reader) shrink() {
	if len(r.buf) <= shrinkFactor*r.bufSize || r.Buffered() > r.bufSize {
		return
	}
	if r.Buffered() == 0 {
		r.buf, r.start, r.end = nil, 0, 0
		return
	}
	small := make([]byte, r.bufSize)
	r.end = copy(small, r.buf[r.start:r.end])
	r.start = 0
	r.buf = small
}

// Release gives the Reader's buffer back for reuse when it holds no unread
// bytes, and reports whether it did. The next read takes a buffer again.
// Bodies returned earlier must no longer be used.
func (r *Reader) Release() bool {
	if r.Buffered() > 0 || r.buf == nil {
		return r.buf == nil
	}
	if len(r.buf) == r.bufSize {
		b := r.buf
		buffers.Put(&b)
	}
	r.buf, r.start, r.end = nil, 0, 0
	return true
}

func getBuffer(size int) []byte {
	if p, ok := buffers.Get().(*[]byte); ok && cap(*p) >= size {
		return (*p)[:size]
	}
	return make([]byte, size)
}
