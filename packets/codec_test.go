package packets

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"testing"
	"testing/iotest"
)

func versionName(v byte) string {
	switch v {
	case V31:
		return "3.1"
	case V311:
		return "3.1.1"
	case V5:
		return "5"
	}
	return fmt.Sprintf("level %d", v)
}

func (v vector) testName() string { return v.name + " v" + versionName(v.version) }

// readOne frames wire with a Reader and checks that it holds exactly one
// packet.
func readOne(t *testing.T, wire []byte) (FixedHeader, []byte) {
	t.Helper()
	r := NewReader(bytes.NewReader(wire), 0)
	h, body, err := r.ReadFrame()
	if err != nil {
		t.Fatalf("ReadFrame: %v", err)
	}
	if h.Remaining != len(body) {
		t.Fatalf("header remaining %d, body %d bytes", h.Remaining, len(body))
	}
	if _, _, err := r.ReadFrame(); err != io.EOF {
		t.Fatalf("second ReadFrame: %v, want io.EOF", err)
	}
	return h, body
}

func TestEncodeVectors(t *testing.T) {
	for _, v := range vectors {
		if v.decodeOnly {
			continue
		}
		t.Run(v.testName(), func(t *testing.T) {
			got, err := v.packet.Encode(nil, v.version)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if !bytes.Equal(got, v.wire) {
				t.Fatalf("Encode\n got % X\nwant % X", got, v.wire)
			}
			prefix := []byte("prefix")
			got, err = v.packet.Encode(prefix, v.version)
			if err != nil || !bytes.Equal(got, append([]byte("prefix"), v.wire...)) {
				t.Fatalf("Encode after a prefix: % X, %v", got, err)
			}
		})
	}
}

func TestDecodeVectors(t *testing.T) {
	for _, v := range vectors {
		t.Run(v.testName(), func(t *testing.T) {
			h, body := readOne(t, v.wire)
			if h.Type != v.packet.Type() {
				t.Fatalf("header type %v, want %v", h.Type, v.packet.Type())
			}
			got, err := Decode(h, body, v.version)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, v.packet) {
				t.Fatalf("Decode\n got %+v\nwant %+v", got, v.packet)
			}
		})
	}
}

