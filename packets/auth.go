package packets

// Type returns TypeAuth.
func (p *Auth) Type() Type { return TypeAuth }

// Decode replaces p with the AUTH whose flags and body are given. AUTH
// exists in MQTT 5 only: with an earlier version it is a protocol error
// (type 15 is reserved there). The Reason Code (Success when absent) and
// properties are optional.
func (p *Auth) Decode(flags byte, body []byte, version byte) error {
	props := p.Properties
	*p = Auth{}
	if version < V5 {
		return protocolErr("[MQTT-2.2.2-2] packet type 15 (AUTH) before MQTT 5")
	}
	if err := checkFlags(TypeAuth, flags); err != nil {
		return err
	}
	p.Properties = props
	d := decoder{buf: body}
	return decodeReasonTail(&d, TypeAuth, authCodes, &p.ReasonCode, &p.Properties)
}

// Encode appends the AUTH. It fails for a version before MQTT 5.
func (p *Auth) Encode(dst []byte, version byte) ([]byte, error) {
	if version < V5 {
		return dst, encodeErr("AUTH before MQTT 5")
	}
	return encodeReasonTail(dst, TypeAuth, p.ReasonCode, &p.Properties)
}
