package cli

import (
	"math"
	"slices"
	"strings"

	"github.com/midge-mqtt/midge/packets"
	"github.com/midge-mqtt/midge/topic"
)

// MQTT 5 properties given on the command line: -D COMMAND PROPERTY VALUE,
// or -D COMMAND user-property NAME VALUE, with mosquitto_pub's names,
// checks and messages.

// Commands that -D names; the properties of the last six are sent.
const (
	cmdConnect     = "connect"
	cmdPublish     = "publish"
	cmdSubscribe   = "subscribe"
	cmdUnsubscribe = "unsubscribe"
	cmdDisconnect  = "disconnect"
	cmdWill        = "will"
)

// propertyCommands are the commands mosquitto_pub knows in -D.
var propertyCommands = map[string]bool{
	cmdConnect: true, "connack": true, cmdPublish: true, "puback": true, "pubrec": true, "pubrel": true,
	"pubcomp": true, cmdSubscribe: true, cmdUnsubscribe: true, cmdDisconnect: true, "auth": true, cmdWill: true,
}

// Kinds of property value.
const (
	valueByte = iota + 1
	valueUint16
	valueUint32
	valueVarint
	valueString
	valueBinary
	valuePair
)

// propertySpec is one property -D can name.
type propertySpec struct {
	id       packets.PropertyID
	kind     int
	commands string // the commands it may appear with, as libmosquitto's property check has them
}

const allCommands = "connect connack publish puback pubrec pubrel pubcomp subscribe unsubscribe disconnect auth will"

// propertySpecs holds every MQTT 5 property under its mosquitto name.
var propertySpecs = map[string]propertySpec{
	"payload-format-indicator":          {packets.PropPayloadFormat, valueByte, "publish will"},
	"message-expiry-interval":           {packets.PropMessageExpiry, valueUint32, "publish will"},
	"content-type":                      {packets.PropContentType, valueString, "publish will"},
	"response-topic":                    {packets.PropResponseTopic, valueString, "publish will"},
	"correlation-data":                  {packets.PropCorrelationData, valueBinary, "publish will"},
	"subscription-identifier":           {packets.PropSubscriptionID, valueVarint, "publish subscribe"},
	"session-expiry-interval":           {packets.PropSessionExpiry, valueUint32, "connect connack disconnect"},
	"assigned-client-identifier":        {packets.PropAssignedClientID, valueString, "connack"},
	"server-keep-alive":                 {packets.PropServerKeepAlive, valueUint16, "connack"},
	"authentication-method":             {packets.PropAuthMethod, valueString, "connect connack auth"},
	"authentication-data":               {packets.PropAuthData, valueBinary, "connect connack auth"},
	"request-problem-information":       {packets.PropRequestProblemInfo, valueByte, "connect"},
	"will-delay-interval":               {packets.PropWillDelay, valueUint32, "will"},
	"request-response-information":      {packets.PropRequestResponseInfo, valueByte, "connect"},
	"response-information":              {packets.PropResponseInfo, valueString, "connack"},
	"server-reference":                  {packets.PropServerReference, valueString, "connack disconnect"},
	"reason-string":                     {packets.PropReasonString, valueString, "connack puback pubrec pubrel pubcomp disconnect auth"},
	"receive-maximum":                   {packets.PropReceiveMaximum, valueUint16, "connect connack"},
	"topic-alias-maximum":               {packets.PropTopicAliasMaximum, valueUint16, "connect connack"},
	"topic-alias":                       {packets.PropTopicAlias, valueUint16, "publish"},
	"maximum-qos":                       {packets.PropMaximumQoS, valueByte, "connack"},
	"retain-available":                  {packets.PropRetainAvailable, valueByte, "connack"},
	"user-property":                     {packets.PropUserProperty, valuePair, allCommands},
	"maximum-packet-size":               {packets.PropMaximumPacketSize, valueUint32, "connect connack"},
	"wildcard-subscription-available":   {packets.PropWildcardSubAvailable, valueByte, "connack"},
	"subscription-identifier-available": {packets.PropSubIDAvailable, valueByte, "connack"},
	"shared-subscription-available":     {packets.PropSharedSubAvailable, valueByte, "connack"},
}

// propertyFlags are the properties given with -D, per command.
type propertyFlags struct {
	connect, publish, subscribe, unsubscribe, disconnect, will packets.Properties

	given      bool            // at least one -D
	duplicates map[string]bool // commands with a property given twice, reported after parsing
	err        error           // why the last -D was refused
}

