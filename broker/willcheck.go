package broker

import (
	"errors"
	"fmt"
	"strings"

	"github.com/midge-mqtt/midge/packets"
	"github.com/midge-mqtt/midge/topic"
)

// A will is checked at CONNECT as a PUBLISH of it would be, so that a will
// the client could not have published is refused when it is given rather
// than published, or dropped, when the client goes. checkWill does the
// checks that need no user: the topic, under the listener's mount_point
// (mounted first, as in Mosquitto's will__read), max_qos, retain_available,
// message_size_limit and max_packet_size. checkWillAccess does the rest
// once the client has authenticated (a bad password keeps its own code):
// the topics only the broker writes and the ACL's write access.
//
// The refusals follow Mosquitto 2.0 (src/handle_connect.c) where it has
// them: MQTT 5 gets CONNACK 0x9A, 0x9B or 0x95, MQTT 3.1.1 and 3.1 are
// closed without CONNACK for retain_available and max_qos (their CONNACK
// has no code for these) and get return code 5 for message_size_limit.
// Where Mosquitto has none, or accepts the will and drops it later, midge
// refuses as for the nearest PUBLISH check: a topic that is no valid name
// is 0x90 at MQTT 5 and closed before; a will too large to be a PUBLISH
// under max_packet_size is 0x95 at MQTT 5 and closed before; a will to
// $SYS, $share/ or $CONTROL/, or to a topic the ACL does not let the client
// write, is 0x87 at MQTT 5 and return code 5 before. Mosquitto 2.0 accepts
// wills to $SYS and to denied topics and drops them when the client goes,
// and closes the connection without CONNACK for $CONTROL/ (2.0.16).

// checkWill applies the checks of a will that need no user. It returns the
// CONNACK code of a refusal, 0 for a connection closed without CONNACK.
func (c *conn) checkWill(p *packets.Connect) (packets.ReasonCode, error) {
	w, v5 := p.Will, p.Version == packets.V5
	if w.Retain && c.s.o().RetainUnavailable {
		return v5Code(v5, packets.RetainNotSupported), errors.New("retained will while retain_available is false")
	}
	if w.QoS > c.maxQoS() {
		return v5Code(v5, packets.QoSNotSupported), fmt.Errorf("will QoS %d above this listener's max_qos %d", w.QoS, c.maxQoS())
	}
	if err := topic.ValidName(w.Topic); err != nil {
		return v5Code(v5, packets.TopicNameInvalid), fmt.Errorf("will topic: %w [MQTT-3.1.3-11]", err)
	}
	name := c.mountPoint() + w.Topic
	if err := topic.ValidName(name); err != nil {
		return v5Code(v5, packets.TopicNameInvalid), fmt.Errorf("will topic under the listener's mount_point: %w", err)
	}
	if limit := c.s.o().MessageSizeLimit; limit > 0 && len(w.Payload) > limit {
		return notSupported(v5, packets.PacketTooLarge),
			fmt.Errorf("too large will payload: %d bytes, message_size_limit %d", len(w.Payload), limit)
	}
	if limit := c.s.o().MaxPacketSize; limit > 0 {
		if size := willPublishSize(w, name, p.Version); size > limit {
			return v5Code(v5, packets.PacketTooLarge),
				fmt.Errorf("too large will: %d bytes as a PUBLISH, max_packet_size %d", size, limit)
		}
	}
	return 0, nil
}

// v5Code is code at MQTT 5 and 0, close without CONNACK, before.
func v5Code(v5 bool, code packets.ReasonCode) packets.ReasonCode {
	if v5 {
		return code
	}
	return 0
}

// willPublishSize is the size of the will as the PUBLISH its client would
// send, under the mounted topic name: what max_packet_size bounds.
func willPublishSize(w *packets.Will, name string, version byte) int {
	remaining := 2 + len(name) + len(w.Payload)
	if w.QoS > 0 {
		remaining += 2 // packet identifier
	}
	if version == packets.V5 {
		props := w.Properties
		props.Clear(packets.PropWillDelay) // the one will property a PUBLISH has not
		remaining += props.Size()
	}
	return 1 + packets.VarintSize(remaining) + remaining
}

// checkWillAccess refuses a will the authenticated client may not publish:
// to the topics only the broker writes, as the client wrote it or under
// the listener's mount_point (as for its PUBLISHes), or to a topic the ACL
// does not let it write. MQTT 5 gets CONNACK 0x87, MQTT 3.1.1 and 3.1
// return code 5. A will that passes is held to the ACL again when it is
// published (publishWill): a reload may have changed it since.
func (c *conn) checkWillAccess(p *packets.Connect) (packets.ReasonCode, error) {
	w := p.Will
	if w == nil {
		return 0, nil
	}
	code := notSupported(p.Version == packets.V5, packets.NotAuthorized)
	name := c.mountPoint() + w.Topic
	if why := reservedWillTopic(w.Topic); why != "" {
		return code, fmt.Errorf("will to '%s' not authorised: %s", w.Topic, why)
	}
	if why := reservedWillTopic(name); why != "" {
		return code, fmt.Errorf("will to '%s' not authorised: %s", name, why)
	}
	if c.access != nil && !c.access.CanWrite(name) {
		return code, fmt.Errorf("will to '%s' not authorised by the ACL", name)
	}
	return 0, nil
}

// reservedWillTopic says why no client's will may go to name, or "": the
// topics no client's PUBLISH may write (reservedTopic), and $CONTROL/, the
// broker's control API, where Mosquitto 2.0.16 refuses wills.
func reservedWillTopic(name string) string {
	switch {
	case strings.HasPrefix(name, "$CONTROL/"):
		return "$CONTROL/ is the broker's control API"
	case strings.HasPrefix(name, "$share/"):
		return "$share/ names a shared subscription, not a topic"
	case reservedTopic(name):
		return "only the broker publishes to $SYS"
	}
	return ""
}
