package packets

// Type returns TypeSuback.
func (s *Suback) Type() Type { return TypeSuback }

// Decode replaces s with the SUBACK whose flags and body are given, in the
// form of protocol level version.
func (s *Suback) Decode(flags byte, body []byte, version byte) error {
	*s = Suback{}
	allowed := subackCodesV3
	if version >= V5 {
		allowed = subackCodes
	}
	var err error
	s.PacketID, s.ReasonCodes, err = decodeAckList(TypeSuback, flags, body, version, allowed, &s.Properties)
	return err
}

// Encode appends the SUBACK in the form of protocol level version.
func (s *Suback) Encode(dst []byte, version byte) ([]byte, error) {
	return encodeAckList(dst, TypeSuback, s.PacketID, &s.Properties, s.ReasonCodes, version)
}

// decodeAckList reads the packet identifier, MQTT 5 properties and reason
// codes of a SUBACK or an MQTT 5 UNSUBACK; there must be at least one code,
// each in allowed.
func decodeAckList(t Type, flags byte, body []byte, version byte, allowed string, props *Properties) (uint16, []ReasonCode, error) {
	if err := checkFlags(t, flags); err != nil {
		return 0, nil, err
	}
	d := decoder{buf: body}
	id, err := d.readPacketID()
	if err != nil {
		return 0, nil, err
	}
	if version >= V5 {
		if err := props.decode(&d, propContext(t)); err != nil {
			return 0, nil, err
		}
	}
	if d.remaining() == 0 {
		return 0, nil, protocolErr(t.String() + " with no reason codes")
	}
	codes := make([]ReasonCode, d.remaining())
	for i, c := range d.buf[d.pos:] {
		codes[i] = ReasonCode(c)
		if err := checkReason(t, allowed, codes[i]); err != nil {
			return 0, nil, err
		}
	}
	return id, codes, nil
}

// encodeAckList appends a SUBACK or UNSUBACK with its reason codes.
func encodeAckList(dst []byte, t Type, id uint16, props *Properties, codes []ReasonCode, version byte) ([]byte, error) {
	var sz sizer
	sz.add(2 + len(codes))
	propLen := 0
	if version >= V5 {
		propLen = sz.properties(props, propContext(t))
	}
	remaining, err := sz.remaining(t)
	if err != nil {
		return dst, err
	}
	dst = AppendFixedHeader(dst, t, 0, remaining)
	dst = appendUint16(dst, id)
	if version >= V5 {
		dst = props.appendTo(dst, propLen)
	}
	for _, c := range codes {
		dst = append(dst, byte(c))
	}
	return dst, nil
}
