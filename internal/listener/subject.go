package listener

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// attribute is one AttributeTypeAndValue of a distinguished name, its
// value kept raw so that it prints exactly as OpenSSL prints it.
type attribute struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue
}

// attributeSET is a RelativeDistinguishedName (the name ending in SET
// makes encoding/asn1 read a SET OF).
type attributeSET []attribute

var oidCommonName = asn1.ObjectIdentifier{2, 5, 4, 3}

// shortNames are OpenSSL's short names for the attributes it knows that
// certificates use; others print as a dotted OID.
var shortNames = map[string]string{
	"2.5.4.3":                    "CN",
	"2.5.4.4":                    "SN",
	"2.5.4.5":                    "serialNumber",
	"2.5.4.6":                    "C",
	"2.5.4.7":                    "L",
	"2.5.4.8":                    "ST",
	"2.5.4.9":                    "street",
	"2.5.4.10":                   "O",
	"2.5.4.11":                   "OU",
	"2.5.4.12":                   "title",
	"2.5.4.13":                   "description",
	"2.5.4.15":                   "businessCategory",
	"2.5.4.17":                   "postalCode",
	"2.5.4.41":                   "name",
	"2.5.4.42":                   "GN",
	"2.5.4.43":                   "initials",
	"2.5.4.44":                   "generationQualifier",
	"2.5.4.46":                   "dnQualifier",
	"2.5.4.65":                   "pseudonym",
	"2.5.4.97":                   "organizationIdentifier",
	"1.2.840.113549.1.9.1":       "emailAddress",
	"0.9.2342.19200300.100.1.1":  "UID",
	"0.9.2342.19200300.100.1.25": "DC",
	"1.3.6.1.4.1.311.60.2.1.1":   "jurisdictionL",
	"1.3.6.1.4.1.311.60.2.1.2":   "jurisdictionST",
	"1.3.6.1.4.1.311.60.2.1.3":   "jurisdictionC",
}

// parseName splits a DER Name into its relative distinguished names.
func parseName(der []byte) ([]attributeSET, error) {
	var rdns []attributeSET
	rest, err := asn1.Unmarshal(der, &rdns)
	if err != nil {
		return nil, fmt.Errorf("listener: certificate subject: %w", err)
	}
	if len(rest) > 0 {
		return nil, errors.New("listener: certificate subject: trailing data")
	}
	return rdns, nil
}

// CommonName returns the first Common Name of cert's subject, which is what
// Mosquitto's use_identity_as_username takes. It reports false when there
// is none, or when it is not valid UTF-8 or holds a NUL.
func CommonName(cert *x509.Certificate) (string, bool) {
	rdns, err := parseName(cert.RawSubject)
	if err != nil {
		return "", false
	}
	for _, rdn := range rdns {
		for _, a := range rdn {
			if a.Type.Equal(oidCommonName) {
				cn := string(a.Value.Bytes)
				return cn, utf8.ValidString(cn) && !strings.ContainsRune(cn, 0)
			}
		}
	}
	return "", false
}

// SubjectRFC2253 returns cert's subject as OpenSSL's X509_NAME_print_ex
// with XN_FLAG_RFC2253 writes it, which is the username Mosquitto's
// use_subject_as_username gives: most specific first
// ("CN=client,OU=Production,O=Example,C=GB"), '+' inside a multi-valued
// RDN, OpenSSL's short names, RFC 2253 escapes, every byte of a non-ASCII
// character as \XX, and unknown attributes or value types as #hex DER.
func SubjectRFC2253(cert *x509.Certificate) (string, error) {
	rdns, err := parseName(cert.RawSubject)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for i := len(rdns) - 1; i >= 0; i-- {
		for j := len(rdns[i]) - 1; j >= 0; j-- {
			switch {
			case j < len(rdns[i])-1:
				b.WriteByte('+')
			case b.Len() > 0:
				b.WriteByte(',')
			}
			if err := writeAttribute(&b, rdns[i][j]); err != nil {
				return "", err
			}
		}
	}
	return b.String(), nil
}

func writeAttribute(b *strings.Builder, a attribute) error {
	name, known := shortNames[a.Type.String()]
	if !known {
		b.WriteString(a.Type.String())
		b.WriteByte('=')
		writeHexDER(b, a.Value.FullBytes)
		return nil
	}
	b.WriteString(name)
	b.WriteByte('=')
	chars, ok, err := decodeString(a.Value)
	if err != nil {
		return fmt.Errorf("listener: certificate subject %s: %w", name, err)
	}
	if !ok {
		writeHexDER(b, a.Value.FullBytes)
		return nil
	}
	for i, c := range chars {
		writeEscaped(b, c, i == 0, i == len(chars)-1)
	}
	return nil
}

// decodeString returns the characters of a string value; ok is false for
// types OpenSSL dumps as hex instead.
func decodeString(v asn1.RawValue) (chars []rune, ok bool, err error) {
	if v.Class != asn1.ClassUniversal {
		return nil, false, nil
	}
	switch v.Tag {
	case asn1.TagUTF8String:
		for s := v.Bytes; len(s) > 0; {
			r, size := utf8.DecodeRune(s)
			if r == utf8.RuneError && size <= 1 {
				return nil, false, errors.New("invalid UTF-8")
			}
			chars = append(chars, r)
			s = s[size:]
		}
	case asn1.TagNumericString, asn1.TagPrintableString, asn1.TagT61String, asn1.TagIA5String,
		asn1.TagUTCTime, asn1.TagGeneralizedTime, 26: // 26: VisibleString
		for _, c := range v.Bytes {
			chars = append(chars, rune(c)) // one byte a character, as Latin-1
		}
	case asn1.TagBMPString:
		if len(v.Bytes)%2 != 0 {
			return nil, false, errors.New("odd-length BMPString")
		}
		for i := 0; i < len(v.Bytes); i += 2 {
			chars = append(chars, rune(binary.BigEndian.Uint16(v.Bytes[i:])))
		}
	case 28: // UniversalString
		if len(v.Bytes)%4 != 0 {
			return nil, false, errors.New("bad UniversalString length")
		}
		for i := 0; i < len(v.Bytes); i += 4 {
			chars = append(chars, rune(binary.BigEndian.Uint32(v.Bytes[i:])))
		}
	default:
		return nil, false, nil
	}
	return chars, true, nil
}

// writeEscaped writes one character as OpenSSL's do_esc_char does under
// ASN1_STRFLGS_RFC2253.
func writeEscaped(b *strings.Builder, c rune, first, last bool) {
	if c >= utf8.RuneSelf {
		var buf [utf8.UTFMax]byte
		for _, x := range buf[:utf8.EncodeRune(buf[:], c)] {
			fmt.Fprintf(b, "\\%02X", x)
		}
		return
	}
	switch {
	case strings.ContainsRune(`,+"\<>;`, c),
		first && (c == ' ' || c == '#'),
		last && c == ' ':
		b.WriteByte('\\')
		b.WriteRune(c)
	case c < 0x20 || c == 0x7f:
		fmt.Fprintf(b, "\\%02X", c)
	default:
		b.WriteRune(c)
	}
}

func writeHexDER(b *strings.Builder, der []byte) {
	b.WriteByte('#')
	fmt.Fprintf(b, "%X", der)
}
