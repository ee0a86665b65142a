package packets

// This file holds the packet structs. Each type's Decode, Encode and Type
// methods live in a file named after the packet (connect.go, publish.go, ...).

// Connect is CONNECT.
type Connect struct {
	ProtocolName string // "MQTT" or "MQIsdp"; Encode fills in an empty one from Version
	Version      byte   // V31, V311 or V5; Encode uses its version argument when 0
	Bridge       bool   // bit 7 of the protocol level was set: a Mosquitto bridge (try_private)
	CleanStart   bool   // Clean Session in 3.1.1
	KeepAlive    uint16 // seconds
	ClientID     string
	UsernameFlag bool // Encode also sets the flag when Username is not empty
	Username     string
	PasswordFlag bool       // 5.0 allows it without UsernameFlag; Encode also sets it when Password is not empty
	Password     []byte     // after Decode, aliases the body
	Will         *Will      // nil when the will flag is clear
	Properties   Properties // MQTT 5 only
}

// Will is the will message carried in CONNECT.
type Will struct {
	Topic      string
	Payload    []byte // after Decode, aliases the body
	QoS        byte
	Retain     bool
	Properties Properties // MQTT 5 will properties
}

// Connack is CONNACK.
type Connack struct {
	SessionPresent bool
	ReasonCode     ReasonCode // 3.1.1 return code 0..5, or an MQTT 5 reason code
	Properties     Properties // MQTT 5 only
}

// Publish is PUBLISH. After Decode, Payload aliases the decoded body.
type Publish struct {
	Dup        bool
	QoS        byte // 0, 1 or 2
	Retain     bool
	Topic      string     // empty only in MQTT 5 with a Topic Alias
	PacketID   uint16     // only when QoS > 0
	Properties Properties // MQTT 5 only
	Payload    []byte
}

// Ack is PUBACK, PUBREC, PUBREL or PUBCOMP: the four share a shape.
type Ack struct {
	Kind       Type // TypePuback, TypePubrec, TypePubrel or TypePubcomp
	PacketID   uint16
	ReasonCode ReasonCode // MQTT 5 only; Success otherwise
	Properties Properties
}

// Subscription is one topic filter of a SUBSCRIBE with its options.
type Subscription struct {
	Filter            string
	QoS               byte
	NoLocal           bool // MQTT 5
	RetainAsPublished bool // MQTT 5
	RetainHandling    byte // MQTT 5: 0, 1 or 2
}

// Subscribe is SUBSCRIBE.
type Subscribe struct {
	PacketID      uint16
	Properties    Properties
	Subscriptions []Subscription
}

// Suback is SUBACK. ReasonCodes holds one granted QoS or failure code per filter.
type Suback struct {
	PacketID    uint16
	Properties  Properties
	ReasonCodes []ReasonCode
}

// Unsubscribe is UNSUBSCRIBE.
type Unsubscribe struct {
	PacketID   uint16
	Properties Properties
	Filters    []string
}

// Unsuback is UNSUBACK. ReasonCodes is empty before MQTT 5.
type Unsuback struct {
	PacketID    uint16
	Properties  Properties
	ReasonCodes []ReasonCode
}

// Pingreq is PINGREQ.
type Pingreq struct{}

// Pingresp is PINGRESP.
type Pingresp struct{}

// Disconnect is DISCONNECT. ReasonCode and Properties are MQTT 5 only.
type Disconnect struct {
	ReasonCode ReasonCode
	Properties Properties
}

// Auth is AUTH (MQTT 5 only).
type Auth struct {
	ReasonCode ReasonCode
	Properties Properties
}