// propertyWords separates the words of one -D in the single flag argument
// gatherProperties makes of them: no command line argument holds a NUL.
const propertyWords = "\x00"

func (pf *propertyFlags) String() string { return "" }

// Set takes one -D: its words joined with propertyWords.
func (pf *propertyFlags) Set(v string) error {
	pf.err = pf.set(strings.Split(v, propertyWords))
	return pf.err
}

func (pf *propertyFlags) set(words []string) error {
	if len(words) < 3 {
		return usagef("--property argument given but not enough arguments specified.")
	}
	command, name := words[0], words[1]
	if !propertyCommands[strings.ToLower(command)] {
		return usagef("Invalid command given in --property argument.")
	}
	spec, ok := propertySpecs[strings.ToLower(name)]
	if !ok {
		return usagef("Invalid property name given in --property argument.")
	}
	cmd := strings.ToLower(command)
	if !slices.Contains(strings.Fields(spec.commands), cmd) {
		return usagef("%s property not allowed for %s in --property argument.", name, command)
	}
	if spec.kind == valuePair && len(words) < 4 {
		return usagef("--property argument given but not enough arguments specified.")
	}
	props := pf.list(cmd)
	if props == nil || cmd == cmdPublish && spec.id == packets.PropSubscriptionID {
		return usagef("%s property not supported for %s in --property argument.", name, command)
	}
	pf.given = true
	if spec.id != packets.PropUserProperty && props.Has(spec.id) {
		pf.duplicate(cmd)
	}
	return setProperty(props, spec, name, words[2:])
}

// list returns the properties of a command whose properties are sent, nil
// for the others.
func (pf *propertyFlags) list(cmd string) *packets.Properties {
	switch cmd {
	case cmdConnect:
		return &pf.connect
	case cmdPublish:
		return &pf.publish
	case cmdSubscribe:
		return &pf.subscribe
	case cmdUnsubscribe:
		return &pf.unsubscribe
	case cmdDisconnect:
		return &pf.disconnect
	case cmdWill:
		return &pf.will
	}
	return nil
}

func (pf *propertyFlags) duplicate(cmd string) {
	if pf.duplicates == nil {
		pf.duplicates = make(map[string]bool)
	}
	pf.duplicates[cmd] = true
}

// setProperty parses the value of one property (values: the value, or
// the name and value of a user property) into props.
func setProperty(props *packets.Properties, spec propertySpec, name string, values []string) error {
	var number uint32
	switch spec.kind {
	case valueByte, valueUint16, valueUint32, valueVarint:
		limit := int64(math.MaxUint32)
		switch spec.kind {
		case valueByte:
			limit = math.MaxUint8
		case valueUint16:
			limit = math.MaxUint16
		}
		n := atol(values[0])
		if n < 0 || n > limit {
			return usagef("Property value (%d) out of range for property %s.", n, name)
		}
		number = uint32(n)
	case valueBinary:
		if len(values[0]) > math.MaxUint16 {
			return usagef("Property value too long for property %s.", name)
		}
	}
	switch spec.id {
	case packets.PropPayloadFormat:
		props.PayloadFormat = byte(number)
	case packets.PropRequestProblemInfo:
		props.RequestProblemInfo = byte(number)
	case packets.PropRequestResponseInfo:
		props.RequestResponseInfo = byte(number)
	case packets.PropReceiveMaximum:
		props.ReceiveMaximum = uint16(number)
	case packets.PropTopicAliasMaximum:
		props.TopicAliasMaximum = uint16(number)
	case packets.PropTopicAlias:
		props.TopicAlias = uint16(number)
	case packets.PropMessageExpiry:
		props.MessageExpiry = number
	case packets.PropSessionExpiry:
		props.SessionExpiry = number
	case packets.PropWillDelay:
		props.WillDelay = number
	case packets.PropMaximumPacketSize:
		props.MaximumPacketSize = number
	case packets.PropSubscriptionID:
		props.SubscriptionIDs = append(props.SubscriptionIDs, number)
	case packets.PropContentType:
		props.ContentType = values[0]
	case packets.PropResponseTopic:
		props.ResponseTopic = values[0]
	case packets.PropAuthMethod:
		props.AuthMethod = values[0]
	case packets.PropServerReference:
		props.ServerReference = values[0]
	case packets.PropReasonString:
		props.ReasonString = values[0]
	case packets.PropCorrelationData:
		props.CorrelationData = []byte(values[0])
	case packets.PropAuthData:
		props.AuthData = []byte(values[0])
	case packets.PropUserProperty:
		props.User = append(props.User, packets.UserProperty{Key: values[0], Value: values[1]})
	}
	props.Set(spec.id)
	return nil
}

