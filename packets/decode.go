package packets

// bodyDecoder is what each packet type's reusable Decode method satisfies.
type bodyDecoder interface {
	Packet
	Decode(flags byte, body []byte, version byte) error
}

// Decode decodes one packet body framed by h, in the form of protocol level
// version (V31, V311 or V5; ignored for CONNECT, which carries its own
// level). It checks everything a receiver can check on the packet alone:
// fixed-header flags, lengths, UTF-8, property identifiers, duplicates and
// values, QoS 3, packet identifier 0, wildcards in a PUBLISH topic,
// SUBSCRIBE and UNSUBSCRIBE without filters, and bytes after the end.
//
// Every error is an *Error whose Code is the MQTT 5 reason code to send:
// MalformedPacket, ProtocolError, or for CONNECT UnsupportedProtocolVersion.
// The body's length is authoritative; h.Remaining is not consulted. Byte
// slices in the result (payloads, passwords, binary properties) alias body;
// strings are copies. To decode into a reused value, call the type's own
// Decode method instead.
func Decode(h FixedHeader, body []byte, version byte) (Packet, error) {
	var p bodyDecoder
	switch h.Type {
	case TypeConnect:
		p = new(Connect)
	case TypeConnack:
		p = new(Connack)
	case TypePublish:
		p = new(Publish)
	case TypePuback, TypePubrec, TypePubrel, TypePubcomp:
		a := new(Ack)
		if err := a.Decode(h, body, version); err != nil {
			return nil, err
		}
		return a, nil
	case TypeSubscribe:
		p = new(Subscribe)
	case TypeSuback:
		p = new(Suback)
	case TypeUnsubscribe:
		p = new(Unsubscribe)
	case TypeUnsuback:
		p = new(Unsuback)
	case TypePingreq:
		p = new(Pingreq)
	case TypePingresp:
		p = new(Pingresp)
	case TypeDisconnect:
		p = new(Disconnect)
	case TypeAuth:
		p = new(Auth)
	default:
		return nil, protocolErr("[MQTT-2.2.2-2] reserved packet type " + h.Type.String())
	}
	if err := p.Decode(h.Flags, body, version); err != nil {
		return nil, err
	}
	return p, nil
}
