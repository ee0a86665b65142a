package packets

import "fmt"

// Bits of the CONNECT flags byte (3.1.1 §3.1.2.3, 5.0 §3.1.2.3).
const (
	connectReserved   = 0x01
	connectCleanStart = 0x02
	connectWill       = 0x04
	connectWillQoS    = 0x18
	connectWillRetain = 0x20
	connectPassword   = 0x40
	connectUsername   = 0x80
)

// bridgeBit is set in the protocol level by Mosquitto bridges (try_private).
const bridgeBit = 0x80

// Protocol names carried in CONNECT.
const (
	nameMQTT   = "MQTT"
	nameMQIsdp = "MQIsdp"
)

// Type returns TypeConnect.
func (c *Connect) Type() Type { return TypeConnect }

// ConnectVersion reads the protocol name and level at the start of a
// CONNECT body and returns the level (V31, V311 or V5, without the bridge
// bit). An unknown protocol name is a ProtocolError *Error
// [MQTT-3.1.2-1]; a level that is unknown or does not match the name is an
// UnsupportedProtocolVersion *Error [MQTT-3.1.2-2], returned with the level
// so a server can pick the form of its CONNACK refusal.
func ConnectVersion(body []byte) (byte, error) {
	var c Connect
	d := decoder{buf: body}
	err := c.decodeVersion(&d)
	return c.Version, err
}

// Decode replaces c with the CONNECT whose flags and body are given. The
// version argument is ignored: CONNECT carries its own protocol level. An
// unknown protocol name is a ProtocolError *Error and an unsupported or
// mismatched level an UnsupportedProtocolVersion one (see ConnectVersion).
// Password and Will.Payload alias body.
func (c *Connect) Decode(flags byte, body []byte, version byte) error {
	*c = Connect{}
	if err := checkFlags(TypeConnect, flags); err != nil {
		return err
	}
	d := decoder{buf: body}
	if err := c.decodeVersion(&d); err != nil {
		return err
	}
	connectFlags, err := d.readByte("connect flags")
	if err != nil {
		return err
	}
	if err := c.applyFlags(connectFlags); err != nil {
		return err
	}
	if c.KeepAlive, err = d.readUint16("keep alive"); err != nil {
		return err
	}
	if c.Version >= V5 {
		if err := c.Properties.decode(&d, propContext(TypeConnect)); err != nil {
			return err
		}
	}
	if err := c.decodePayload(&d); err != nil {
		return err
	}
	return d.end(TypeConnect) // [MQTT-3.1.4-1]
}

// decodeVersion reads the protocol name and level.
func (c *Connect) decodeVersion(d *decoder) error {
	name, err := d.readStringBytes("protocol name")
	if err != nil {
		return err
	}
	switch string(name) {
	case nameMQTT:
		c.ProtocolName = nameMQTT
	case nameMQIsdp:
		c.ProtocolName = nameMQIsdp
	default:
		return protocolErr(fmt.Sprintf("[MQTT-3.1.2-1] unknown protocol name %q", name))
	}
	level, err := d.readByte("protocol level")
	if err != nil {
		return err
	}
	c.Bridge = level&bridgeBit != 0
	c.Version = level &^ bridgeBit
	if c.ProtocolName == nameMQIsdp && c.Version == V31 ||
		c.ProtocolName == nameMQTT && (c.Version == V311 || c.Version == V5) {
		return nil
	}
	return &Error{Code: UnsupportedProtocolVersion,
		Msg: fmt.Sprintf("[MQTT-3.1.2-2] unsupported protocol level %d for protocol name %q", level, c.ProtocolName)}
}

// applyFlags checks the connect flags byte and records it in c; a set will
// flag makes c.Will with its QoS and Retain.
func (c *Connect) applyFlags(f byte) error {
	if f&connectReserved != 0 {
		return malformed("[MQTT-3.1.2-3] CONNECT reserved flag set")
	}
	c.CleanStart = f&connectCleanStart != 0
	c.UsernameFlag = f&connectUsername != 0
	c.PasswordFlag = f&connectPassword != 0
	qos, retain := f&connectWillQoS>>3, f&connectWillRetain != 0
	switch {
	case f&connectWill == 0 && (qos != 0 || retain):
		return malformed("[MQTT-3.1.2-11] will QoS or will retain set without the will flag")
	case qos == 3:
		return malformed("[MQTT-3.1.2-14] will QoS 3")
	case c.Version < V5 && c.PasswordFlag && !c.UsernameFlag:
		return malformed("[MQTT-3.1.2-22] password flag set without the user name flag")
	}
	if f&connectWill != 0 {
		c.Will = &Will{QoS: qos, Retain: retain}
	}
	return nil
}

