package packets

// Type returns TypeDisconnect.
func (p *Disconnect) Type() Type { return TypeDisconnect }

// Decode replaces p with the DISCONNECT whose flags and body are given, in
// the form of protocol level version. Before MQTT 5 the body is empty; in
// MQTT 5 the Reason Code (Success when absent) and properties are optional.
func (p *Disconnect) Decode(flags byte, body []byte, version byte) error {
	props := p.Properties
	*p = Disconnect{}
	if err := checkFlags(TypeDisconnect, flags); err != nil {
		return err
	}
	if version < V5 {
		return checkEmpty(TypeDisconnect, body)
	}
	p.Properties = props
	d := decoder{buf: body}
	return decodeReasonTail(&d, TypeDisconnect, disconnectCodes, &p.ReasonCode, &p.Properties)
}

// Encode appends the DISCONNECT in the form of protocol level version. In
// MQTT 5 the Reason Code and properties are left out when they are Success
// and empty.
func (p *Disconnect) Encode(dst []byte, version byte) ([]byte, error) {
	if version < V5 {
		return AppendFixedHeader(dst, TypeDisconnect, 0, 0), nil
	}
	return encodeReasonTail(dst, TypeDisconnect, p.ReasonCode, &p.Properties)
}
