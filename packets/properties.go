package packets

import (
	"fmt"
	"math/bits"
)

// PropertyID identifies an MQTT 5 property.
type PropertyID byte

// MQTT 5 property identifiers.
const (
	PropPayloadFormat        PropertyID = 0x01
	PropMessageExpiry        PropertyID = 0x02
	PropContentType          PropertyID = 0x03
	PropResponseTopic        PropertyID = 0x08
	PropCorrelationData      PropertyID = 0x09
	PropSubscriptionID       PropertyID = 0x0B
	PropSessionExpiry        PropertyID = 0x11
	PropAssignedClientID     PropertyID = 0x12
	PropServerKeepAlive      PropertyID = 0x13
	PropAuthMethod           PropertyID = 0x15
	PropAuthData             PropertyID = 0x16
	PropRequestProblemInfo   PropertyID = 0x17
	PropWillDelay            PropertyID = 0x18
	PropRequestResponseInfo  PropertyID = 0x19
	PropResponseInfo         PropertyID = 0x1A
	PropServerReference      PropertyID = 0x1C
	PropReasonString         PropertyID = 0x1F
	PropReceiveMaximum       PropertyID = 0x21
	PropTopicAliasMaximum    PropertyID = 0x22
	PropTopicAlias           PropertyID = 0x23
	PropMaximumQoS           PropertyID = 0x24
	PropRetainAvailable      PropertyID = 0x25
	PropUserProperty         PropertyID = 0x26
	PropMaximumPacketSize    PropertyID = 0x27
	PropWildcardSubAvailable PropertyID = 0x28
	PropSubIDAvailable       PropertyID = 0x29
	PropSharedSubAvailable   PropertyID = 0x2A
)

// UserProperty is one name/value pair; order and duplicates are kept.
type UserProperty struct {
	Key, Value string
}

// Properties holds the MQTT 5 properties of one packet. Present has bit n
// set when the property with id n is present; Decode sets it for every
// property it reads, empty strings included. A scalar property (a byte or an
// integer) is encoded only when its bit is set (see Set); a string, binary or
// list property is encoded when its bit is set or its field is non-empty.
// Before MQTT 5 properties do not exist: Encode leaves them out.
//
// The zero value has no properties and encodes as a property length of 0.
// After Decode, CorrelationData and AuthData alias the decoded body.
type Properties struct {
	Present uint64 // bit n set: the property with id n is present

	PayloadFormat        byte           // 0x01: 0 unspecified bytes, 1 UTF-8
	MessageExpiry        uint32         // 0x02: seconds
	ContentType          string         // 0x03
	ResponseTopic        string         // 0x08
	CorrelationData      []byte         // 0x09
	SubscriptionIDs      []uint32       // 0x0B: PUBLISH may carry several; SUBSCRIBE at most one
	SessionExpiry        uint32         // 0x11: seconds
	AssignedClientID     string         // 0x12
	ServerKeepAlive      uint16         // 0x13: seconds
	AuthMethod           string         // 0x15
	AuthData             []byte         // 0x16: only with AuthMethod
	RequestProblemInfo   byte           // 0x17: 0 or 1
	WillDelay            uint32         // 0x18: seconds
	RequestResponseInfo  byte           // 0x19: 0 or 1
	ResponseInfo         string         // 0x1A
	ServerReference      string         // 0x1C
	ReasonString         string         // 0x1F
	ReceiveMaximum       uint16         // 0x21: not 0
	TopicAliasMaximum    uint16         // 0x22
	TopicAlias           uint16         // 0x23: not 0
	MaximumQoS           byte           // 0x24: 0 or 1
	RetainAvailable      byte           // 0x25: 0 or 1
	User                 []UserProperty // 0x26
	MaximumPacketSize    uint32         // 0x27: not 0
	WildcardSubAvailable byte           // 0x28: 0 or 1
	SubIDAvailable       byte           // 0x29: 0 or 1
	SharedSubAvailable   byte           // 0x2A: 0 or 1
}

// propKind is the wire type of a property value.
type propKind uint8

const (
	kindByte propKind = iota + 1
	kindUint16
	kindUint32
	kindVarint // Subscription Identifier
	kindString
	kindBinary
	kindPair // User Property
)

// A propContext says where properties appear: a packet Type, or
// willContext for the will properties of CONNECT.
type propContext uint8

