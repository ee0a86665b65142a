package broker

import (
	"errors"

	"github.com/midge-mqtt/midge/packets"
)

// maxReasonString bounds the reason strings the broker writes: they explain,
// they do not carry data.
const maxReasonString = 200

// addReasonString puts why into props as the packet's Reason String when
// the client takes them: an MQTT 5 client that did not set Request Problem
// Information to 0 [MQTT-3.1.2-29], and only while the packet stays within
// the client's Maximum Packet Size [MQTT-3.1.2-25]. props belongs to pkt.
// It is for refusals and errors only: it encodes pkt once to measure it.
func (c *conn) addReasonString(pkt packets.Packet, props *packets.Properties, why string) {
	if why == "" || c.version != packets.V5 || c.noProblemInfo {
		return
	}
	props.ReasonString = clip(why)
	if c.maxPacketOut == 0 {
		return
	}
	if b, err := pkt.Encode(nil, packets.V5); err != nil || uint32(len(b)) > c.maxPacketOut {
		props.ReasonString = ""
	}
}

// clip cuts s to at most maxReasonString bytes without splitting a UTF-8
// sequence.
func clip(s string) string {
	if len(s) <= maxReasonString {
		return s
	}
	i := maxReasonString
	for i > 0 && s[i]&0xC0 == 0x80 {
		i--
	}
	return s[:i]
}

// reasonText is the reason string for a connection ended by err.
func reasonText(err error) string {
	var cr *closeReason
	if errors.As(err, &cr) {
		return cr.msg
	}
	var pe *packets.Error
	if errors.As(err, &pe) {
		return pe.Msg
	}
	return ""
}
