package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/midge-mqtt/midge/packets"
)

// outputFlags are how midge sub and midge rr print messages, as
// mosquitto_sub and mosquitto_rr do: -F, -v, -N and --pretty.
type outputFlags struct {
	format  optString
	verbose bool
	noEOL   bool
	pretty  bool
}

func (o *outputFlags) define(cf *clientFlags) {
	cf.value(&o.format, "format", "F")
	cf.boolean(&o.verbose, "v", "verbose")
	cf.boolean(&o.noEOL, "N")
	cf.boolean(&o.pretty, "pretty")
}

// validate checks -F as mosquitto_sub does before connecting.
func (o *outputFlags) validate() error {
	if !o.format.set {
		return nil
	}
	f := o.format.value
	for i := 0; i < len(f); i++ {
		switch f[i] {
		case '%':
			if i == len(f)-1 {
				return usagef("Incomplete format specifier.")
			}
			if f[i+1] == '0' || f[i+1] == '-' {
				i++
			}
			for i+1 < len(f) && isDigit(f[i+1]) {
				i++
			}
			if i+1 < len(f) && f[i+1] == '.' {
				i++
				for i+1 < len(f) && isDigit(f[i+1]) {
					i++
				}
			}
			if i == len(f)-1 {
				return usagef("Incomplete format specifier.")
			}
			if !strings.ContainsRune("%ACDEFIlmPpqRSrtjJUxX", rune(f[i+1])) {
				return usagef("Invalid format specifier '%c'.", f[i+1])
			}
			i++
		case '@':
			if i == len(f)-1 {
				return usagef("Incomplete format specifier.")
			}
			i++
		case '\\':
			if i == len(f)-1 {
				return usagef("Incomplete escape specifier.")
			}
			if !strings.ContainsRune("\\0aenrtv", rune(f[i+1])) {
				return usagef("Invalid escape specifier '%c'.", f[i+1])
			}
			i++
		}
	}
	return nil
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// printer writes messages the way mosquitto_sub's print_message does.
// Only the client's reader goroutine uses it.
type printer struct {
	flags  *outputFlags
	out    io.Writer // each message is one Write, so it is flushed whole
	errOut io.Writer // %J complaints; io.Discard with --quiet
	line   []byte
	now    func() time.Time
}

func (o *outputFlags) printer(out, errOut io.Writer, quiet bool) *printer {
	if quiet {
		errOut = io.Discard
	}
	return &printer{flags: o, out: out, errOut: errOut, now: time.Now}
}

// print writes one message: as -F says, or without -F the payload, or
// with -v "topic payload", then a newline unless -N. Without -F an empty
// payload prints nothing, or "topic (null)" with -v (nothing with -v -N).
func (p *printer) print(m *packets.Publish) {
	o := p.flags
	b := p.line[:0]
	switch {
	case o.format.set:
		b = p.formatted(b, m)
	case len(m.Payload) > 0 && o.verbose:
		b = append(b, m.Topic...)
		b = append(b, ' ')
		b = append(b, m.Payload...)
	case len(m.Payload) > 0:
		b = append(b, m.Payload...)
	case o.verbose && !o.noEOL:
		b = append(b, m.Topic...)
		b = append(b, " (null)"...)
	default:
		return
	}
	if !o.noEOL {
		b = append(b, '\n')
	}
	p.out.Write(b)
	if cap(b) <= 64<<10 {
		p.line = b
	}
}

// spec is one % conversion of -F: flags, width and precision as
// mosquitto_sub reads them.
type spec struct {
	leftAlign bool
	pad       byte // ' ' or '0'
	width     int
	precision int // -1: none
}

// formatted appends m as -F says, walking the format as mosquitto_sub's
// formatted_print does (validate has checked it).
func (p *printer) formatted(b []byte, m *packets.Publish) []byte {
	f := p.flags.format.value
	now := p.now()
	for i := 0; i < len(f); i++ {
		switch {
		case f[i] == '%' && i < len(f)-1:
			i++
			sp := spec{pad: ' ', precision: -1}
			if f[i] == '-' {
				sp.leftAlign = true
				i = min(i+1, len(f)-1)
			}
			if f[i] == '0' {
				sp.pad = '0'
				i = min(i+1, len(f)-1)
			}
			for i < len(f)-1 && isDigit(f[i]) {
				sp.width = sp.width*10 + int(f[i]-'0')
				i++
			}
			if f[i] == '.' && i < len(f)-1 {
				i++
				sp.precision = 0
				for i < len(f)-1 && isDigit(f[i]) {
					sp.precision = sp.precision*10 + int(f[i]-'0')
					i++
				}
			}
			b = p.conversion(b, f[i], sp, m, now)
		case f[i] == '@' && i < len(f)-1:
			i++
			switch f[i] {
			case '@':
				b = append(b, '@')
			case 'N':
				b = fmt.Appendf(b, "%09d", now.Nanosecond())
			default:
				b = appendStrftime(b, f[i], now)
			}
		case f[i] == '\\' && i < len(f)-1:
			i++
			if c := strings.IndexByte("\\0aenrtv", f[i]); c >= 0 {
				b = append(b, "\\\x00\a\x1b\n\r\t\v"[c])
			}
		case f[i] != '%' && f[i] != '@' && f[i] != '\\':
			b = append(b, f[i])
		}
	}
	return b
}

// conversion appends one % conversion.
func (p *printer) conversion(b []byte, c byte, sp spec, m *packets.Publish, now time.Time) []byte {
	props := &m.Properties
	switch c {
	case '%':
		return append(b, '%')
	case 'A':
		return appendIntIf(b, props.Has(packets.PropTopicAlias), int64(props.TopicAlias), sp)
	case 'C':
		if props.Has(packets.PropContentType) {
			return appendString(b, props.ContentType, sp)
		}
		return appendPad(b, ' ', sp.width)
	case 'D':
		return append(b, props.CorrelationData...)
	case 'E':
		return appendIntIf(b, props.Has(packets.PropMessageExpiry), int64(int32(props.MessageExpiry)), sp) // C's (int)
	case 'F':
		return appendIntIf(b, props.Has(packets.PropPayloadFormat), int64(props.PayloadFormat), sp)
	case 'I':
		return appendString(b, now.Format("2006-01-02T15:04:05-0700"), sp)
	case 'j', 'J':
		json, err := messageJSON(m, now, c == 'j')
		if err != nil {
			fmt.Fprintf(p.errOut, "Error: Message payload is not valid JSON on topic %s.\n", m.Topic)
			return b
		}
		return json.appendTo(b, p.flags.pretty, 0)
	case 'l':
		return appendInt(b, int64(len(m.Payload)), sp)
	case 'm':
		return appendInt(b, int64(m.PacketID), sp)
	case 'P':
		for i, u := range props.User {
			if i > 0 {
				b = append(b, ' ')
			}
			b = append(append(append(b, u.Key...), ':'), u.Value...)
		}
		return b
	case 'p':
		return appendPayload(b, m.Payload, 0, sp)
	case 'q':
		return append(b, '0'+m.QoS)
	case 'R':
		if props.Has(packets.PropResponseTopic) {
			return appendString(b, props.ResponseTopic, sp)
		}
		return b
	case 'r':
		if m.Retain {
			return append(b, '1')
		}
		return append(b, '0')
	case 'S':
		if len(props.SubscriptionIDs) > 0 {
			return appendInt(b, int64(int32(props.SubscriptionIDs[0])), sp)
		}
		return appendPad(b, sp.pad, sp.width)
	case 't':
		return appendString(b, m.Topic, sp)
	case 'U':
		return fmt.Appendf(b, "%d.%09d", now.Unix(), now.Nanosecond())
	case 'x':
		return appendPayload(b, m.Payload, 1, sp)
	case 'X':
		return appendPayload(b, m.Payload, 2, sp)
	}
	return b
}

func appendPad(b []byte, pad byte, n int) []byte {
	for range n {
		b = append(b, pad)
	}
	return b
}

// appendInt is printf's %d, %-Nd, %0Nd or %Nd.
func appendInt(b []byte, v int64, sp spec) []byte {
	switch {
	case sp.width == 0:
		return strconv.AppendInt(b, v, 10)
	case sp.leftAlign:
		return fmt.Appendf(b, "%-*d", sp.width, v)
	case sp.pad == '0':
		return fmt.Appendf(b, "%0*d", sp.width, v)
	}
	return fmt.Appendf(b, "%*d", sp.width, v)
}

// appendIntIf appends v, or when absent the width in pad characters.
func appendIntIf(b []byte, present bool, v int64, sp spec) []byte {
	if !present {
		return appendPad(b, sp.pad, sp.width)
	}
	return appendInt(b, v, sp)
}

// appendString is printf's %s with width and precision counted in bytes.
func appendString(b []byte, s string, sp spec) []byte {
	if sp.precision >= 0 && len(s) > sp.precision {
		s = s[:sp.precision]
	}
	padding := max(sp.width-len(s), 0)
	if !sp.leftAlign {
		b = appendPad(b, ' ', padding)
	}
	b = append(b, s...)
	if sp.leftAlign {
		b = appendPad(b, ' ', padding)
	}
	return b
}

// appendPayload is mosquitto_sub's write_payload, quirks included: a
// width also truncates, in hex (hex 1, or 2 for upper case) to half as
// many bytes, and a left-aligned payload without a width is followed by
// as many spaces as it has bytes.
func appendPayload(b, payload []byte, hex int, sp spec) []byte {
	n := len(payload)
	padding := sp.width - n
	if sp.width > 0 {
		n = min(n, sp.width)
		padding = sp.width - n
		if hex > 0 {
			n /= 2
			padding = sp.width - 2*n
		}
	}
	if !sp.leftAlign {
		b = appendPad(b, sp.pad, padding)
	}
	switch hex {
	case 0:
		b = append(b, payload[:n]...)
	case 1:
		b = fmt.Appendf(b, "%x", payload[:n])
	default:
		b = fmt.Appendf(b, "%X", payload[:n])
	}
	if sp.leftAlign {
		b = appendPad(b, ' ', max(padding, -padding))
	}
	return b
}

// jsonValue is a JSON value printed as cJSON prints it, members in order.
type jsonValue struct {
	kind   byte   // 'o' object, 'a' array, 's' string, or 'l' literal: a number, true, false, null
	text   string // a string's text or a literal
	keys   []string
	values []*jsonValue
}

func jsonString(s string) *jsonValue  { return &jsonValue{kind: 's', text: s} }
func jsonLiteral(s string) *jsonValue { return &jsonValue{kind: 'l', text: s} }

func (v *jsonValue) add(key string, value *jsonValue) {
	v.keys = append(v.keys, key)
	v.values = append(v.values, value)
}

// cString is what a C string holding b reads: up to its first NUL.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// messageJSON is %j (escaped: the payload as a string) or %J (the payload
// parsed as JSON) of mosquitto_sub built with cJSON.
func messageJSON(m *packets.Publish, now time.Time, escaped bool) (*jsonValue, error) {
	root := &jsonValue{kind: 'o'}
	root.add("tst", jsonString(now.Format("2006-01-02T15:04:05.000000")+"Z"+now.Format("-0700")))
	root.add("topic", jsonString(cString([]byte(m.Topic))))
	root.add("qos", jsonLiteral(strconv.Itoa(int(m.QoS))))
	root.add("retain", jsonLiteral(strconv.Itoa(bit(m.Retain))))
	root.add("payloadlen", jsonLiteral(strconv.Itoa(len(m.Payload))))
	if m.QoS > 0 {
		root.add("mid", jsonLiteral(strconv.Itoa(int(m.PacketID))))
	}
	if m.Properties.Present != 0 || m.Properties.Has(packets.PropUserProperty) || len(m.Properties.SubscriptionIDs) > 0 {
		root.add("properties", propertiesJSON(&m.Properties))
	}
	payload := jsonLiteral("null")
	switch {
	case len(m.Payload) == 0:
	case escaped:
		payload = jsonString(cString(m.Payload))
	default:
		var err error
		if payload, err = parseJSON(m.Payload); err != nil {
			return nil, err
		}
	}
	root.add("payload", payload)
	return root, nil
}

func bit(b bool) int {
	if b {
		return 1
	}
	return 0
}

// propertiesJSON is the "properties" object of %j and %J, in the order
// mosquitto's broker sends them.
func propertiesJSON(p *packets.Properties) *jsonValue {
	obj := &jsonValue{kind: 'o'}
	for _, id := range p.SubscriptionIDs {
		obj.add("subscription-identifier", jsonLiteral(strconv.FormatUint(uint64(id), 10)))
	}
	if len(p.User) > 0 {
		user := &jsonValue{kind: 'o'}
		for _, u := range p.User {
			user.add(u.Key, jsonString(u.Value))
		}
		obj.add("user-properties", user)
	}
	if p.Has(packets.PropContentType) {
		obj.add("content-type", jsonString(p.ContentType))
	}
	if p.Has(packets.PropCorrelationData) {
		obj.add("correlation-data", jsonString(cString(p.CorrelationData)))
	}
	if p.Has(packets.PropPayloadFormat) {
		obj.add("payload-format-indicator", jsonLiteral(strconv.Itoa(int(p.PayloadFormat))))
	}
	if p.Has(packets.PropResponseTopic) {
		obj.add("response-topic", jsonString(p.ResponseTopic))
	}
	if p.Has(packets.PropTopicAlias) {
		obj.add("topic-alias", jsonLiteral(strconv.Itoa(int(p.TopicAlias))))
	}
	if p.Has(packets.PropMessageExpiry) {
		obj.add("message-expiry-interval", jsonLiteral(strconv.FormatUint(uint64(p.MessageExpiry), 10)))
	}
	return obj
}

// parseJSON parses a whole payload into a jsonValue; numbers are
// rewritten as cJSON prints them.
func parseJSON(payload []byte) (*jsonValue, error) {
	if bytes.IndexByte(payload, 0) >= 0 || !json.Valid(payload) {
		return nil, errors.New("not JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	return decodeJSON(dec)
}

func decodeJSON(dec *json.Decoder) (*jsonValue, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		v := &jsonValue{kind: 'o'}
		if t == '[' {
			v.kind = 'a'
		}
		for dec.More() {
			key := ""
			if v.kind == 'o' {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, _ = k.(string)
			}
			value, err := decodeJSON(dec)
			if err != nil {
				return nil, err
			}
			v.add(key, value)
		}
		_, err := dec.Token() // the closing delimiter
		return v, err
	case string:
		return jsonString(t), nil
	case json.Number:
		f, _ := strconv.ParseFloat(string(t), 64)
		return jsonLiteral(cJSONNumber(f)), nil
	case bool:
		return jsonLiteral(strconv.FormatBool(t)), nil
	}
	return jsonLiteral("null"), nil
}

// cJSONNumber prints f as cJSON does: an integer within a C int as one,
// otherwise 15 significant digits, or 17 when 15 do not read back as f.
func cJSONNumber(f float64) string {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return "null"
	case f == math.Trunc(f) && f >= math.MinInt32 && f <= math.MaxInt32:
		return strconv.Itoa(int(f))
	}
	s := strconv.FormatFloat(f, 'g', 15, 64)
	if back, _ := strconv.ParseFloat(s, 64); back != f {
		s = strconv.FormatFloat(f, 'g', 17, 64)
	}
	return s
}

// appendTo prints v as cJSON_PrintUnformatted, or with pretty as
// cJSON_Print (tabs, one member per line, arrays on one line); depth is
// the nesting of the container v is in.
func (v *jsonValue) appendTo(b []byte, pretty bool, depth int) []byte {
	switch v.kind {
	case 's':
		return appendJSONString(b, v.text)
	case 'l':
		return append(b, v.text...)
	case 'a':
		b = append(b, '[')
		for i, item := range v.values {
			b = item.appendTo(b, pretty, depth+1)
			if i < len(v.values)-1 {
				b = append(b, ',')
				if pretty {
					b = append(b, ' ')
				}
			}
		}
		return append(b, ']')
	}
	b = append(b, '{')
	if pretty {
		b = append(b, '\n')
	}
	for i, key := range v.keys {
		if pretty {
			b = appendPad(b, '\t', depth+1)
		}
		b = append(appendJSONString(b, key), ':')
		if pretty {
			b = append(b, '\t')
		}
		b = v.values[i].appendTo(b, pretty, depth+1)
		if i < len(v.keys)-1 {
			b = append(b, ',')
		}
		if pretty {
			b = append(b, '\n')
		}
	}
	if pretty {
		b = appendPad(b, '\t', depth)
	}
	return append(b, '}')
}

// appendJSONString quotes s as cJSON does: bytes above 0x7F as they are.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			if c < 0x20 {
				b = fmt.Appendf(b, "\\u%04x", c)
			} else {
				b = append(b, c)
			}
		}
	}
	return append(b, '"')
}

