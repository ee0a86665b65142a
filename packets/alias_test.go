package packets

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

// TestAliasPublish: head and tail together decode as the PUBLISH with a
// Topic Alias added, its topic name sent or left empty, every other field
// and property as encoded, for every QoS, with and without properties,
// and across a Remaining Length that needs one more byte.
func TestAliasPublish(t *testing.T) {
	props := Properties{ContentType: "text/plain", User: []UserProperty{{Key: "k", Value: "v"}}}
	props.Set(PropContentType)
	cases := []struct {
		name string
		p    Publish
	}{
		{"qos0", Publish{Topic: "a/b", Payload: []byte("x")}},
		{"qos1 properties", Publish{Topic: "sensors/room1/temperature", QoS: 1, PacketID: 7, Retain: true, Properties: props, Payload: []byte("21.5")}},
		{"qos2 no payload", Publish{Topic: "t", QoS: 2, PacketID: 65535}},
		// 124 bytes of remaining length grow past 127 with the alias.
		{"remaining length grows", Publish{Topic: "g", Payload: bytes.Repeat([]byte{1}, 120)}},
		{"long topic", Publish{Topic: strings.Repeat("x", 300), QoS: 1, PacketID: 1, Payload: []byte("p")}},
	}
	for _, tc := range cases {
		for _, withTopic := range []bool{true, false} {
			enc, err := tc.p.Encode(nil, V5)
			if err != nil {
				t.Fatal(err)
			}
			head, tail, ok := AliasPublish(nil, enc, 513, withTopic)
			if !ok {
				t.Fatalf("%s: AliasPublish refused a PUBLISH", tc.name)
			}
			h, body := readOne(t, append(head, tail...))
			var got Publish
			if err := got.Decode(h.Flags, body, V5); err != nil {
				t.Fatalf("%s withTopic=%v: %v", tc.name, withTopic, err)
			}
			want := tc.p
			want.Properties.TopicAlias = 513
			want.Properties.Set(PropTopicAlias)
			if !withTopic {
				want.Topic = ""
			}
			if got.Topic != want.Topic || got.QoS != want.QoS || got.Retain != want.Retain ||
				got.PacketID != want.PacketID || !bytes.Equal(got.Payload, want.Payload) ||
				got.Properties.TopicAlias != 513 || got.Properties.ContentType != want.Properties.ContentType ||
				!reflect.DeepEqual(got.Properties.User, want.Properties.User) {
				t.Fatalf("%s withTopic=%v: got %+v, want %+v", tc.name, withTopic, got, want)
			}
		}
	}
}

// TestAliasPublishRefuses: anything but a whole PUBLISH, and alias 0, are
// refused.
func TestAliasPublishRefuses(t *testing.T) {
	p := Publish{Topic: "a", QoS: 1, PacketID: 1, Payload: []byte("x")}
	enc, _ := p.Encode(nil, V5)
	for name, b := range map[string][]byte{
		"empty":     nil,
		"truncated": enc[:len(enc)-1],
		"pingreq":   {0xC0, 0x00},
	} {
		if _, _, ok := AliasPublish(nil, b, 1, true); ok {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, _, ok := AliasPublish(nil, enc, 0, true); ok {
		t.Error("alias 0 accepted")
	}
}
