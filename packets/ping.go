package packets

// Type returns TypePingreq.
func (p *Pingreq) Type() Type { return TypePingreq }

// Decode checks that a PINGREQ has no flags and an empty body.
func (p *Pingreq) Decode(flags byte, body []byte, version byte) error {
	if err := checkFlags(TypePingreq, flags); err != nil {
		return err
	}
	return checkEmpty(TypePingreq, body)
}

// Encode appends the two bytes of a PINGREQ.
func (p *Pingreq) Encode(dst []byte, version byte) ([]byte, error) {
	return AppendFixedHeader(dst, TypePingreq, 0, 0), nil
}

// Type returns TypePingresp.
func (p *Pingresp) Type() Type { return TypePingresp }

// Decode checks that a PINGRESP has no flags and an empty body.
func (p *Pingresp) Decode(flags byte, body []byte, version byte) error {
	if err := checkFlags(TypePingresp, flags); err != nil {
		return err
	}
	return checkEmpty(TypePingresp, body)
}

// Encode appends the two bytes of a PINGRESP.
func (p *Pingresp) Encode(dst []byte, version byte) ([]byte, error) {
	return AppendFixedHeader(dst, TypePingresp, 0, 0), nil
}