const (
	willContext propContext = 16
	anyContext  propContext = 31 // no check of where a property may appear
)

// Bits of propertySpec.in.
const (
	inConnect    = 1 << TypeConnect
	inConnack    = 1 << TypeConnack
	inPublish    = 1 << TypePublish
	inAcks       = 1<<TypePuback | 1<<TypePubrec | 1<<TypePubrel | 1<<TypePubcomp
	inSubscribe  = 1 << TypeSubscribe
	inSuback     = 1 << TypeSuback
	inUnsub      = 1 << TypeUnsubscribe
	inUnsuback   = 1 << TypeUnsuback
	inDisconnect = 1 << TypeDisconnect
	inAuth       = 1 << TypeAuth
	inWill       = 1 << willContext
	inAll        = inConnect | inConnack | inPublish | inAcks | inSubscribe | inSuback | inUnsub | inUnsuback | inDisconnect | inAuth | inWill
)

// propertySpec describes one property id (5.0 §2.2.2.2).
type propertySpec struct {
	name string
	kind propKind
	in   uint32 // bit n: allowed in propContext n
}

// propertySpecs is indexed by PropertyID; unknown ids have a zero entry.
var propertySpecs = [...]propertySpec{
	PropPayloadFormat:        {"Payload Format Indicator", kindByte, inPublish | inWill},
	PropMessageExpiry:        {"Message Expiry Interval", kindUint32, inPublish | inWill},
	PropContentType:          {"Content Type", kindString, inPublish | inWill},
	PropResponseTopic:        {"Response Topic", kindString, inPublish | inWill},
	PropCorrelationData:      {"Correlation Data", kindBinary, inPublish | inWill},
	PropSubscriptionID:       {"Subscription Identifier", kindVarint, inPublish | inSubscribe},
	PropSessionExpiry:        {"Session Expiry Interval", kindUint32, inConnect | inConnack | inDisconnect},
	PropAssignedClientID:     {"Assigned Client Identifier", kindString, inConnack},
	PropServerKeepAlive:      {"Server Keep Alive", kindUint16, inConnack},
	PropAuthMethod:           {"Authentication Method", kindString, inConnect | inConnack | inAuth},
	PropAuthData:             {"Authentication Data", kindBinary, inConnect | inConnack | inAuth},
	PropRequestProblemInfo:   {"Request Problem Information", kindByte, inConnect},
	PropWillDelay:            {"Will Delay Interval", kindUint32, inWill},
	PropRequestResponseInfo:  {"Request Response Information", kindByte, inConnect},
	PropResponseInfo:         {"Response Information", kindString, inConnack},
	PropServerReference:      {"Server Reference", kindString, inConnack | inDisconnect},
	PropReasonString:         {"Reason String", kindString, inConnack | inAcks | inSuback | inUnsuback | inDisconnect | inAuth},
	PropReceiveMaximum:       {"Receive Maximum", kindUint16, inConnect | inConnack},
	PropTopicAliasMaximum:    {"Topic Alias Maximum", kindUint16, inConnect | inConnack},
	PropTopicAlias:           {"Topic Alias", kindUint16, inPublish},
	PropMaximumQoS:           {"Maximum QoS", kindByte, inConnack},
	PropRetainAvailable:      {"Retain Available", kindByte, inConnack},
	PropUserProperty:         {"User Property", kindPair, inAll},
	PropMaximumPacketSize:    {"Maximum Packet Size", kindUint32, inConnect | inConnack},
	PropWildcardSubAvailable: {"Wildcard Subscription Available", kindByte, inConnack},
	PropSubIDAvailable:       {"Subscription Identifier Available", kindByte, inConnack},
	PropSharedSubAvailable:   {"Shared Subscription Available", kindByte, inConnack},
}

// String returns the property's name as the specification spells it.
func (id PropertyID) String() string {
	if int(id) < len(propertySpecs) && propertySpecs[id].kind != 0 {
		return propertySpecs[id].name
	}
	return fmt.Sprintf("PropertyID(0x%02X)", byte(id))
}

// allowedIn reports whether property id may appear in context ctx.
func allowedIn(id int, ctx propContext) bool {
	if id >= len(propertySpecs) || propertySpecs[id].kind == 0 {
		return false
	}
	return ctx == anyContext || propertySpecs[id].in&(1<<ctx) != 0
}

