package broker

import (
	"errors"
	"syscall"

	"github.com/midge-mqtt/midge/packets"
)

// closeReason is why the broker ends a connection. Code is the MQTT 5
// reason code sent in DISCONNECT where the protocol allows one; will says
// whether the connection's will is published.
type closeReason struct {
	msg  string
	code packets.ReasonCode
	will bool
}

func (r *closeReason) Error() string { return "broker: " + r.msg }

// Reasons a connection ends, other than errors decoding its packets.
var (
	errNormalDisconnect   = &closeReason{msg: "client disconnected", code: packets.Success}
	errDisconnectWithWill = &closeReason{msg: "client disconnected with will", code: packets.Success, will: true}
	errShuttingDown       = &closeReason{msg: "server shutting down", code: packets.ServerShuttingDown, will: true}
	errTakenOver          = &closeReason{msg: "session taken over", code: packets.SessionTakenOver, will: true}
	errKeepAlive          = &closeReason{msg: "keep alive timeout", code: packets.KeepAliveTimeout, will: true}
	errSecondConnect      = &closeReason{msg: "second CONNECT [MQTT-3.1.0-2]", code: packets.ProtocolError, will: true}
	errServerPacket       = &closeReason{msg: "client sent a packet only a server sends", code: packets.ProtocolError, will: true}
	errWrongAckQoS        = &closeReason{msg: "acknowledgement out of step with the delivery (wrong QoS, or PUBCOMP before PUBREC)", code: packets.ProtocolError, will: true}
	errExpiryAfterZero    = &closeReason{msg: "DISCONNECT sets a session expiry on a session opened with none [MQTT-3.14.2-2]", code: packets.ProtocolError, will: true}
	errReceiveMaximum     = &closeReason{msg: "more QoS 2 messages awaiting PUBREL than the receive maximum", code: packets.ReceiveMaximumExceeded, will: true}
	errTopicAliasInvalid  = &closeReason{msg: "topic alias 0 or above the topic alias maximum", code: packets.TopicAliasInvalid, will: true}
	errPublishSubID       = &closeReason{msg: "PUBLISH from a client with a subscription identifier [MQTT-3.3.4-6]", code: packets.ProtocolError, will: true}
	errTopicAliasUnknown  = &closeReason{msg: "PUBLISH with an empty topic and a topic alias never defined", code: packets.ProtocolError, will: true}
	errReauthFailed       = &closeReason{msg: "re-authentication failed", code: packets.NotAuthorized, will: true}
	errQoSNotSupported    = &closeReason{msg: "PUBLISH above the listener's max_qos", code: packets.QoSNotSupported, will: true}
	errRetainNotSupported = &closeReason{msg: "retained PUBLISH while retain_available is false", code: packets.RetainNotSupported, will: true}
	errMemoryLimit        = &closeReason{msg: "broker memory limit reached; message dropped", code: packets.QuotaExceeded, will: true}
	errSysPublish         = &closeReason{msg: "publish to $SYS", code: packets.NotAuthorized, will: true}
)

var errTooManyFiles = syscall.EMFILE

// protocolReason maps an error that ended a connection to the MQTT 5
// DISCONNECT reason code and whether the will is published.
func protocolReason(err error) (packets.ReasonCode, bool) {
	var cr *closeReason
	if errors.As(err, &cr) {
		return cr.code, cr.will
	}
	var pe *packets.Error
	if errors.As(err, &pe) {
		return pe.Code, true
	}
	return packets.UnspecifiedError, true
}