// TestDecodeReuse decodes every vector into a value that already holds
// another packet of the same type, checking that Decode resets it.
func TestDecodeReuse(t *testing.T) {
	last := map[Type]Packet{}
	for _, v := range vectors {
		t.Run(v.testName(), func(t *testing.T) {
			h, body := readOne(t, v.wire)
			reused, ok := last[h.Type]
			if !ok {
				reused = reflect.New(reflect.TypeOf(v.packet).Elem()).Interface().(Packet)
				last[h.Type] = reused
			}
			var err error
			switch p := reused.(type) {
			case *Ack:
				err = p.Decode(h, body, v.version)
			case bodyDecoder:
				err = p.Decode(h.Flags, body, v.version)
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(reused, v.packet) {
				t.Fatalf("Decode into a used value\n got %+v\nwant %+v", reused, v.packet)
			}
		})
	}
}

func TestRoundTripVectors(t *testing.T) {
	for _, v := range vectors {
		t.Run(v.testName(), func(t *testing.T) {
			wire, err := v.packet.Encode(nil, v.version)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			h, body := readOne(t, wire)
			got, err := Decode(h, body, v.version)
			if err != nil {
				t.Fatalf("Decode(Encode(p)): %v", err)
			}
			if !reflect.DeepEqual(got, v.packet) {
				t.Fatalf("Decode(Encode(p))\n got %+v\nwant %+v", got, v.packet)
			}
		})
	}
}

// TestReaderOneByte feeds all the vectors of each protocol level through a
// Reader one byte per Read call.
func TestReaderOneByte(t *testing.T) {
	for _, version := range []byte{V31, V311, V5} {
		t.Run("v"+versionName(version), func(t *testing.T) {
			var stream []byte
			var want []vector
			for _, v := range vectors {
				if v.version == version {
					stream = append(stream, v.wire...)
					want = append(want, v)
				}
			}
			r := NewReader(iotest.OneByteReader(bytes.NewReader(stream)), minBufSize)
			for _, v := range want {
				h, body, err := r.ReadFrame()
				if err != nil {
					t.Fatalf("%s: ReadFrame: %v", v.name, err)
				}
				got, err := Decode(h, body, version)
				if err != nil {
					t.Fatalf("%s: Decode: %v", v.name, err)
				}
				if !reflect.DeepEqual(got, v.packet) {
					t.Fatalf("%s:\n got %+v\nwant %+v", v.name, got, v.packet)
				}
			}
			if _, _, err := r.ReadFrame(); err != io.EOF {
				t.Fatalf("after the last packet: %v, want io.EOF", err)
			}
		})
	}
}

func TestConnectVersion(t *testing.T) {
	for _, v := range vectors {
		c, ok := v.packet.(*Connect)
		if !ok {
			continue
		}
		level, err := ConnectVersion(v.wire[2:])
		if err != nil || level != c.Version {
			t.Errorf("%s: ConnectVersion = %d, %v; want %d", v.testName(), level, err, c.Version)
		}
	}
	level, err := ConnectVersion(b(0, 4, "MQTT", 6))
	if level != 6 || !errors.Is(err, ErrUnsupportedVersion) {
		t.Errorf("level 6: ConnectVersion = %d, %v; want 6 and an UnsupportedProtocolVersion error", level, err)
	}
}

func TestVarint(t *testing.T) {
	cases := []struct {
		value int
		wire  []byte
	}{
		{0, b(0x00)},
		{127, b(0x7F)},
		{128, b(0x80, 0x01)},
		{16383, b(0xFF, 0x7F)},
		{16384, b(0x80, 0x80, 0x01)},
		{2097151, b(0xFF, 0xFF, 0x7F)},
		{2097152, b(0x80, 0x80, 0x80, 0x01)},
		{MaxRemainingLength, b(0xFF, 0xFF, 0xFF, 0x7F)},
	}
	for _, c := range cases {
		got := AppendVarint(nil, c.value)
		if !bytes.Equal(got, c.wire) || VarintSize(c.value) != len(c.wire) {
			t.Errorf("AppendVarint(%d) = % X (size %d), want % X", c.value, got, VarintSize(c.value), c.wire)
		}
		v, n, err := decodeVarint(c.wire)
		if v != c.value || n != len(c.wire) || err != nil {
			t.Errorf("decodeVarint(% X) = %d, %d, %v", c.wire, v, n, err)
		}
	}
	for _, bad := range [][]byte{b(0x80, 0x00), b(0xFF, 0x80, 0x00), b(0x80, 0x80, 0x80, 0x80, 0x01)} {
		if _, _, err := decodeVarint(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("decodeVarint(% X): %v, want malformed", bad, err)
		}
	}
	if _, n, err := decodeVarint(b(0x80, 0x80)); n != 0 || err != nil {
		t.Errorf("decodeVarint of an unfinished integer: n=%d, %v; want 0, nil", n, err)
	}
}

// SplitFrame takes exactly one whole packet: a byte short, a byte over or a
// malformed remaining length is an error.
func TestSplitFrame(t *testing.T) {
	whole, err := (&Publish{QoS: 1, PacketID: 9, Topic: "a/b", Payload: make([]byte, 200)}).Encode(nil, V5)
	if err != nil {
		t.Fatal(err)
	}
	h, body, err := SplitFrame(whole)
	if err != nil || h.Type != TypePublish || h.Flags != 0b0010 || h.Remaining != len(body) || len(body) != len(whole)-3 {
		t.Fatalf("SplitFrame = %+v, %d bytes, %v", h, len(body), err)
	}
	var p Publish
	if err := p.Decode(h.Flags, body, V5); err != nil || p.Topic != "a/b" || p.PacketID != 9 || len(p.Payload) != 200 {
		t.Fatalf("decoding the body: %+v, %v", p, err)
	}
	for _, bad := range [][]byte{nil, b(0x30), whole[:len(whole)-1], append(bytes.Clone(whole), 0), b(0x30, 0x80, 0x00)} {
		if _, _, err := SplitFrame(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("SplitFrame(% X): %v, want malformed", bad, err)
		}
	}
}

func TestPacketIDPatch(t *testing.T) {
	p := Publish{QoS: 1, Topic: "a/b", Payload: []byte("x"),
		Properties: present(Properties{MessageExpiry: 9}, PropMessageExpiry)}
	for _, version := range []byte{V311, V5} {
		wire, err := p.Encode(nil, version)
		if err != nil {
			t.Fatal(err)
		}
		if off := PacketIDOffset(wire); off != 2+2+3 {
			t.Fatalf("v%s: PacketIDOffset = %d, want 7", versionName(version), off)
		}
		if !SetPacketID(wire, 0x1234) || !SetPublishFlags(wire, true, 2, true) {
			t.Fatal("SetPacketID or SetPublishFlags refused a QoS 1 PUBLISH")
		}
		h, body := readOne(t, wire)
		var got Publish
		if err := got.Decode(h.Flags, body, version); err != nil {
			t.Fatal(err)
		}
		if got.PacketID != 0x1234 || !got.Dup || got.QoS != 2 || !got.Retain {
			t.Fatalf("v%s: after patching: %+v", versionName(version), got)
		}
	}
	qos0, _ := (&Publish{Topic: "t"}).Encode(nil, V311)
	if PacketIDOffset(qos0) != -1 || SetPacketID(qos0, 1) || SetPublishFlags(qos0, false, 1, false) {
		t.Fatal("a QoS 0 PUBLISH has no packet identifier to patch")
	}
	if PacketIDOffset(b(0x32, 5, 0, 3, "a/b")) != -1 {
		t.Fatal("PacketIDOffset of a truncated PUBLISH")
	}
}

func TestEncodeErrors(t *testing.T) {
	long := string(make([]byte, 70000))
	cases := []struct {
		name    string
		packet  Packet
		version byte
	}{
		{"PUBLISH QoS 3", &Publish{QoS: 3, Topic: "t"}, V311},
		{"PUBLISH topic too long", &Publish{Topic: long}, V311},
		{"PUBLISH property not allowed", &Publish{Topic: "t", Properties: present(Properties{}, PropSessionExpiry)}, V5},
		{"PUBLISH too large", &Publish{Topic: "t", Payload: make([]byte, MaxRemainingLength)}, V311},
		{"CONNECT will QoS 3", &Connect{Will: &Will{Topic: "t", QoS: 3}}, V311},
		{"CONNECT long client id", &Connect{ClientID: long}, V5},
		{"SUBSCRIBE QoS 3", &Subscribe{PacketID: 1, Subscriptions: []Subscription{{Filter: "a", QoS: 3}}}, V311},
		{"Ack of the wrong kind", &Ack{Kind: TypePublish}, V311},
		{"AUTH before 5", &Auth{}, V311},
		{"DISCONNECT sub id", &Disconnect{Properties: Properties{SubscriptionIDs: []uint32{1}}}, V5},
		{"user property too long", &Suback{Properties: Properties{User: []UserProperty{{long, ""}}}}, V5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.packet.Encode([]byte("x"), c.version)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Encode: %v, want an *Error", err)
			}
			if string(got) != "x" {
				t.Fatalf("Encode wrote % X on error", got)
			}
		})
	}
}