// String names the context in error messages.
func (ctx propContext) String() string {
	if ctx == willContext {
		return "will properties"
	}
	return Type(ctx).String()
}

// Has reports whether the property id is present: its bit is set in
// Present, or, for a string, binary or list property, its field is
// non-empty.
func (p *Properties) Has(id PropertyID) bool {
	return id < 64 && p.effective()&(1<<id) != 0
}

// decoded reports whether Decode found property id: its Present bit alone.
func (p *Properties) decoded(id PropertyID) bool { return p.Present&(1<<id) != 0 }

// Set marks the property id present; the caller sets the field itself.
func (p *Properties) Set(id PropertyID) { p.Present |= 1 << id }

// Clear marks the property id absent. A string, binary or list property
// stays present while its field is non-empty.
func (p *Properties) Clear(id PropertyID) { p.Present &^= 1 << id }

// effective returns Present plus the bits of the non-empty string, binary
// and list fields.
func (p *Properties) effective() uint64 {
	m := p.Present
	m |= bitIf(PropContentType, p.ContentType != "")
	m |= bitIf(PropResponseTopic, p.ResponseTopic != "")
	m |= bitIf(PropCorrelationData, len(p.CorrelationData) != 0)
	m |= bitIf(PropSubscriptionID, len(p.SubscriptionIDs) != 0)
	m |= bitIf(PropAssignedClientID, p.AssignedClientID != "")
	m |= bitIf(PropAuthMethod, p.AuthMethod != "")
	m |= bitIf(PropAuthData, len(p.AuthData) != 0)
	m |= bitIf(PropResponseInfo, p.ResponseInfo != "")
	m |= bitIf(PropServerReference, p.ServerReference != "")
	m |= bitIf(PropReasonString, p.ReasonString != "")
	m |= bitIf(PropUserProperty, len(p.User) != 0)
	return m
}

// bitIf returns the Present bit of id when cond holds, else 0.
func bitIf(id PropertyID, cond bool) uint64 {
	if cond {
		return 1 << id
	}
	return 0
}

func (p *Properties) byteField(id PropertyID) *byte {
	switch id {
	case PropPayloadFormat:
		return &p.PayloadFormat
	case PropRequestProblemInfo:
		return &p.RequestProblemInfo
	case PropRequestResponseInfo:
		return &p.RequestResponseInfo
	case PropMaximumQoS:
		return &p.MaximumQoS
	case PropRetainAvailable:
		return &p.RetainAvailable
	case PropWildcardSubAvailable:
		return &p.WildcardSubAvailable
	case PropSubIDAvailable:
		return &p.SubIDAvailable
	default: // PropSharedSubAvailable
		return &p.SharedSubAvailable
	}
}

func (p *Properties) uint16Field(id PropertyID) *uint16 {
	switch id {
	case PropServerKeepAlive:
		return &p.ServerKeepAlive
	case PropReceiveMaximum:
		return &p.ReceiveMaximum
	case PropTopicAliasMaximum:
		return &p.TopicAliasMaximum
	default: // PropTopicAlias
		return &p.TopicAlias
	}
}

func (p *Properties) uint32Field(id PropertyID) *uint32 {
	switch id {
	case PropMessageExpiry:
		return &p.MessageExpiry
	case PropSessionExpiry:
		return &p.SessionExpiry
	case PropWillDelay:
		return &p.WillDelay
	default: // PropMaximumPacketSize
		return &p.MaximumPacketSize
	}
}

func (p *Properties) stringField(id PropertyID) *string {
	switch id {
	case PropContentType:
		return &p.ContentType
	case PropResponseTopic:
		return &p.ResponseTopic
	case PropAssignedClientID:
		return &p.AssignedClientID
	case PropAuthMethod:
		return &p.AuthMethod
	case PropResponseInfo:
		return &p.ResponseInfo
	case PropServerReference:
		return &p.ServerReference
	default: // PropReasonString
		return &p.ReasonString
	}
}

func (p *Properties) binaryField(id PropertyID) *[]byte {
	if id == PropCorrelationData {
		return &p.CorrelationData
	}
	return &p.AuthData
}

