package bench

import (
	"bytes"
	"errors"
	"testing"
)

func TestHeaderLayout(t *testing.T) {
	payload := make([]byte, 20)
	Header{Publisher: 0x01020304, Sequence: 0x0A0B0C0D, SentAt: 0x1122334455667788}.Put(payload)
	want := []byte{
		0x01, 0x02, 0x03, 0x04, // publisher
		0x0A, 0x0B, 0x0C, 0x0D, // sequence
		0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, // sent at, Unix ns
		0, 0, 0, 0, // the rest of the payload is left alone
	}
	if !bytes.Equal(payload, want) {
		t.Fatalf("payload = % x\nwant      % x", payload, want)
	}
	h, err := DecodeHeader(payload)
	if err != nil || h != (Header{Publisher: 0x01020304, Sequence: 0x0A0B0C0D, SentAt: 0x1122334455667788}) {
		t.Fatalf("DecodeHeader = %+v, %v", h, err)
	}
}

func TestDecodeHeaderShort(t *testing.T) {
	if _, err := DecodeHeader(make([]byte, HeaderSize-1)); !errors.Is(err, ErrShortPayload) {
		t.Fatalf("err = %v, want ErrShortPayload", err)
	}
}