// TestVersionDropsV5Fields checks that encoding for 3.1.1 leaves out what
// only MQTT 5 has.
func TestVersionDropsV5Fields(t *testing.T) {
	p := &Publish{Topic: "t", Payload: []byte("p"), Properties: present(Properties{ContentType: "x"})}
	wire, err := p.Encode(nil, V311)
	if err != nil || !bytes.Equal(wire, b(0x30, 4, 0, 1, "t", "p")) {
		t.Fatalf("v3.1.1 PUBLISH with properties: % X, %v", wire, err)
	}
	s := &Subscribe{PacketID: 1, Subscriptions: []Subscription{{Filter: "a", QoS: 1, NoLocal: true, RetainHandling: 1}}}
	wire, err = s.Encode(nil, V311)
	if err != nil || !bytes.Equal(wire, b(0x82, 6, 0, 1, 0, 1, "a", 1)) {
		t.Fatalf("v3.1.1 SUBSCRIBE with MQTT 5 options: % X, %v", wire, err)
	}
}

func TestPropertiesSize(t *testing.T) {
	for _, v := range vectors {
		if v.version != V5 {
			continue
		}
		if p, ok := v.packet.(*Publish); ok {
			n, err := p.Properties.length(propContext(TypePublish))
			if err != nil || p.Properties.Size() != VarintSize(n)+n {
				t.Errorf("%s: Size = %d, length = %d, %v", v.testName(), p.Properties.Size(), n, err)
			}
		}
	}
	if (&Properties{}).Size() != 1 {
		t.Error("empty properties take one byte, the property length 0")
	}
}

func TestStringers(t *testing.T) {
	if TypePublish.String() != "PUBLISH" || Type(16).String() != "Type(16)" {
		t.Error("Type.String")
	}
	if MalformedPacket.String() != "Malformed Packet" || ReasonCode(0x7F).String() != "ReasonCode(0x7F)" {
		t.Error("ReasonCode.String")
	}
	if PropTopicAlias.String() != "Topic Alias" || PropertyID(4).String() != "PropertyID(0x04)" {
		t.Error("PropertyID.String")
	}
}
