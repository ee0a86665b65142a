package packets

// Type returns a.Kind: TypePuback, TypePubrec, TypePubrel or TypePubcomp.
func (a *Ack) Type() Type { return a.Kind }

// ackReasons returns the reason codes allowed in acknowledgement type t, or
// "" when t is not one.
func ackReasons(t Type) string {
	switch t {
	case TypePuback, TypePubrec:
		return pubackCodes
	case TypePubrel, TypePubcomp:
		return pubrelCodes
	default:
		return ""
	}
}

// Decode replaces a with the acknowledgement framed by h (PUBACK, PUBREC,
// PUBREL or PUBCOMP; Kind is set from h.Type) in the form of protocol level
// version. Before MQTT 5 the body is exactly the packet identifier.
func (a *Ack) Decode(h FixedHeader, body []byte, version byte) error {
	props := a.Properties
	*a = Ack{Kind: h.Type}
	allowed := ackReasons(h.Type)
	if allowed == "" {
		return malformed(h.Type.String() + " is not an acknowledgement")
	}
	if err := checkFlags(h.Type, h.Flags); err != nil {
		return err
	}
	d := decoder{buf: body}
	var err error
	if a.PacketID, err = d.readPacketID(); err != nil {
		return err
	}
	if version < V5 {
		return d.end(h.Type)
	}
	a.Properties = props
	return decodeReasonTail(&d, h.Type, allowed, &a.ReasonCode, &a.Properties)
}

// Encode appends the acknowledgement in the form of protocol level version.
// In MQTT 5 the Reason Code and properties are left out when they are
// Success and empty. It fails when Kind is not an acknowledgement type.
func (a *Ack) Encode(dst []byte, version byte) ([]byte, error) {
	if ackReasons(a.Kind) == "" {
		return dst, encodeErr(a.Kind.String() + " is not an acknowledgement")
	}
	remaining, propLen := 2, 0
	if version >= V5 {
		var err error
		if propLen, err = a.Properties.length(propContext(a.Kind)); err != nil {
			return dst, err
		}
		remaining += reasonTailSize(a.ReasonCode, propLen)
		if err := checkRemaining(a.Kind, remaining); err != nil {
			return dst, err
		}
	}
	dst = AppendFixedHeader(dst, a.Kind, fixedFlags(a.Kind), remaining)
	dst = appendUint16(dst, a.PacketID)
	if version >= V5 {
		dst = appendReasonTail(dst, a.ReasonCode, &a.Properties, propLen)
	}
	return dst, nil
}
