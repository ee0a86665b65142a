package packets

// Type returns TypeUnsuback.
func (u *Unsuback) Type() Type { return TypeUnsuback }

// Decode replaces u with the UNSUBACK whose flags and body are given, in
// the form of protocol level version. Before MQTT 5 the body is exactly the
// packet identifier and ReasonCodes stays empty.
func (u *Unsuback) Decode(flags byte, body []byte, version byte) error {
	*u = Unsuback{}
	if version >= V5 {
		var err error
		u.PacketID, u.ReasonCodes, err = decodeAckList(TypeUnsuback, flags, body, version, unsubackCodes, &u.Properties)
		return err
	}
	if err := checkFlags(TypeUnsuback, flags); err != nil {
		return err
	}
	d := decoder{buf: body}
	var err error
	if u.PacketID, err = d.readPacketID(); err != nil {
		return err
	}
	return d.end(TypeUnsuback)
}

// Encode appends the UNSUBACK in the form of protocol level version; the
// reason codes and properties are left out before MQTT 5.
func (u *Unsuback) Encode(dst []byte, version byte) ([]byte, error) {
	if version < V5 {
		dst = AppendFixedHeader(dst, TypeUnsuback, 0, 2)
		return appendUint16(dst, u.PacketID), nil
	}
	return encodeAckList(dst, TypeUnsuback, u.PacketID, &u.Properties, u.ReasonCodes, version)
}