// appendStrftime appends strftime's %c for @c in -F, in the C locale.
// Conversions it does not know print nothing.
func appendStrftime(b []byte, c byte, t time.Time) []byte {
	layouts := map[byte]string{
		'a': "Mon", 'A': "Monday", 'b': "Jan", 'h': "Jan", 'B': "January", 'c': "Mon Jan _2 15:04:05 2006",
		'd': "02", 'D': "01/02/06", 'e': "_2", 'F': "2006-01-02", 'H': "15", 'I': "03", 'm': "01", 'M': "04",
		'p': "PM", 'r': "03:04:05 PM", 'R': "15:04", 'S': "05", 'T': "15:04:05", 'x': "01/02/06",
		'X': "15:04:05", 'y': "06", 'Y': "2006", 'z': "-0700", 'Z': "MST",
	}
	if layout, ok := layouts[c]; ok {
		return t.AppendFormat(b, layout)
	}
	year, week := t.ISOWeek()
	switch c {
	case 'C':
		return fmt.Appendf(b, "%02d", t.Year()/100)
	case 'g':
		return fmt.Appendf(b, "%02d", year%100)
	case 'G':
		return strconv.AppendInt(b, int64(year), 10)
	case 'j':
		return fmt.Appendf(b, "%03d", t.YearDay())
	case 'k':
		return fmt.Appendf(b, "%2d", t.Hour())
	case 'l':
		return fmt.Appendf(b, "%2d", (t.Hour()+11)%12+1)
	case 'n':
		return append(b, '\n')
	case 'P':
		return append(b, strings.ToLower(t.Format("PM"))...)
	case 's':
		return strconv.AppendInt(b, t.Unix(), 10)
	case 't':
		return append(b, '\t')
	case 'u':
		return strconv.AppendInt(b, int64((int(t.Weekday())+6)%7+1), 10)
	case 'V':
		return fmt.Appendf(b, "%02d", week)
	case 'w':
		return strconv.AppendInt(b, int64(t.Weekday()), 10)
	case 'U':
		return fmt.Appendf(b, "%02d", (t.YearDay()+6-int(t.Weekday()))/7)
	case 'W':
		return fmt.Appendf(b, "%02d", (t.YearDay()+6-(int(t.Weekday())+6)%7)/7)
	case '%':
		return append(b, '%')
	}
	return b
}
