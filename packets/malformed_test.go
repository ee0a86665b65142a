package packets

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// badInput is one packet a receiver must refuse. Its name starts with the
// specification statement it tests where there is one (3.1.1 numbering
// unless the name says 5.0), else the section.
type badInput struct {
	name    string
	version byte
	wire    []byte
	code    ReasonCode
	msg     string // text the error message must contain, when set
}

const (
	mal   = MalformedPacket
	proto = ProtocolError
	unsup = UnsupportedProtocolVersion
)

// connectHead returns the start of a CONNECT body up to the keep alive:
// protocol name, level and the flags byte.
func connectHead(name string, level, flags int) []byte {
	return b(0, len(name), name, level, flags, 0, 60)
}

// packet frames a body with its fixed header.
func packet(first int, body ...any) []byte {
	rest := b(body...)
	return append(AppendFixedHeader(nil, Type(first>>4), byte(first&0x0F), len(rest)), rest...)
}

var badInputs = []badInput{
	// Framing and fixed header
	{"§2.2.3 remaining length of 5 bytes", V311, b(0x30, 0x80, 0x80, 0x80, 0x80, 0x01), mal, ""},
	{"5.0 MQTT-1.5.5-1 remaining length not minimal", V5, b(0x30, 0x80, 0x00), mal, ""},
	{"MQTT-2.2.2-2 packet type 0", V311, b(0x00, 0), proto, ""},
	{"MQTT-2.2.2-2 packet type 15 before 5.0", V311, b(0xF0, 0), proto, ""},
	{"MQTT-2.2.2-1 CONNECT flags 0001", V311, packet(0x11, connectHead("MQTT", 4, 2), 0, 1, "c"), mal, ""},
	{"MQTT-2.2.2-1 CONNECT flags 1000", V311, packet(0x18, connectHead("MQTT", 4, 2), 0, 1, "c"), mal, ""},
	{"MQTT-3.6.1-1 PUBREL flags 0000", V311, b(0x60, 2, 0, 1), mal, ""},
	{"MQTT-3.8.1-1 SUBSCRIBE flags 0000", V311, packet(0x80, 0, 1, 0, 1, "a", 0), mal, ""},
	{"MQTT-3.10.1-1 UNSUBSCRIBE flags 0011", V311, packet(0xA3, 0, 1, 0, 1, "a"), mal, ""},
	{"MQTT-2.2.2-2 PINGREQ flags 0001", V311, b(0xC1, 0), mal, ""},
	{"MQTT-2.2.2-2 PUBACK flags 0010", V311, b(0x42, 2, 0, 1), mal, ""},
	{"MQTT-2.2.2-2 CONNACK flags 0001", V311, b(0x21, 2, 0, 0), mal, ""},
	{"MQTT-2.2.2-2 DISCONNECT flags 0001", V311, b(0xE1, 0), mal, ""},
	{"5.0 MQTT-2.1.3-1 AUTH flags 0001", V5, b(0xF1, 0), mal, ""},

	// Fixed-size packets with the wrong length
	{"MQTT-4.8.0-1 PINGREQ length 1", V311, b(0xC0, 1, 0), mal, ""},
	{"MQTT-4.8.0-1 PINGRESP length 1", V5, b(0xD0, 1, 0), mal, ""},
	{"MQTT-4.8.0-1 PUBACK length 3", V311, b(0x40, 3, 0, 1, 0), mal, ""},
	{"MQTT-4.8.0-1 PUBCOMP length 1", V311, b(0x70, 1, 0), mal, ""},
	{"MQTT-4.8.0-1 PUBACK length 0", V5, b(0x40, 0), mal, ""},
	{"MQTT-4.8.0-1 DISCONNECT length 1", V311, b(0xE0, 1, 0), mal, ""},
	{"MQTT-4.8.0-1 UNSUBACK length 3", V311, b(0xB0, 3, 0, 1, 0), mal, ""},
	{"MQTT-4.8.0-1 CONNACK length 3", V311, b(0x20, 3, 0, 0, 0), mal, ""},
	{"MQTT-4.8.0-1 CONNACK length 1", V311, b(0x20, 1, 0), mal, ""},
	{"5.0 PUBACK bytes after the properties", V5, b(0x40, 5, 0, 1, 0, 0, 0xAA), mal, ""},
	{"5.0 DISCONNECT bytes after the properties", V5, b(0xE0, 3, 0, 0, 0xAA), mal, ""},

	// CONNECT
	{"MQTT-3.1.2-1 protocol name MQTU", V311, packet(0x10, connectHead("MQTU", 4, 2), 0, 1, "c"), proto, "MQTU"},
	{"MQTT-3.1.2-1 protocol name MQTTT", V311, packet(0x10, connectHead("MQTTT", 4, 2), 0, 1, "c"), proto, "MQTTT"},
	{"MQTT-3.1.2-1 empty protocol name", V311, packet(0x10, connectHead("", 4, 2), 0, 1, "c"), proto, ""},
	{"MQTT-3.1.2-1 protocol name truncated", V311, b(0x10, 3, 0, 4, "M"), mal, ""},
	{"MQTT-3.1.2-2 level 2", V311, packet(0x10, connectHead("MQTT", 2, 2), 0, 1, "c"), unsup, ""},
	{"MQTT-3.1.2-2 level 6", V5, packet(0x10, connectHead("MQTT", 6, 2), 0, 1, "c"), unsup, ""},
	{"MQTT-3.1.2-2 level 255", V5, packet(0x10, connectHead("MQTT", 255, 2), 0, 1, "c"), unsup, ""},
	{"MQTT-3.1.2-2 MQIsdp with level 4", V31, packet(0x10, connectHead("MQIsdp", 4, 2), 0, 1, "c"), unsup, ""},
	{"MQTT-3.1.2-2 MQTT with level 3", V311, packet(0x10, connectHead("MQTT", 3, 2), 0, 1, "c"), unsup, ""},
	{"MQTT-3.1.2-2 level missing", V311, b(0x10, 6, 0, 4, "MQTT"), mal, ""},
	{"MQTT-3.1.2-3 reserved flag", V311, packet(0x10, connectHead("MQTT", 4, 0x03), 0, 1, "c"), mal, ""},
	{"5.0 MQTT-3.1.2-3 reserved flag", V5, packet(0x10, connectHead("MQTT", 5, 0x03), 0, 0, 1, "c"), mal, ""},
	{"MQTT-3.1.2-13 will QoS without will flag", V311, packet(0x10, connectHead("MQTT", 4, 0x0A), 0, 1, "c"), mal, ""},
	{"MQTT-3.1.2-15 will retain without will flag", V311, packet(0x10, connectHead("MQTT", 4, 0x22), 0, 1, "c"), mal, ""},
	{"MQTT-3.1.2-14 will QoS 3", V311, packet(0x10, connectHead("MQTT", 4, 0x1E), 0, 1, "c", 0, 1, "t", 0, 0), mal, ""},
	{"5.0 MQTT-3.1.2-12 will QoS 3", V5, packet(0x10, connectHead("MQTT", 5, 0x1E), 0, 0, 1, "c", 0, 0, 1, "t", 0, 0), mal, ""},
	{"MQTT-3.1.2-22 password without user name", V311, packet(0x10, connectHead("MQTT", 4, 0x42), 0, 1, "c", 0, 1, "p"), mal, ""},
	{"MQTT-3.1.2-22 password without user name v3.1", V31, packet(0x10, connectHead("MQIsdp", 3, 0x42), 0, 1, "c", 0, 1, "p"), mal, ""},
	{"MQTT-3.1.3-3 client identifier missing", V311, packet(0x10, connectHead("MQTT", 4, 2)), mal, "client identifier"},
	{"MQTT-3.1.3-3 client identifier truncated", V311, packet(0x10, connectHead("MQTT", 4, 2), 0, 5, "c"), mal, ""},
	{"MQTT-3.1.4-1 bytes after the last field", V311, packet(0x10, connectHead("MQTT", 4, 2), 0, 1, "c", 0xAA), mal, ""},
	{"MQTT-3.1.2-9 will flag without will topic", V311, packet(0x10, connectHead("MQTT", 4, 0x06), 0, 1, "c"), mal, ""},
	{"MQTT-3.1.2-9 will flag without will payload", V311, packet(0x10, connectHead("MQTT", 4, 0x06), 0, 1, "c", 0, 1, "t"), mal, ""},
	{"MQTT-4.7.3-1 empty will topic", V311, packet(0x10, connectHead("MQTT", 4, 0x06), 0, 1, "c", 0, 0, 0, 0), mal, ""},
	{"MQTT-3.3.2-2 will topic with #", V311, packet(0x10, connectHead("MQTT", 4, 0x06), 0, 1, "c", 0, 1, "#", 0, 0), mal, ""},
	{"MQTT-1.5.3-2 will topic with U+0000", V311, packet(0x10, connectHead("MQTT", 4, 0x06), 0, 1, "c", 0, 1, 0, 0, 0), mal, ""},
	{"MQTT-3.1.2-19 user name flag without user name", V311, packet(0x10, connectHead("MQTT", 4, 0x82), 0, 1, "c"), mal, ""},
	{"MQTT-3.1.2-21 password flag without password", V311, packet(0x10, connectHead("MQTT", 4, 0xC2), 0, 1, "c", 0, 1, "u"), mal, ""},
	{"MQTT-1.5.3-2 client identifier with U+0000", V311, packet(0x10, connectHead("MQTT", 4, 2), 0, 2, "a", 0), mal, ""},
	{"MQTT-1.5.3-1 client identifier with a surrogate", V311, packet(0x10, connectHead("MQTT", 4, 2), 0, 3, 0xED, 0xA0, 0x80), mal, ""},
	{"MQTT-1.5.3-1 user name not UTF-8", V311, packet(0x10, connectHead("MQTT", 4, 0x82), 0, 1, "c", 0, 1, 0xFF), mal, ""},
	{"5.0 §3.1.2.11 Session Expiry twice", V5, packet(0x10, connectHead("MQTT", 5, 2), 10, 0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 2, 0, 1, "c"), proto, ""},
	{"5.0 §3.1.2.11.3 Receive Maximum 0", V5, packet(0x10, connectHead("MQTT", 5, 2), 3, 0x21, 0, 0, 0, 1, "c"), proto, ""},
	{"5.0 §3.1.2.11.4 Maximum Packet Size 0", V5, packet(0x10, connectHead("MQTT", 5, 2), 5, 0x27, 0, 0, 0, 0, 0, 1, "c"), proto, ""},
	{"5.0 §3.1.2.11.7 Request Problem Information 2", V5, packet(0x10, connectHead("MQTT", 5, 2), 2, 0x17, 2, 0, 1, "c"), proto, ""},
	{"5.0 §3.1.2.11.6 Request Response Information 2", V5, packet(0x10, connectHead("MQTT", 5, 2), 2, 0x19, 2, 0, 1, "c"), proto, ""},
	{"5.0 §3.1.2.11.10 Authentication Data without Method", V5, packet(0x10, connectHead("MQTT", 5, 2), 4, 0x16, 0, 1, 9, 0, 1, "c"), proto, ""},
	{"5.0 §2.2.2.2 Topic Alias in CONNECT", V5, packet(0x10, connectHead("MQTT", 5, 2), 3, 0x23, 0, 1, 0, 1, "c"), mal, ""},
	{"5.0 §2.2.2.2 Will Delay in CONNECT properties", V5, packet(0x10, connectHead("MQTT", 5, 2), 5, 0x18, 0, 0, 0, 1, 0, 1, "c"), mal, ""},
	{"5.0 §2.2.2.2 Session Expiry in will properties", V5, packet(0x10, connectHead("MQTT", 5, 6), 0, 0, 1, "c", 5, 0x11, 0, 0, 0, 1, 0, 1, "t", 0, 0), mal, ""},
	{"5.0 §2.2.2.2 property value past the property length", V5, packet(0x10, connectHead("MQTT", 5, 2), 3, 0x11, 0, 0, 0, 0, 0, 1, "c"), mal, ""},
	{"5.0 §2.2.2.2 property length past the packet", V5, packet(0x10, connectHead("MQTT", 5, 2), 100, 0x11), mal, ""},

	// CONNACK
	{"§3.2.2.1 CONNACK reserved flag bits", V311, b(0x20, 2, 0x02, 0), mal, ""},
	{"MQTT-3.2.2-4 session present with a refusal", V311, b(0x20, 2, 0x01, 0x05), proto, ""},
	{"§3.2.2.3 CONNACK return code 6", V311, b(0x20, 2, 0, 6), proto, ""},
	{"5.0 §3.2.2.2 CONNACK reason 0x10", V5, b(0x20, 3, 0, 0x10, 0), proto, ""},
	{"5.0 §2.2.2.2 Will Delay in CONNACK", V5, b(0x20, 8, 0, 0, 5, 0x18, 0, 0, 0, 1), mal, ""},
	{"5.0 §3.2.2.3.5 Maximum QoS 2", V5, b(0x20, 5, 0, 0, 2, 0x24, 2), proto, ""},

	// PUBLISH
	{"MQTT-3.3.1-4 QoS 3", V311, packet(0x36, 0, 3, "a/b", 0, 1), mal, ""},
	{"5.0 MQTT-3.3.1-4 QoS 3", V5, packet(0x36, 0, 3, "a/b", 0, 1, 0), mal, ""},
	{"MQTT-3.3.1-2 QoS 0 with DUP", V311, packet(0x38, 0, 3, "a/b"), mal, ""},
	{"MQTT-3.3.2-2 topic with +", V311, packet(0x30, 0, 3, "a/+", "x"), mal, ""},
	{"MQTT-3.3.2-2 topic with #", V5, packet(0x30, 0, 3, "a/#", 0), mal, ""},
	{"MQTT-4.7.3-1 empty topic", V311, packet(0x30, 0, 0, "x"), mal, ""},
	{"5.0 §3.3.2.1 empty topic without Topic Alias", V5, packet(0x30, 0, 0, 0, "x"), proto, ""},
	{"MQTT-2.3.1-1 QoS 1 with packet identifier 0", V311, packet(0x32, 0, 3, "a/b", 0, 0), proto, ""},
	{"5.0 MQTT-2.2.1-3 QoS 2 with packet identifier 0", V5, packet(0x34, 0, 3, "a/b", 0, 0, 0), proto, ""},
	{"MQTT-4.8.0-1 QoS 1 without packet identifier", V311, packet(0x32, 0, 3, "a/b"), mal, ""},
	{"MQTT-4.8.0-1 topic truncated", V311, packet(0x30, 0, 5, "a"), mal, ""},
	{"MQTT-4.8.0-1 topic length truncated", V311, packet(0x30, 0), mal, ""},
	{"MQTT-1.5.3-1 topic not UTF-8", V311, packet(0x30, 0, 2, 0xC3, 0x28), mal, ""},
	{"MQTT-1.5.3-1 topic with a surrogate", V311, packet(0x30, 0, 3, 0xED, 0xA0, 0x80), mal, ""},
	{"MQTT-1.5.3-1 topic with an overlong /", V311, packet(0x30, 0, 2, 0xC0, 0xAF), mal, ""},
	{"MQTT-1.5.3-1 topic above U+10FFFF", V311, packet(0x30, 0, 4, 0xF4, 0x90, 0x80, 0x80), mal, ""},
	{"MQTT-1.5.3-2 topic with U+0000", V311, packet(0x30, 0, 3, "a", 0, "b"), mal, ""},
	{"5.0 MQTT-1.5.4-2 topic with U+0000", V5, packet(0x30, 0, 1, 0, 0), mal, ""},
	{"5.0 MQTT-3.3.2-8 Topic Alias 0", V5, packet(0x30, 0, 3, "a/b", 3, 0x23, 0, 0), TopicAliasInvalid, ""},
	{"5.0 §2.2.2.2 Session Expiry in PUBLISH", V5, packet(0x30, 0, 1, "t", 5, 0x11, 0, 0, 0, 0), mal, ""},
	{"5.0 §2.2.2.2 unknown property 0x04", V5, packet(0x30, 0, 1, "t", 2, 0x04, 0), mal, ""},
	{"5.0 §2.2.2.2 unknown property 0x7F", V5, packet(0x30, 0, 1, "t", 2, 0x7F, 0), mal, ""},
	{"5.0 MQTT-1.5.5-1 property identifier 0x8000 not minimal", V5, packet(0x30, 0, 1, "t", 2, 0x80, 0x00), mal, ""},
	{"5.0 §2.2.2.2 unknown property 0x8001", V5, packet(0x30, 0, 1, "t", 3, 0x80, 0x01, 0), mal, ""},
	{"5.0 MQTT-1.5.5-1 property length not minimal", V5, packet(0x30, 0, 1, "t", 0x80, 0x00), mal, ""},
	{"5.0 §2.2.2.2 Message Expiry truncated", V5, packet(0x30, 0, 1, "t", 3, 0x02, 0, 0), mal, ""},
	{"5.0 §2.2.2.2 property length past the packet", V5, packet(0x30, 0, 1, "t", 9, 0x01, 0), mal, ""},
	{"5.0 §3.3.2.3 Message Expiry twice", V5, packet(0x30, 0, 1, "t", 10, 0x02, 0, 0, 0, 1, 0x02, 0, 0, 0, 1), proto, ""},
	{"5.0 §3.3.2.3 Topic Alias twice", V5, packet(0x30, 0, 1, "t", 6, 0x23, 0, 1, 0x23, 0, 1), proto, ""},
	{"5.0 MQTT-3.3.2-14 Response Topic with a wildcard", V5, packet(0x30, 0, 1, "t", 4, 0x08, 0, 1, "#"), proto, ""},
	{"5.0 MQTT-3.3.2-13 Response Topic not UTF-8", V5, packet(0x30, 0, 1, "t", 4, 0x08, 0, 1, 0xFF), mal, ""},
	{"5.0 §3.3.2.3.8 Subscription Identifier 0", V5, packet(0x30, 0, 1, "t", 2, 0x0B, 0), proto, ""},
	{"5.0 §1.5.5 Subscription Identifier of 5 bytes", V5, packet(0x30, 0, 1, "t", 6, 0x0B, 0x80, 0x80, 0x80, 0x80, 0x01), mal, ""},
	{"5.0 MQTT-1.5.7-1 User Property value with U+0000", V5, packet(0x30, 0, 1, "t", 7, 0x26, 0, 1, "k", 0, 1, 0), mal, ""},
	{"5.0 MQTT-1.5.7-1 User Property value truncated", V5, packet(0x30, 0, 1, "t", 5, 0x26, 0, 1, "k", 0), mal, ""},

	// PUBACK, PUBREC, PUBREL, PUBCOMP
	{"MQTT-2.3.1-1 PUBACK packet identifier 0", V311, b(0x40, 2, 0, 0), proto, ""},
	{"5.0 MQTT-2.2.1-3 PUBREL packet identifier 0", V5, b(0x62, 2, 0, 0), proto, ""},
	{"5.0 §3.4.2.1 PUBACK reason 0x92", V5, b(0x40, 3, 0, 1, 0x92), proto, ""},
	{"5.0 §3.6.2.1 PUBREL reason 0x10", V5, b(0x62, 3, 0, 1, 0x10), proto, ""},
	{"5.0 §2.2.2.2 Topic Alias in PUBACK", V5, b(0x40, 7, 0, 1, 0, 3, 0x23, 0, 1), mal, ""},
	{"5.0 §3.4.2.2 Reason String twice", V5, b(0x40, 10, 0, 1, 0, 6, 0x1F, 0, 0, 0x1F, 0, 0), proto, ""},

	// SUBSCRIBE
	{"MQTT-3.8.3-3 no topic filter", V311, b(0x82, 2, 0, 1), proto, ""},
	{"5.0 MQTT-3.8.3-2 no topic filter", V5, b(0x82, 3, 0, 1, 0), proto, ""},
	{"MQTT-2.3.1-1 SUBSCRIBE packet identifier 0", V311, packet(0x82, 0, 0, 0, 1, "a", 0), proto, ""},
	{"MQTT-3-8.3-4 requested QoS 3", V311, packet(0x82, 0, 1, 0, 1, "a", 3), proto, ""},
	{"MQTT-3-8.3-4 reserved option bits", V311, packet(0x82, 0, 1, 0, 1, "a", 0x04), mal, ""},
	{"5.0 §3.8.3.1 requested QoS 3", V5, packet(0x82, 0, 1, 0, 0, 1, "a", 3), proto, ""},
	{"5.0 MQTT-3.8.3-5 reserved option bit 6", V5, packet(0x82, 0, 1, 0, 0, 1, "a", 0x40), mal, ""},
	{"5.0 MQTT-3.8.3-5 reserved option bit 7", V5, packet(0x82, 0, 1, 0, 0, 1, "a", 0x80), mal, ""},
	{"5.0 §3.8.3.1 Retain Handling 3", V5, packet(0x82, 0, 1, 0, 0, 1, "a", 0x30), proto, ""},
	{"MQTT-4.7.3-1 empty topic filter", V311, packet(0x82, 0, 1, 0, 0, 0), mal, ""},
	{"MQTT-4.7.3-1 second topic filter empty", V311, packet(0x82, 0, 1, 0, 1, "a", 0, 0, 0, 0), mal, ""},
	{"MQTT-4.8.0-1 options byte missing", V311, packet(0x82, 0, 1, 0, 1, "a"), mal, ""},
	{"MQTT-1.5.3-1 topic filter not UTF-8", V311, packet(0x82, 0, 1, 0, 1, 0xFE, 0), mal, ""},
	{"5.0 §3.8.2.1.2 Subscription Identifier twice", V5, packet(0x82, 0, 1, 4, 0x0B, 1, 0x0B, 2, 0, 1, "a", 0), proto, ""},
	{"5.0 §3.8.2.1.2 Subscription Identifier 0", V5, packet(0x82, 0, 1, 2, 0x0B, 0, 0, 1, "a", 0), proto, ""},
	{"5.0 §3.8.2.1.2 Subscription Identifier of 5 bytes", V5, packet(0x82, 0, 1, 6, 0x0B, 0x80, 0x80, 0x80, 0x80, 0x01, 0, 1, "a", 0), mal, ""},

	// UNSUBSCRIBE
	{"MQTT-3.10.3-2 no topic filter", V311, b(0xA2, 2, 0, 1), proto, ""},
	{"5.0 MQTT-3.10.3-2 no topic filter", V5, b(0xA2, 3, 0, 1, 0), proto, ""},
	{"MQTT-2.3.1-1 UNSUBSCRIBE packet identifier 0", V311, packet(0xA2, 0, 0, 0, 1, "a"), proto, ""},
	{"MQTT-4.7.3-1 UNSUBSCRIBE empty filter", V311, packet(0xA2, 0, 1, 0, 0), mal, ""},
	{"MQTT-4.8.0-1 UNSUBSCRIBE filter truncated", V311, packet(0xA2, 0, 1, 0, 3, "a"), mal, ""},

	// SUBACK, UNSUBACK
	{"§3.9.3 SUBACK without return codes", V311, b(0x90, 2, 0, 1), proto, ""},
	{"§3.9.3 SUBACK return code 3", V311, b(0x90, 3, 0, 1, 3), proto, ""},
	{"5.0 §3.9.3 SUBACK reason 0x10", V5, b(0x90, 4, 0, 1, 0, 0x10), proto, ""},
	{"5.0 §3.11.3 UNSUBACK without reason codes", V5, b(0xB0, 3, 0, 1, 0), proto, ""},
	{"5.0 §3.11.3 UNSUBACK reason 0x01", V5, b(0xB0, 4, 0, 1, 0, 0x01), proto, ""},

	// DISCONNECT, AUTH
	{"5.0 §3.14.2.1 DISCONNECT reason 0x01", V5, b(0xE0, 1, 0x01), proto, ""},
	{"5.0 §2.2.2.2 Subscription Identifier in DISCONNECT", V5, b(0xE0, 4, 0, 2, 0x0B, 1), mal, ""},
	{"5.0 §3.14.2.2 property length past the packet", V5, b(0xE0, 2, 0, 5), mal, ""},
	{"5.0 §3.15.2.1 AUTH reason 0x01", V5, b(0xF0, 1, 0x01), proto, ""},
	{"5.0 §3.15.2.2 Authentication Data without Method", V5, b(0xF0, 5, 0x18, 3, 0x16, 0, 0), proto, ""},
}

