package packets

// Byte-annotated packet vectors shared by the encode, decode, round-trip,
// one-byte-reader and fuzz-seed tests.

// vector is one packet and its exact bytes at one protocol level.
type vector struct {
	name    string
	version byte
	packet  Packet
	wire    []byte
	// decodeOnly marks a valid but non-canonical form: Decode accepts it,
	// Encode writes the shorter form of another vector.
	decodeOnly bool
}

// b concatenates bytes written as ints and strings, so that vectors can be
// laid out field by field with a comment on each line.
func b(parts ...any) []byte {
	var out []byte
	for _, part := range parts {
		switch v := part.(type) {
		case int:
			out = append(out, byte(v))
		case string:
			out = append(out, v...)
		case []byte:
			out = append(out, v...)
		default:
			panic("b: unsupported part")
		}
	}
	return out
}

// present returns p with the Present bits Decode sets: those of its
// non-empty string, binary and list fields plus the scalar ids given.
func present(p Properties, scalars ...PropertyID) Properties {
	p.Present = p.effective()
	for _, id := range scalars {
		p.Set(id)
	}
	return p
}

var vectors = []vector{
	// CONNECT
	{name: "CONNECT minimal", version: V31, packet: &Connect{
		ProtocolName: "MQIsdp", Version: V31, CleanStart: true, KeepAlive: 60, ClientID: "c1",
	}, wire: b(
		0x10, 16, // CONNECT, remaining length 16
		0, 6, "MQIsdp", // protocol name
		3,     // protocol level 3
		0x02,  // flags: clean session
		0, 60, // keep alive 60 s
		0, 2, "c1", // client identifier
	)},
	{name: "CONNECT will user password", version: V311, packet: &Connect{
		ProtocolName: "MQTT", Version: V311, CleanStart: true, KeepAlive: 10, ClientID: "cid",
		Will:         &Will{Topic: "a/b", Payload: []byte("hi"), QoS: 1, Retain: true},
		UsernameFlag: true, Username: "user", PasswordFlag: true, Password: []byte("pw"),
	}, wire: b(
		0x10, 34, // CONNECT, remaining length 34
		0, 4, "MQTT", // protocol name
		4,     // protocol level 4
		0xEE,  // flags: user name, password, will retain, will QoS 1, will, clean
		0, 10, // keep alive
		0, 3, "cid", // client identifier
		0, 3, "a/b", // will topic
		0, 2, "hi", // will payload
		0, 4, "user", // user name
		0, 2, "pw", // password
	)},
	{name: "CONNECT empty client id", version: V311, packet: &Connect{
		ProtocolName: "MQTT", Version: V311, CleanStart: true,
	}, wire: b(
		0x10, 12, // CONNECT, remaining length 12
		0, 4, "MQTT", 4, // protocol name, level 4
		0x02, 0, 0, // flags: clean; keep alive 0
		0, 0, // client identifier ""
	)},
	{name: "CONNECT bridge", version: V311, packet: &Connect{
		ProtocolName: "MQTT", Version: V311, Bridge: true, ClientID: "b",
	}, wire: b(
		0x10, 13, // CONNECT, remaining length 13
		0, 4, "MQTT", // protocol name
		0x84,       // protocol level 4 with the bridge bit
		0x00, 0, 0, // flags: none; keep alive 0
		0, 1, "b", // client identifier
	)},
	{name: "CONNECT properties will password", version: V5, packet: &Connect{
		ProtocolName: "MQTT", Version: V5, CleanStart: true, KeepAlive: 30, ClientID: "c5",
		Properties: present(Properties{SessionExpiry: 120, ReceiveMaximum: 10,
			User: []UserProperty{{"k", "v"}}}, PropSessionExpiry, PropReceiveMaximum),
		Will:         &Will{Topic: "t", Properties: present(Properties{WillDelay: 5, ContentType: "text"}, PropWillDelay)},
		PasswordFlag: true, Password: []byte("pwd"),
	}, wire: b(
		0x10, 53, // CONNECT, remaining length 53
		0, 4, "MQTT", 5, // protocol name, level 5
		0x46,  // flags: password (no user name: allowed in 5.0), will QoS 0, will, clean
		0, 30, // keep alive
		15,                 // property length
		0x11, 0, 0, 0, 120, // session expiry interval 120
		0x21, 0, 10, // receive maximum 10
		0x26, 0, 1, "k", 0, 1, "v", // user property k=v
		0, 2, "c5", // client identifier
		12,                 // will property length
		0x03, 0, 4, "text", // content type
		0x18, 0, 0, 0, 5, // will delay interval 5
		0, 1, "t", // will topic
		0, 0, // will payload, empty
		0, 3, "pwd", // password
	)},

	// CONNACK
	{name: "CONNACK session present", version: V311, packet: &Connack{SessionPresent: true},
		wire: b(0x20, 2, 0x01, 0x00)}, // CONNACK, length 2, session present, accepted
	{name: "CONNACK refused", version: V311, packet: &Connack{ReasonCode: ConnRefusedNotAuthorized},
		wire: b(0x20, 2, 0x00, 0x05)}, // CONNACK, length 2, no session, not authorized
	{name: "CONNACK accepted", version: V31, packet: &Connack{},
		wire: b(0x20, 2, 0x00, 0x00)},
	// CONNACK properties go in Mosquitto 2.0's order, not by id.
	{name: "CONNACK properties", version: V5, packet: &Connack{
		Properties: present(Properties{AssignedClientID: "abc", TopicAliasMaximum: 10, MaximumQoS: 1},
			PropTopicAliasMaximum, PropMaximumQoS),
	}, wire: b(
		0x20, 14, // CONNACK, remaining length 14
		0x00, 0x00, // flags, reason Success
		11,          // property length
		0x22, 0, 10, // topic alias maximum 10
		0x12, 0, 3, "abc", // assigned client identifier
		0x24, 1, // maximum QoS 1
	)},
	// What Mosquitto 2.0.11 sends with max_keepalive 60, max_packet_size
	// 1000, max_inflight_messages 5, retain_available false, max_qos 1 and
	// max_topic_alias 3 to a client asking for keep alive 0.
	{name: "CONNACK in Mosquitto's order", version: V5, packet: &Connack{
		Properties: present(Properties{TopicAliasMaximum: 3, ServerKeepAlive: 60, RetainAvailable: 0,
			MaximumPacketSize: 1000, ReceiveMaximum: 5, MaximumQoS: 1},
			PropTopicAliasMaximum, PropServerKeepAlive, PropRetainAvailable, PropMaximumPacketSize,
			PropReceiveMaximum, PropMaximumQoS),
	}, wire: b(
		0x20, 0x15, // CONNACK, remaining length 21
		0x00, 0x00, // flags, reason Success
		0x12,       // property length 18
		0x22, 0, 3, // topic alias maximum 3
		0x13, 0, 60, // server keep alive 60
		0x25, 0, // retain available 0
		0x27, 0, 0, 0x03, 0xE8, // maximum packet size 1000
		0x21, 0, 5, // receive maximum 5
		0x24, 1, // maximum QoS 1
	)},
	{name: "CONNACK refused", version: V5, packet: &Connack{ReasonCode: NotAuthorized},
		wire: b(0x20, 3, 0x00, 0x87, 0)}, // flags, reason 0x87, property length 0
	{name: "CONNACK 3.1.1 form to a v5 client", version: V5, packet: &Connack{ReasonCode: ConnRefusedVersion},
		wire: b(0x20, 2, 0x00, 0x01)}, // what a 3.1.1 server answers to a v5 CONNECT

	// PUBLISH
	{name: "PUBLISH QoS 0", version: V311, packet: &Publish{Topic: "a/b", Payload: []byte("hello")},
		wire: b(
			0x30, 10, // PUBLISH QoS 0, remaining length 10
			0, 3, "a/b", // topic
			"hello", // payload
		)},
	{name: "PUBLISH QoS 1 dup retain", version: V311, packet: &Publish{
		Dup: true, QoS: 1, Retain: true, Topic: "a/b", PacketID: 7, Payload: []byte("x"),
	}, wire: b(
		0x3B, 8, // PUBLISH DUP, QoS 1, RETAIN; remaining length 8
		0, 3, "a/b", // topic
		0, 7, // packet identifier 7
		"x", // payload
	)},
	{name: "PUBLISH QoS 2 empty payload", version: V31, packet: &Publish{QoS: 2, Topic: "a/b", PacketID: 1},
		wire: b(
			0x34, 7, // PUBLISH QoS 2, remaining length 7
			0, 3, "a/b", // topic
			0, 1, // packet identifier 1; no payload
		)},
	{name: "PUBLISH QoS 0", version: V5, packet: &Publish{Topic: "a/b", Payload: []byte("hello")},
		wire: b(
			0x30, 11, // PUBLISH QoS 0, remaining length 11
			0, 3, "a/b", // topic
			0,       // property length 0
			"hello", // payload
		)},
	{name: "PUBLISH QoS 1 properties", version: V5, packet: &Publish{
		QoS: 1, Topic: "a/b", PacketID: 42, Payload: []byte("hi"),
		Properties: present(Properties{
			PayloadFormat: 1, MessageExpiry: 60, ResponseTopic: "r", CorrelationData: []byte{1, 2},
			SubscriptionIDs: []uint32{1, 300}, TopicAlias: 3, User: []UserProperty{{"k", "v"}},
		}, PropPayloadFormat, PropMessageExpiry, PropTopicAlias),
	}, wire: b(
		0x32, 41, // PUBLISH QoS 1, remaining length 41
		0, 3, "a/b", // topic
		0, 42, // packet identifier 42
		31,      // property length
		0x01, 1, // payload format: UTF-8
		0x02, 0, 0, 0, 60, // message expiry 60 s
		0x08, 0, 1, "r", // response topic
		0x09, 0, 2, 1, 2, // correlation data
		0x0B, 1, // subscription identifier 1
		0x0B, 0xAC, 0x02, // subscription identifier 300
		0x23, 0, 3, // topic alias 3
		0x26, 0, 1, "k", 0, 1, "v", // user property
		"hi", // payload
	)},
	{name: "PUBLISH empty topic with alias", version: V5, packet: &Publish{
		Payload: []byte("x"), Properties: present(Properties{TopicAlias: 5}, PropTopicAlias),
	}, wire: b(
		0x30, 7, // PUBLISH QoS 0, remaining length 7
		0, 0, // topic "" (the alias names it)
		3, 0x23, 0, 5, // property length 3: topic alias 5
		"x", // payload
	)},

	// PUBACK, PUBREC, PUBREL, PUBCOMP
	{name: "PUBACK", version: V311, packet: &Ack{Kind: TypePuback, PacketID: 1}, wire: b(0x40, 2, 0, 1)},
	{name: "PUBREC", version: V311, packet: &Ack{Kind: TypePubrec, PacketID: 2}, wire: b(0x50, 2, 0, 2)},
	{name: "PUBREL", version: V311, packet: &Ack{Kind: TypePubrel, PacketID: 3}, wire: b(0x62, 2, 0, 3)},
	{name: "PUBCOMP", version: V311, packet: &Ack{Kind: TypePubcomp, PacketID: 4}, wire: b(0x70, 2, 0, 4)},
	{name: "PUBACK", version: V31, packet: &Ack{Kind: TypePuback, PacketID: 0xFFFF}, wire: b(0x40, 2, 0xFF, 0xFF)},
	{name: "PUBREC", version: V31, packet: &Ack{Kind: TypePubrec, PacketID: 8}, wire: b(0x50, 2, 0, 8)},
	{name: "PUBREL", version: V31, packet: &Ack{Kind: TypePubrel, PacketID: 9}, wire: b(0x62, 2, 0, 9)},
	{name: "PUBCOMP", version: V31, packet: &Ack{Kind: TypePubcomp, PacketID: 10}, wire: b(0x70, 2, 0, 10)},
	{name: "PUBACK success short", version: V5, packet: &Ack{Kind: TypePuback, PacketID: 1},
		wire: b(0x40, 2, 0, 1)}, // reason and properties left out
	{name: "PUBREC reason only", version: V5, packet: &Ack{Kind: TypePubrec, PacketID: 2, ReasonCode: NoMatchingSubscribers},
		wire: b(0x50, 3, 0, 2, 0x10)}, // packet id 2, reason 0x10, no property length
	{name: "PUBREL reason string", version: V5, packet: &Ack{
		Kind: TypePubrel, PacketID: 3, ReasonCode: PacketIDNotFound,
		Properties: present(Properties{ReasonString: "nf"}),
	}, wire: b(
		0x62, 9, // PUBREL, remaining length 9
		0, 3, // packet identifier 3
		0x92,                // reason: packet identifier not found
		5, 0x1F, 0, 2, "nf", // property length 5: reason string
	)},
	{name: "PUBCOMP explicit success", version: V5, decodeOnly: true, packet: &Ack{Kind: TypePubcomp, PacketID: 4},
		wire: b(0x70, 4, 0, 4, 0x00, 0)}, // reason Success, property length 0

	// SUBSCRIBE
	{name: "SUBSCRIBE two filters", version: V311, packet: &Subscribe{PacketID: 10, Subscriptions: []Subscription{
		{Filter: "a/b", QoS: 1}, {Filter: "c/#", QoS: 2},
	}}, wire: b(
		0x82, 14, // SUBSCRIBE (flags 0010), remaining length 14
		0, 10, // packet identifier
		0, 3, "a/b", 1, // filter, QoS 1
		0, 3, "c/#", 2, // filter, QoS 2
	)},
	{name: "SUBSCRIBE", version: V31, packet: &Subscribe{PacketID: 1, Subscriptions: []Subscription{{Filter: "x/+"}}},
		wire: b(0x82, 8, 0, 1, 0, 3, "x/+", 0)},
	{name: "SUBSCRIBE options", version: V5, packet: &Subscribe{
		PacketID: 11, Properties: present(Properties{SubscriptionIDs: []uint32{5}}),
		Subscriptions: []Subscription{
			{Filter: "a/b", QoS: 1, NoLocal: true, RetainAsPublished: true, RetainHandling: 2},
			{Filter: "#"},
		},
	}, wire: b(
		0x82, 15, // SUBSCRIBE, remaining length 15
		0, 11, // packet identifier
		2, 0x0B, 5, // property length 2: subscription identifier 5
		0, 3, "a/b", 0x2D, // options: retain handling 2, RAP, no local, QoS 1
		0, 1, "#", 0x00, // options: QoS 0
	)},

	// SUBACK
	{name: "SUBACK", version: V311, packet: &Suback{PacketID: 10, ReasonCodes: []ReasonCode{GrantedQoS1, SubackFailure}},
		wire: b(0x90, 4, 0, 10, 0x01, 0x80)},
	{name: "SUBACK", version: V31, packet: &Suback{PacketID: 1, ReasonCodes: []ReasonCode{GrantedQoS2}},
		wire: b(0x90, 3, 0, 1, 0x02)},
	{name: "SUBACK reasons", version: V5, packet: &Suback{
		PacketID: 11, Properties: present(Properties{ReasonString: "ok"}),
		ReasonCodes: []ReasonCode{GrantedQoS1, NotAuthorized, WildcardSubsNotSupported},
	}, wire: b(
		0x90, 11, // SUBACK, remaining length 11
		0, 11, // packet identifier
		5, 0x1F, 0, 2, "ok", // property length 5: reason string
		0x01, 0x87, 0xA2, // granted QoS 1, not authorized, wildcards not supported
	)},

	// UNSUBSCRIBE
	{name: "UNSUBSCRIBE", version: V311, packet: &Unsubscribe{PacketID: 12, Filters: []string{"a/b", "c/d"}},
		wire: b(
			0xA2, 12, // UNSUBSCRIBE (flags 0010), remaining length 12
			0, 12, // packet identifier
			0, 3, "a/b", // filter
			0, 3, "c/d", // filter
		)},
	{name: "UNSUBSCRIBE user property", version: V5, packet: &Unsubscribe{
		PacketID: 13, Filters: []string{"x"}, Properties: present(Properties{User: []UserProperty{{"k", "v"}}}),
	}, wire: b(
		0xA2, 13, // UNSUBSCRIBE, remaining length 13
		0, 13, // packet identifier
		7, 0x26, 0, 1, "k", 0, 1, "v", // property length 7: user property
		0, 1, "x", // filter
	)},

	{name: "UNSUBSCRIBE", version: V31, packet: &Unsubscribe{PacketID: 2, Filters: []string{"x/+"}},
		wire: b(0xA2, 7, 0, 2, 0, 3, "x/+")},

	// UNSUBACK
	{name: "UNSUBACK", version: V31, packet: &Unsuback{PacketID: 2}, wire: b(0xB0, 2, 0, 2)},
	{name: "UNSUBACK", version: V311, packet: &Unsuback{PacketID: 12}, wire: b(0xB0, 2, 0, 12)},
	{name: "UNSUBACK reasons", version: V5, packet: &Unsuback{
		PacketID: 13, ReasonCodes: []ReasonCode{Success, NoSubscriptionExisted},
	}, wire: b(0xB0, 5, 0, 13, 0, 0x00, 0x11)}, // id, property length 0, two reasons

	// PINGREQ, PINGRESP
	{name: "PINGREQ", version: V31, packet: &Pingreq{}, wire: b(0xC0, 0)},
	{name: "PINGREQ", version: V311, packet: &Pingreq{}, wire: b(0xC0, 0)},
	{name: "PINGREQ", version: V5, packet: &Pingreq{}, wire: b(0xC0, 0)},
	{name: "PINGRESP", version: V31, packet: &Pingresp{}, wire: b(0xD0, 0)},
	{name: "PINGRESP", version: V311, packet: &Pingresp{}, wire: b(0xD0, 0)},
	{name: "PINGRESP", version: V5, packet: &Pingresp{}, wire: b(0xD0, 0)},

	// DISCONNECT
	{name: "DISCONNECT", version: V31, packet: &Disconnect{}, wire: b(0xE0, 0)},
	{name: "DISCONNECT", version: V311, packet: &Disconnect{}, wire: b(0xE0, 0)},
	{name: "DISCONNECT short", version: V5, packet: &Disconnect{}, wire: b(0xE0, 0)},
	{name: "DISCONNECT with will", version: V5, packet: &Disconnect{ReasonCode: DisconnectWithWill},
		wire: b(0xE0, 1, 0x04)}, // reason only, no property length
	{name: "DISCONNECT properties", version: V5, packet: &Disconnect{
		Properties: present(Properties{ReasonString: "bye"}, PropSessionExpiry),
	}, wire: b(
		0xE0, 13, // DISCONNECT, remaining length 13
		0x00,             // reason: normal disconnection
		11,               // property length
		0x11, 0, 0, 0, 0, // session expiry interval 0
		0x1F, 0, 3, "bye", // reason string
	)},
	{name: "DISCONNECT explicit success", version: V5, decodeOnly: true, packet: &Disconnect{},
		wire: b(0xE0, 1, 0x00)},

	// AUTH
	{name: "AUTH short", version: V5, packet: &Auth{}, wire: b(0xF0, 0)},
	{name: "AUTH continue", version: V5, packet: &Auth{
		ReasonCode: ContinueAuthentication,
		Properties: present(Properties{AuthMethod: "SCRAM", AuthData: []byte{1, 2}}),
	}, wire: b(
		0xF0, 15, // AUTH, remaining length 15
		0x18,                // reason: continue authentication
		13,                  // property length
		0x15, 0, 5, "SCRAM", // authentication method
		0x16, 0, 2, 1, 2, // authentication data
	)},
}
