package listener

import (
	"crypto/x509"
	"encoding/asn1"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// rawValue is a string value of the given ASN.1 tag.
func rawValue(t *testing.T, tag int, content []byte) asn1.RawValue {
	t.Helper()
	v := asn1.RawValue{Class: asn1.ClassUniversal, Tag: tag, Bytes: content}
	full, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	v.FullBytes = full
	return v
}

// subjectCert issues a certificate whose subject is rdns, encoded as given.
func subjectCert(t *testing.T, ca *testCA, rdns []attributeSET) issued {
	t.Helper()
	raw, err := asn1.Marshal(rdns)
	if err != nil {
		t.Fatal(err)
	}
	return ca.issue(t, &x509.Certificate{RawSubject: raw})
}

func oid(s ...int) asn1.ObjectIdentifier { return asn1.ObjectIdentifier(s) }

// subjectCases are subjects with the characters and types that OpenSSL
// escapes or dumps, each with what X509_NAME_print_ex(XN_FLAG_RFC2253)
// prints for it.
func subjectCases(t *testing.T) []struct {
	rdns []attributeSET
	want string
} {
	utf8 := func(s string) asn1.RawValue { return rawValue(t, asn1.TagUTF8String, []byte(s)) }
	printable := func(s string) asn1.RawValue { return rawValue(t, asn1.TagPrintableString, []byte(s)) }
	cn, o, ou, c := oid(2, 5, 4, 3), oid(2, 5, 4, 10), oid(2, 5, 4, 11), oid(2, 5, 4, 6)
	return []struct {
		rdns []attributeSET
		want string
	}{
		{
			[]attributeSET{{{c, printable("GB")}}, {{o, utf8("Example")}}, {{cn, utf8("alice")}}},
			"CN=alice,O=Example,C=GB",
		},
		{
			[]attributeSET{{{cn, utf8(`a,b+c"d\e<f>g;h=i`)}}},
			`CN=a\,b\+c\"d\\e\<f\>g\;h=i`,
		},
		{
			[]attributeSET{{{cn, utf8(" #lead and trail# ")}}},
			`CN=\ #lead and trail#\ `,
		},
		{
			[]attributeSET{{{cn, utf8("#x")}}, {{ou, utf8("tab\there")}}},
			`OU=tab\09here,CN=\#x`,
		},
		{
			[]attributeSET{{{cn, utf8("José €")}}},
			`CN=Jos\C3\A9 \E2\82\AC`,
		},
		{
			[]attributeSET{{{cn, rawValue(t, asn1.TagBMPString, []byte{0, 'h', 0, 0xe9})}}},
			`CN=h\C3\A9`,
		},
		{
			[]attributeSET{{{cn, rawValue(t, asn1.TagT61String, []byte{'h', 0xe9})}}},
			`CN=h\C3\A9`,
		},
		{
			// A multi-valued RDN, both of its values and in DER order.
			[]attributeSET{{{o, utf8("Org")}}, {{cn, utf8("a")}, {ou, utf8("b")}}},
			"OU=b+CN=a,O=Org",
		},
		{
			[]attributeSET{
				{{oid(0, 9, 2342, 19200300, 100, 1, 25), rawValue(t, asn1.TagIA5String, []byte("com"))}},
				{{oid(1, 2, 840, 113549, 1, 9, 1), rawValue(t, asn1.TagIA5String, []byte("a@b.example"))}},
				{{oid(2, 5, 4, 5), printable("42")}},
			},
			"serialNumber=42,emailAddress=a@b.example,DC=com",
		},
		{
			// An attribute OpenSSL has no name for: dotted OID, #hex DER.
			[]attributeSET{{{oid(1, 2, 3, 4), utf8("odd")}}, {{cn, utf8("x")}}},
			"CN=x,1.2.3.4=#0C036F6464",
		},
	}
}

func TestSubjectRFC2253(t *testing.T) {
	ca := newCA(t, "CA")
	for _, tc := range subjectCases(t) {
		cert := subjectCert(t, ca, tc.rdns)
		got, err := SubjectRFC2253(cert.cert)
		if err != nil || got != tc.want {
			t.Errorf("got %q, %v; want %q", got, err, tc.want)
		}
	}
}

// TestSubjectRFC2253MatchesOpenSSL prints the same subjects with the
// openssl command, which formats them with the very function Mosquitto
// calls.
func TestSubjectRFC2253MatchesOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not installed")
	}
	ca := newCA(t, "CA")
	dir := t.TempDir()
	for i, tc := range subjectCases(t) {
		cert := subjectCert(t, ca, tc.rdns)
		path := writeFile(t, dir, filepath.Base(t.Name())+string(rune('a'+i))+".crt", cert.certPEM)
		out, err := exec.Command(openssl, "x509", "-in", path, "-noout", "-subject", "-nameopt", "RFC2253").Output()
		if err != nil {
			t.Fatalf("openssl: %v", err)
		}
		want := strings.TrimSuffix(strings.TrimPrefix(string(out), "subject="), "\n")
		if got, _ := SubjectRFC2253(cert.cert); got != want {
			t.Errorf("case %d: got %q, openssl prints %q", i, got, want)
		}
	}
}