// decode reads a Property Length and the properties that follow it, as they
// appear in context ctx. It resets p first; strings equal to the ones p held
// are reused rather than copied again.
func (p *Properties) decode(d *decoder, ctx propContext) error {
	n, err := d.readVarint("property length")
	if err != nil {
		return err
	}
	if n > d.remaining() {
		return truncated("properties")
	}
	if n == 0 {
		*p = Properties{}
		return nil
	}
	old := *p
	*p = Properties{}
	list := decoder{buf: d.buf[:d.pos+n], pos: d.pos}
	d.pos += n
	for list.remaining() > 0 {
		if err := p.decodeOne(&list, ctx, &old); err != nil {
			return err
		}
	}
	return p.validate()
}

// decodeOne reads one property: its identifier, then its value.
func (p *Properties) decodeOne(d *decoder, ctx propContext, old *Properties) error {
	v, err := d.readVarint("property identifier")
	if err != nil {
		return err
	}
	if !allowedIn(v, ctx) {
		return malformed(fmt.Sprintf("property 0x%02X not allowed in %v", v, ctx))
	}
	id := PropertyID(v)
	spec := &propertySpecs[id]
	if p.Present&(1<<id) != 0 && id != PropUserProperty && (id != PropSubscriptionID || ctx != propContext(TypePublish)) {
		return protocolErr(spec.name + " included more than once")
	}
	p.Set(id)
	switch spec.kind {
	case kindByte:
		*p.byteField(id), err = d.readByte(spec.name)
	case kindUint16:
		*p.uint16Field(id), err = d.readUint16(spec.name)
	case kindUint32:
		*p.uint32Field(id), err = d.readUint32(spec.name)
	case kindVarint:
		var sid int
		sid, err = d.readVarint(spec.name)
		p.SubscriptionIDs = append(p.SubscriptionIDs, uint32(sid))
	case kindString:
		*p.stringField(id), err = d.readString(spec.name, *old.stringField(id))
	case kindBinary:
		*p.binaryField(id), err = d.readBinary(spec.name)
	case kindPair:
		err = p.decodeUser(d)
	}
	return err
}

// decodeUser reads the name and value of a User Property.
func (p *Properties) decodeUser(d *decoder) error {
	key, err := d.readString("User Property name", "")
	if err != nil {
		return err
	}
	value, err := d.readString("User Property value", "")
	if err != nil {
		return err
	}
	p.User = append(p.User, UserProperty{Key: key, Value: value})
	return nil
}

// validate rejects property values the specification forbids (5.0 §3.1.2.11,
// §3.2.2.3, §3.3.2.3, §3.8.2.1): each is a protocol error.
func (p *Properties) validate() error {
	if p.Present == 0 {
		return nil
	}
	switch {
	case p.decoded(PropReceiveMaximum) && p.ReceiveMaximum == 0:
		return protocolErr("Receive Maximum 0")
	case p.decoded(PropMaximumPacketSize) && p.MaximumPacketSize == 0:
		return protocolErr("Maximum Packet Size 0")
	case p.decoded(PropTopicAlias) && p.TopicAlias == 0:
		return &Error{Code: TopicAliasInvalid, Msg: "[MQTT-3.3.2-8] Topic Alias 0"}
	case p.decoded(PropAuthData) && !p.decoded(PropAuthMethod):
		return protocolErr("Authentication Data without Authentication Method")
	case p.decoded(PropResponseTopic) && (p.ResponseTopic == "" || hasWildcardString(p.ResponseTopic)):
		return protocolErr("[MQTT-3.3.2-14] Response Topic empty or with a wildcard")
	case p.RequestProblemInfo > 1 || p.RequestResponseInfo > 1 || p.MaximumQoS > 1 || p.RetainAvailable > 1 ||
		p.WildcardSubAvailable > 1 || p.SubIDAvailable > 1 || p.SharedSubAvailable > 1:
		return protocolErr("property value other than 0 or 1")
	}
	for _, id := range p.SubscriptionIDs {
		if id == 0 {
			return protocolErr("Subscription Identifier 0")
		}
	}
	return nil
}