func TestBadInput(t *testing.T) {
	for _, c := range badInputs {
		t.Run(c.name, func(t *testing.T) {
			err := decodeWire(c.wire, c.version)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want an *Error with code 0x%02X", err, byte(c.code))
			}
			if e.Code != c.code {
				t.Fatalf("got %v, want code 0x%02X", err, byte(c.code))
			}
			if !strings.Contains(e.Msg, c.msg) {
				t.Fatalf("got %v, want a message containing %q", err, c.msg)
			}
		})
	}
}

// decodeWire frames and decodes one packet.
func decodeWire(wire []byte, version byte) error {
	r := NewReader(bytes.NewReader(wire), 0)
	h, body, err := r.ReadFrame()
	if err != nil {
		return err
	}
	if _, _, err := r.ReadFrame(); err == nil {
		return errors.New("test case holds more than one packet")
	}
	_, err = Decode(h, body, version)
	return err
}

// TestAcceptedEdgeCases lists inputs a strict decoder might wrongly refuse.
func TestAcceptedEdgeCases(t *testing.T) {
	cases := []struct {
		name    string
		version byte
		wire    []byte
	}{
		{"topic A U+2A6D4 (4-byte UTF-8)", V311, packet(0x30, 0, 5, "A", 0xF0, 0xAA, 0x9B, 0x94)},
		{"topic with U+FFFF and a control character", V311, packet(0x30, 0, 4, 0xEF, 0xBF, 0xBF, 0x01)},
		{"topic starting with $", V311, packet(0x30, 0, 4, "$SYS")},
		{"filter a/#/b (the topic package checks wildcards)", V311, packet(0x82, 0, 1, 0, 5, "a/#/b", 0)},
		{"5.0 password without user name", V5, packet(0x10, connectHead("MQTT", 5, 0x42), 0, 0, 1, "c", 0, 1, "p")},
		{"5.0 several Subscription Identifiers in PUBLISH", V5, packet(0x30, 0, 1, "t", 4, 0x0B, 1, 0x0B, 2)},
		{"5.0 several User Properties", V5, packet(0x40, 0, 1, 0, 10, 0x26, 0, 0, 0, 0, 0x26, 0, 0, 0, 0)},
		{"5.0 AUTH with reason only", V5, b(0xF0, 1, 0x19)},
		{"5.0 Topic Alias Maximum 0", V5, packet(0x10, connectHead("MQTT", 5, 2), 3, 0x22, 0, 0, 0, 1, "c")},
		{"5.0 empty Content Type", V5, packet(0x30, 0, 1, "t", 3, 0x03, 0, 0)},
		{"3.1 empty client identifier", V31, packet(0x10, connectHead("MQIsdp", 3, 2), 0, 0)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := decodeWire(c.wire, c.version); err != nil {
				t.Fatal(err)
			}
		})
	}
}