// atol reads a number as C's atol does: leading blanks, a sign, digits up
// to the first other character; nothing is 0.
func atol(s string) int64 {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	negative := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		negative = s[0] == '-'
		s = s[1:]
	}
	var n int64
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if n > (math.MaxInt64-9)/10 {
			n = math.MaxInt64
			break
		}
		n = n*10 + int64(s[i]-'0')
	}
	if negative {
		n = -n
	}
	return n
}

// check finds what libmosquitto's property check finds once all -D are
// read, command by command in its order: values the protocol forbids,
// then a property given twice.
func (pf *propertyFlags) check() error {
	for _, c := range []struct {
		cmd, label string
		props      *packets.Properties
	}{
		{cmdConnect, "CONNECT", &pf.connect},
		{cmdPublish, "PUBLISH", &pf.publish},
		{cmdSubscribe, "SUBSCRIBE", &pf.subscribe},
		{cmdUnsubscribe, "UNSUBSCRIBE", &pf.unsubscribe},
		{cmdDisconnect, "DISCONNECT", &pf.disconnect},
		{cmdWill, "Will", &pf.will},
	} {
		if forbiddenValue(c.props) {
			return &usageError{msg: "Error in " + c.label + " properties: A network protocol error occurred when communicating with the broker.", noPrefix: true}
		}
		if pf.duplicates[c.cmd] {
			return &usageError{msg: "Error in " + c.label + " properties: Duplicate property in property list", noPrefix: true}
		}
	}
	return nil
}

// forbiddenValue reports a value that is a protocol error (5.0 §3.1.2.11,
// §3.3.2.3): 0 for Receive Maximum, Maximum Packet Size, Topic Alias or a
// Subscription Identifier, above 1 for a yes/no property, a Response Topic
// that is not a topic name.
func forbiddenValue(p *packets.Properties) bool {
	if p.Present == 0 {
		return false
	}
	if p.RequestProblemInfo > 1 || p.RequestResponseInfo > 1 {
		return true
	}
	if p.Has(packets.PropReceiveMaximum) && p.ReceiveMaximum == 0 ||
		p.Has(packets.PropMaximumPacketSize) && p.MaximumPacketSize == 0 ||
		p.Has(packets.PropTopicAlias) && p.TopicAlias == 0 {
		return true
	}
	if p.Has(packets.PropResponseTopic) && topic.ValidName(p.ResponseTopic) != nil {
		return true
	}
	return slices.Contains(p.SubscriptionIDs, 0) || slices.ContainsFunc(p.SubscriptionIDs, func(id uint32) bool { return id > packets.MaxRemainingLength })
}

// gatherProperties turns each "-D COMMAND PROPERTY VALUE" (and "-D COMMAND
// user-property NAME VALUE") in args into the single argument "-D=WORDS"
// that the flag package can parse, leaving the values of other flags
// alone.
func (cf *clientFlags) gatherProperties(args []string) ([]string, error) {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			return append(out, args[i:]...), nil
		}
		if arg != "-D" && arg != "--property" {
			out = append(out, arg)
			if cf.takesValue(arg) && i+1 < len(args) {
				i++
				out = append(out, args[i])
			}
			continue
		}
		if i+3 >= len(args) {
			return nil, usagef("--property argument given but not enough arguments specified.")
		}
		words := 3
		if strings.EqualFold(args[i+2], "user-property") && i+4 < len(args) {
			words = 4
		}
		out = append(out, "-D="+strings.Join(args[i+1:i+1+words], propertyWords))
		i += words
	}
	return out, nil
}

// takesValue reports whether arg is a flag, without "=value", whose value
// is the next argument.
func (cf *clientFlags) takesValue(arg string) bool {
	name, ok := strings.CutPrefix(arg, "-")
	if !ok || strings.Contains(name, "=") {
		return false
	}
	name = strings.TrimPrefix(name, "-")
	f := cf.fs.Lookup(name)
	if f == nil {
		return false
	}
	boolFlag, ok := f.Value.(interface{ IsBoolFlag() bool })
	return !ok || !boolFlag.IsBoolFlag()
}