// length returns the number of bytes of the properties, without the
// Property Length before them, checking that each may appear in ctx and that
// each value fits its field.
func (p *Properties) length(ctx propContext) (int, error) {
	n := 0
	for m := p.effective(); m != 0; m &= m - 1 {
		id := bits.TrailingZeros64(m)
		if !allowedIn(id, ctx) {
			return 0, encodeErr(fmt.Sprintf("property 0x%02X not allowed in %v", id, ctx))
		}
		size, err := p.valueSize(PropertyID(id))
		if err != nil {
			return 0, err
		}
		n += size
	}
	return n, nil
}

// valueSize returns the encoded size of property id, identifier included.
func (p *Properties) valueSize(id PropertyID) (int, error) {
	spec := &propertySpecs[id]
	switch spec.kind {
	case kindByte:
		return 2, nil
	case kindUint16:
		return 3, nil
	case kindUint32:
		return 5, nil
	case kindVarint:
		return p.subscriptionIDsSize()
	case kindString:
		n, err := fieldSize(spec.name, len(*p.stringField(id)))
		return 1 + n, err
	case kindBinary:
		n, err := fieldSize(spec.name, len(*p.binaryField(id)))
		return 1 + n, err
	default: // kindPair
		return p.userSize()
	}
}

func (p *Properties) subscriptionIDsSize() (int, error) {
	n := 0
	for _, sid := range p.SubscriptionIDs {
		if sid > MaxRemainingLength {
			return 0, encodeErr("Subscription Identifier above 268435455")
		}
		n += 1 + VarintSize(int(sid))
	}
	return n, nil
}

func (p *Properties) userSize() (int, error) {
	n := 0
	for _, u := range p.User {
		k, err := fieldSize("User Property name", len(u.Key))
		if err != nil {
			return 0, err
		}
		v, err := fieldSize("User Property value", len(u.Value))
		if err != nil {
			return 0, err
		}
		n += 1 + k + v
	}
	return n, nil
}

// Size returns the number of bytes the properties take in an MQTT 5 packet:
// the Property Length and the properties after it. Values too long for
// their field are counted as they are; Encode of the packet reports them.
func (p *Properties) Size() int {
	n := 0
	for m := p.effective(); m != 0; m &= m - 1 {
		id := bits.TrailingZeros64(m)
		if allowedIn(id, anyContext) {
			size, _ := p.valueSize(PropertyID(id))
			n += size
		}
	}
	return VarintSize(n) + n
}

// appendTo appends the Property Length n (from length) and the properties.
func (p *Properties) appendTo(dst []byte, n int) []byte {
	dst = AppendVarint(dst, n)
	if n == 0 {
		return dst
	}
	for m := p.effective(); m != 0; m &= m - 1 {
		dst = p.appendOne(dst, PropertyID(bits.TrailingZeros64(m)))
	}
	return dst
}

// appendOrdered appends the Property Length n (from length) and the
// properties: first those of order, in its order, then any others by
// ascending id. order holds each id at most once.
func (p *Properties) appendOrdered(dst []byte, n int, order []PropertyID) []byte {
	dst = AppendVarint(dst, n)
	if n == 0 {
		return dst
	}
	rest := p.effective()
	for _, id := range order {
		if rest&(1<<id) != 0 {
			dst = p.appendOne(dst, id)
			rest &^= 1 << id
		}
	}
	for m := rest; m != 0; m &= m - 1 {
		dst = p.appendOne(dst, PropertyID(bits.TrailingZeros64(m)))
	}
	return dst
}

// appendOne appends property id, repeated for each value of a list.
func (p *Properties) appendOne(dst []byte, id PropertyID) []byte {
	switch propertySpecs[id].kind {
	case kindByte:
		return append(dst, byte(id), *p.byteField(id))
	case kindUint16:
		return appendUint16(append(dst, byte(id)), *p.uint16Field(id))
	case kindUint32:
		return appendUint32(append(dst, byte(id)), *p.uint32Field(id))
	case kindVarint:
		for _, sid := range p.SubscriptionIDs {
			dst = AppendVarint(append(dst, byte(id)), int(sid))
		}
		return dst
	case kindString:
		return appendString(append(dst, byte(id)), *p.stringField(id))
	case kindBinary:
		return appendBinary(append(dst, byte(id)), *p.binaryField(id))
	default: // kindPair
		for _, u := range p.User {
			dst = appendString(append(dst, byte(id)), u.Key)
			dst = appendString(dst, u.Value)
		}
		return dst
	}
}