// decodePayload reads the client identifier, will, user name and password.
func (c *Connect) decodePayload(d *decoder) error {
	var err error
	if d.remaining() == 0 {
		return malformed("[MQTT-3.1.3-3] CONNECT without a client identifier")
	}
	if c.ClientID, err = d.readString("client identifier", ""); err != nil {
		return err
	}
	if c.Will != nil {
		if err := c.Will.decode(d, c.Version); err != nil {
			return err
		}
	}
	if c.UsernameFlag {
		if c.Username, err = d.readString("user name", ""); err != nil {
			return err
		}
	}
	if c.PasswordFlag {
		if c.Password, err = d.readBinary("password"); err != nil {
			return err
		}
	}
	return nil
}

// decode reads the will properties (MQTT 5), topic and payload.
func (w *Will) decode(d *decoder, version byte) error {
	if version >= V5 {
		if err := w.Properties.decode(d, willContext); err != nil {
			return err
		}
	}
	topic, err := d.readStringBytes("will topic")
	if err != nil {
		return err
	}
	if len(topic) == 0 {
		return malformed("[MQTT-4.7.3-1] empty will topic")
	}
	if hasWildcard(topic) {
		return malformed("[MQTT-3.3.2-2] will topic contains a wildcard")
	}
	w.Topic = string(topic)
	w.Payload, err = d.readBinary("will payload")
	return err
}

// level returns the protocol level and name Encode writes.
func (c *Connect) level(version byte) (byte, string) {
	level := c.Version
	if level == 0 {
		level = version
	}
	name := c.ProtocolName
	if name == "" {
		name = nameMQTT
		if level == V31 {
			name = nameMQIsdp
		}
	}
	return level, name
}

// flags returns the connect flags byte Encode writes. A non-empty Username
// or Password sets its flag.
func (c *Connect) flags() byte {
	var f byte
	if c.CleanStart {
		f |= connectCleanStart
	}
	if c.Will != nil {
		f |= connectWill | c.Will.QoS<<3
		if c.Will.Retain {
			f |= connectWillRetain
		}
	}
	if c.PasswordFlag || len(c.Password) > 0 {
		f |= connectPassword
	}
	if c.UsernameFlag || c.Username != "" {
		f |= connectUsername
	}
	return f
}

// Encode appends the CONNECT. The protocol level is c.Version, or version
// when that is 0; an empty ProtocolName is "MQIsdp" for V31 and "MQTT"
// otherwise. Encode does not check that name and level match, so tests can
// send a wrong pair. It fails when the will QoS is above 2, a field is too
// long or a property is not allowed where it is.
func (c *Connect) Encode(dst []byte, version byte) ([]byte, error) {
	level, name := c.level(version)
	if c.Will != nil && c.Will.QoS > 2 {
		return dst, encodeErr("will QoS above 2")
	}
	sizes, err := c.sizes(level, name)
	if err != nil {
		return dst, err
	}
	dst = AppendFixedHeader(dst, TypeConnect, 0, sizes.remaining)
	dst = appendString(dst, name)
	wireLevel := level
	if c.Bridge {
		wireLevel |= bridgeBit
	}
	flags := c.flags()
	dst = append(dst, wireLevel, flags)
	dst = appendUint16(dst, c.KeepAlive)
	if level >= V5 {
		dst = c.Properties.appendTo(dst, sizes.properties)
	}
	dst = appendString(dst, c.ClientID)
	if c.Will != nil {
		if level >= V5 {
			dst = c.Will.Properties.appendTo(dst, sizes.willProperties)
		}
		dst = appendString(dst, c.Will.Topic)
		dst = appendBinary(dst, c.Will.Payload)
	}
	if flags&connectUsername != 0 {
		dst = appendString(dst, c.Username)
	}
	if flags&connectPassword != 0 {
		dst = appendBinary(dst, c.Password)
	}
	return dst, nil
}

// connectSizes holds what Encode computes before it writes.
type connectSizes struct {
	remaining      int
	properties     int // property length of the CONNECT properties
	willProperties int // property length of the will properties
}

// sizes returns the remaining length and property lengths of the CONNECT
// at protocol level level with protocol name name.
func (c *Connect) sizes(level byte, name string) (connectSizes, error) {
	var s sizer
	var sizes connectSizes
	s.field("protocol name", len(name))
	s.add(4) // level, flags, keep alive
	if level >= V5 {
		sizes.properties = s.properties(&c.Properties, propContext(TypeConnect))
	}
	s.field("client identifier", len(c.ClientID))
	if c.Will != nil {
		if level >= V5 {
			sizes.willProperties = s.properties(&c.Will.Properties, willContext)
		}
		s.field("will topic", len(c.Will.Topic))
		s.field("will payload", len(c.Will.Payload))
	}
	flags := c.flags()
	if flags&connectUsername != 0 {
		s.field("user name", len(c.Username))
	}
	if flags&connectPassword != 0 {
		s.field("password", len(c.Password))
	}
	var err error
	sizes.remaining, err = s.remaining(TypeConnect)
	return sizes, err
}
