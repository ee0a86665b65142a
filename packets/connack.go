package packets

// connackOrder is the order in which Encode writes CONNACK properties:
// Mosquitto 2.0's (src/handle_connect.c adds the first group as it admits
// the client, src/send_connack.c appends the second), so that a CONNACK
// compares byte for byte with the one Mosquitto sends for the same
// configuration. Mosquitto sends neither Response Information nor a
// reason string in CONNACK; they sit between the two groups and at the
// end. Properties not listed follow by ascending id.
var connackOrder = [...]PropertyID{
	PropTopicAliasMaximum,
	PropServerKeepAlive,
	PropAssignedClientID,
	PropAuthMethod,
	PropAuthData,
	PropResponseInfo,
	PropRetainAvailable,
	PropMaximumPacketSize,
	PropReceiveMaximum,
	PropMaximumQoS,
	PropReasonString,
	PropUserProperty,
}

// Type returns TypeConnack.
func (c *Connack) Type() Type { return TypeConnack }

// Decode replaces c with the CONNACK whose flags and body are given, in the
// form of protocol level version. With version V5 a two-byte body is read
// as a 3.1.1 CONNACK with its return codes, which is how a server that does
// not speak MQTT 5 refuses an MQTT 5 CONNECT (ConnRefusedVersion).
func (c *Connack) Decode(flags byte, body []byte, version byte) error {
	props := c.Properties
	*c = Connack{}
	if err := checkFlags(TypeConnack, flags); err != nil {
		return err
	}
	d := decoder{buf: body}
	ackFlags, err := d.readByte("connect acknowledge flags")
	if err != nil {
		return err
	}
	if ackFlags&^1 != 0 {
		return malformed("§3.2.2.1 CONNACK reserved flag bits set")
	}
	c.SessionPresent = ackFlags == 1
	code, err := d.readByte("reason code")
	if err != nil {
		return err
	}
	c.ReasonCode = ReasonCode(code)
	allowed := connackCodes
	if version < V5 || len(body) == 2 {
		allowed = connackCodesV3
	}
	if err := checkReason(TypeConnack, allowed, c.ReasonCode); err != nil {
		return err
	}
	if c.SessionPresent && c.ReasonCode != Success {
		return protocolErr("[MQTT-3.2.2-4] CONNACK with Session Present and a refusal")
	}
	if version >= V5 && len(body) > 2 {
		c.Properties = props
		if err := c.Properties.decode(&d, propContext(TypeConnack)); err != nil {
			return err
		}
	}
	return d.end(TypeConnack)
}

// Encode appends the CONNACK in the form of protocol level version. With
// version V5 and a 3.1.1 refusal code (ConnRefusedVersion to
// ConnRefusedNotAuthorized, which are not MQTT 5 CONNACK codes) it writes
// the 3.1.1 form without properties, as Decode expects.
func (c *Connack) Encode(dst []byte, version byte) ([]byte, error) {
	v5 := version >= V5 && (c.ReasonCode == Success || c.ReasonCode > ConnRefusedNotAuthorized)
	remaining, propLen := 2, 0
	if v5 {
		var err error
		if propLen, err = c.Properties.length(propContext(TypeConnack)); err != nil {
			return dst, err
		}
		remaining += VarintSize(propLen) + propLen
	}
	if err := checkRemaining(TypeConnack, remaining); err != nil {
		return dst, err
	}
	dst = AppendFixedHeader(dst, TypeConnack, 0, remaining)
	ackFlags := byte(0)
	if c.SessionPresent {
		ackFlags = 1
	}
	dst = append(dst, ackFlags, byte(c.ReasonCode))
	if v5 {
		dst = c.Properties.appendOrdered(dst, propLen, connackOrder[:])
	}
	return dst, nil
}
