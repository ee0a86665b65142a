package packets

// Bits of the MQTT 5 subscription options byte (5.0 §3.8.3.1); before
// MQTT 5 only the QoS bits exist.
const (
	optionQoS               = 0x03
	optionNoLocal           = 0x04
	optionRetainAsPublished = 0x08
	optionRetainHandling    = 0x30
	optionReservedV5        = 0xC0
	optionReservedV3        = 0xFC
)

// Type returns TypeSubscribe.
func (s *Subscribe) Type() Type { return TypeSubscribe }

// Decode replaces s with the SUBSCRIBE whose flags and body are given, in
// the form of protocol level version. Filters are checked for UTF-8 and
// length only; their wildcard syntax is the topic package's concern.
func (s *Subscribe) Decode(flags byte, body []byte, version byte) error {
	*s = Subscribe{}
	if err := checkFlags(TypeSubscribe, flags); err != nil {
		return err
	}
	d := decoder{buf: body}
	var err error
	if s.PacketID, err = d.readPacketID(); err != nil {
		return err
	}
	if version >= V5 {
		if err := s.Properties.decode(&d, propContext(TypeSubscribe)); err != nil {
			return err
		}
	}
	if d.remaining() == 0 {
		return protocolErr("[MQTT-3.8.3-3] SUBSCRIBE with no topic filter")
	}
	for d.remaining() > 0 {
		sub, err := decodeSubscription(&d, version)
		if err != nil {
			return err
		}
		s.Subscriptions = append(s.Subscriptions, sub)
	}
	return nil
}

// decodeSubscription reads one topic filter and its options.
func decodeSubscription(d *decoder, version byte) (Subscription, error) {
	filter, err := d.readFilter()
	if err != nil {
		return Subscription{}, err
	}
	options, err := d.readByte("subscription options")
	if err != nil {
		return Subscription{}, err
	}
	sub := Subscription{Filter: filter, QoS: options & optionQoS}
	if version >= V5 {
		if options&optionReservedV5 != 0 {
			return sub, malformed("[MQTT-3.8.3-5] SUBSCRIBE reserved option bits set")
		}
		sub.NoLocal = options&optionNoLocal != 0
		sub.RetainAsPublished = options&optionRetainAsPublished != 0
		sub.RetainHandling = options & optionRetainHandling >> 4
		if sub.RetainHandling == 3 {
			return sub, protocolErr("SUBSCRIBE with Retain Handling 3")
		}
	} else if options&optionReservedV3 != 0 {
		return sub, malformed("[MQTT-3-8.3-4] SUBSCRIBE reserved option bits set")
	}
	if sub.QoS == 3 {
		return sub, protocolErr("[MQTT-3-8.3-4] SUBSCRIBE requesting QoS 3")
	}
	return sub, nil
}

// readFilter reads a topic filter: UTF-8, at least one character
// [MQTT-4.7.3-1].
func (d *decoder) readFilter() (string, error) {
	filter, err := d.readStringBytes("topic filter")
	if err != nil {
		return "", err
	}
	if len(filter) == 0 {
		return "", malformed("[MQTT-4.7.3-1] empty topic filter")
	}
	return string(filter), nil
}

// options returns the subscription options byte for protocol level version.
func (sub *Subscription) options(version byte) byte {
	o := sub.QoS
	if version < V5 {
		return o
	}
	if sub.NoLocal {
		o |= optionNoLocal
	}
	if sub.RetainAsPublished {
		o |= optionRetainAsPublished
	}
	return o | sub.RetainHandling<<4
}

// Encode appends the SUBSCRIBE in the form of protocol level version; the
// MQTT 5 options are left out before MQTT 5. It fails when a QoS or Retain
// Handling is above 2, a field is too long or a property is not allowed.
func (s *Subscribe) Encode(dst []byte, version byte) ([]byte, error) {
	var sz sizer
	sz.add(2)
	propLen := 0
	if version >= V5 {
		propLen = sz.properties(&s.Properties, propContext(TypeSubscribe))
	}
	for i := range s.Subscriptions {
		sub := &s.Subscriptions[i]
		if sub.QoS > 2 || sub.RetainHandling > 2 {
			return dst, encodeErr("SUBSCRIBE QoS or Retain Handling above 2")
		}
		sz.field("topic filter", len(sub.Filter))
		sz.add(1)
	}
	remaining, err := sz.remaining(TypeSubscribe)
	if err != nil {
		return dst, err
	}
	dst = AppendFixedHeader(dst, TypeSubscribe, fixedFlags(TypeSubscribe), remaining)
	dst = appendUint16(dst, s.PacketID)
	if version >= V5 {
		dst = s.Properties.appendTo(dst, propLen)
	}
	for i := range s.Subscriptions {
		sub := &s.Subscriptions[i]
		dst = append(appendString(dst, sub.Filter), sub.options(version))
	}
	return dst, nil
}
