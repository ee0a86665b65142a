package packets

// Type returns TypeUnsubscribe.
func (u *Unsubscribe) Type() Type { return TypeUnsubscribe }

// Decode replaces u with the UNSUBSCRIBE whose flags and body are given, in
// the form of protocol level version.
func (u *Unsubscribe) Decode(flags byte, body []byte, version byte) error {
	*u = Unsubscribe{}
	if err := checkFlags(TypeUnsubscribe, flags); err != nil {
		return err
	}
	d := decoder{buf: body}
	var err error
	if u.PacketID, err = d.readPacketID(); err != nil {
		return err
	}
	if version >= V5 {
		if err := u.Properties.decode(&d, propContext(TypeUnsubscribe)); err != nil {
			return err
		}
	}
	if d.remaining() == 0 {
		return protocolErr("[MQTT-3.10.3-2] UNSUBSCRIBE with no topic filter")
	}
	for d.remaining() > 0 {
		filter, err := d.readFilter()
		if err != nil {
			return err
		}
		u.Filters = append(u.Filters, filter)
	}
	return nil
}

// Encode appends the UNSUBSCRIBE in the form of protocol level version. It
// fails when a filter is too long or a property is not allowed.
func (u *Unsubscribe) Encode(dst []byte, version byte) ([]byte, error) {
	var sz sizer
	sz.add(2)
	propLen := 0
	if version >= V5 {
		propLen = sz.properties(&u.Properties, propContext(TypeUnsubscribe))
	}
	for _, filter := range u.Filters {
		sz.field("topic filter", len(filter))
	}
	remaining, err := sz.remaining(TypeUnsubscribe)
	if err != nil {
		return dst, err
	}
	dst = AppendFixedHeader(dst, TypeUnsubscribe, fixedFlags(TypeUnsubscribe), remaining)
	dst = appendUint16(dst, u.PacketID)
	if version >= V5 {
		dst = u.Properties.appendTo(dst, propLen)
	}
	for _, filter := range u.Filters {
		dst = appendString(dst, filter)
	}
	return dst, nil
}
