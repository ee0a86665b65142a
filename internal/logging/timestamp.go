package logging

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// timestampFormat returns what prefixes a text log line: with an empty
// format seconds since the epoch, Mosquitto's default, otherwise the time
// as the strftime format log_timestamp_format lays it out. Conversions
// outside C's strftime and the common POSIX ones (%E and %O modifiers,
// glibc's padding flags such as %-d) are refused, so that a format is
// never half honoured.
func timestampFormat(format string) (func([]byte, time.Time) []byte, error) {
	if format == "" {
		return func(b []byte, t time.Time) []byte { return strconv.AppendInt(b, t.Unix(), 10) }, nil
	}
	elems, err := compileStrftime(format)
	if err != nil {
		return nil, fmt.Errorf("log_timestamp_format %q: %w", format, err)
	}
	return func(b []byte, t time.Time) []byte {
		for _, e := range elems {
			b = e.append(b, t)
		}
		return b
	}, nil
}

// strftimeComposites are the conversions that stand for others, in the C
// locale.
var strftimeComposites = map[byte]string{
	'F': "%Y-%m-%d", 'T': "%H:%M:%S", 'D': "%m/%d/%y", 'R': "%H:%M", 'r': "%I:%M:%S %p",
	'c': "%a %b %e %H:%M:%S %Y", 'x': "%m/%d/%y", 'X': "%H:%M:%S", 'h': "%b",
	'n': "\n", 't': "\t", '%': "%",
}

// strftimeVerbs are the conversions stampElem.append writes.
const strftimeVerbs = "YCyGgVmdejHkIlMSpPaAbBuwUWZzs"

// stampElem is a piece of a compiled timestamp format: literal text, or a
// conversion when verb is not zero.
type stampElem struct {
	literal string
	verb    byte
}

func compileStrftime(format string) ([]stampElem, error) {
	var elems []stampElem
	literal := func(s string) {
		if n := len(elems); n > 0 && elems[n-1].verb == 0 {
			elems[n-1].literal += s
			return
		}
		elems = append(elems, stampElem{literal: s})
	}
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			literal(format[i : i+1])
			continue
		}
		if i++; i == len(format) {
			return nil, fmt.Errorf("ends with a lone %%")
		}
		c := format[i]
		switch expansion, composite := strftimeComposites[c]; {
		case composite && (c == 'n' || c == 't' || c == '%'):
			literal(expansion)
		case composite:
			sub, err := compileStrftime(expansion)
			if err != nil {
				return nil, err
			}
			for _, e := range sub {
				if e.verb == 0 {
					literal(e.literal)
				} else {
					elems = append(elems, e)
				}
			}
		case strings.IndexByte(strftimeVerbs, c) >= 0:
			elems = append(elems, stampElem{verb: c})
		default:
			r, _ := utf8.DecodeRuneInString(format[i:])
			return nil, fmt.Errorf("conversion %%%c is not supported", r)
		}
	}
	return elems, nil
}

// append writes the element for t.
func (e stampElem) append(b []byte, t time.Time) []byte {
	switch e.verb {
	case 0:
		return append(b, e.literal...)
	case 'Y':
		return strconv.AppendInt(b, int64(t.Year()), 10)
	case 'C':
		return appendPadded(b, t.Year()/100, 2, '0')
	case 'y':
		return appendPadded(b, t.Year()%100, 2, '0')
	case 'G':
		year, _ := t.ISOWeek()
		return strconv.AppendInt(b, int64(year), 10)
	case 'g':
		year, _ := t.ISOWeek()
		return appendPadded(b, year%100, 2, '0')
	case 'V':
		_, week := t.ISOWeek()
		return appendPadded(b, week, 2, '0')
	case 'm':
		return appendPadded(b, int(t.Month()), 2, '0')
	case 'd':
		return appendPadded(b, t.Day(), 2, '0')
	case 'e':
		return appendPadded(b, t.Day(), 2, ' ')
	case 'j':
		return appendPadded(b, t.YearDay(), 3, '0')
	case 'H':
		return appendPadded(b, t.Hour(), 2, '0')
	case 'k':
		return appendPadded(b, t.Hour(), 2, ' ')
	case 'I':
		return appendPadded(b, hour12(t), 2, '0')
	case 'l':
		return appendPadded(b, hour12(t), 2, ' ')
	case 'M':
		return appendPadded(b, t.Minute(), 2, '0')
	case 'S':
		return appendPadded(b, t.Second(), 2, '0')
	case 'p':
		return t.AppendFormat(b, "PM")
	case 'P':
		return t.AppendFormat(b, "pm")
	case 'a':
		return append(b, t.Weekday().String()[:3]...)
	case 'A':
		return append(b, t.Weekday().String()...)
	case 'b':
		return append(b, t.Month().String()[:3]...)
	case 'B':
		return append(b, t.Month().String()...)
	case 'u':
		return strconv.AppendInt(b, int64((int(t.Weekday())+6)%7+1), 10)
	case 'w':
		return strconv.AppendInt(b, int64(t.Weekday()), 10)
	case 'U': // weeks starting on Sunday; days before the first are week 0
		return appendPadded(b, (t.YearDay()+6-int(t.Weekday()))/7, 2, '0')
	case 'W': // the same, starting on Monday
		return appendPadded(b, (t.YearDay()+6-(int(t.Weekday())+6)%7)/7, 2, '0')
	case 'Z':
		return t.AppendFormat(b, "MST")
	case 'z':
		return t.AppendFormat(b, "-0700")
	case 's':
		return strconv.AppendInt(b, t.Unix(), 10)
	}
	return b
}

func hour12(t time.Time) int {
	if h := t.Hour() % 12; h != 0 {
		return h
	}
	return 12
}

// appendPadded appends n, padded on the left with pad to width.
func appendPadded(b []byte, n, width int, pad byte) []byte {
	digits := strconv.Itoa(n)
	for i := len(digits); i < width; i++ {
		b = append(b, pad)
	}
	return append(b, digits...)
}
