package listener

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strings"
)

// suite is a TLS 1.2 cipher suite Go implements, under its OpenSSL name,
// with the traits OpenSSL's cipher-list keywords select on.
type suite struct {
	name   string // OpenSSL's
	id     uint16
	kx     string // key exchange: ECDHE or RSA
	auth   string // ECDSA or RSA
	cipher string // AES128, AES256, AES128GCM, AES256GCM, CHACHA20, 3DES, RC4
	mac    string // SHA1, SHA256, SHA384 or AEAD
}

// suites are every TLS 1.0-1.2 suite crypto/tls implements; none else can
// be offered, whatever the cipher list says.
var suites = []suite{
	{"ECDHE-ECDSA-AES128-GCM-SHA256", tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "ECDHE", "ECDSA", "AES128GCM", "AEAD"},
	{"ECDHE-RSA-AES128-GCM-SHA256", tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "ECDHE", "RSA", "AES128GCM", "AEAD"},
	{"ECDHE-ECDSA-AES256-GCM-SHA384", tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "ECDHE", "ECDSA", "AES256GCM", "AEAD"},
	{"ECDHE-RSA-AES256-GCM-SHA384", tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, "ECDHE", "RSA", "AES256GCM", "AEAD"},
	{"ECDHE-ECDSA-CHACHA20-POLY1305", tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE", "ECDSA", "CHACHA20", "AEAD"},
	{"ECDHE-RSA-CHACHA20-POLY1305", tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE", "RSA", "CHACHA20", "AEAD"},
	{"ECDHE-ECDSA-AES128-SHA", tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, "ECDHE", "ECDSA", "AES128", "SHA1"},
	{"ECDHE-RSA-AES128-SHA", tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, "ECDHE", "RSA", "AES128", "SHA1"},
	{"ECDHE-ECDSA-AES256-SHA", tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, "ECDHE", "ECDSA", "AES256", "SHA1"},
	{"ECDHE-RSA-AES256-SHA", tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, "ECDHE", "RSA", "AES256", "SHA1"},
	{"ECDHE-ECDSA-AES128-SHA256", tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, "ECDHE", "ECDSA", "AES128", "SHA256"},
	{"ECDHE-RSA-AES128-SHA256", tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, "ECDHE", "RSA", "AES128", "SHA256"},
	{"AES128-GCM-SHA256", tls.TLS_RSA_WITH_AES_128_GCM_SHA256, "RSA", "RSA", "AES128GCM", "AEAD"},
	{"AES256-GCM-SHA384", tls.TLS_RSA_WITH_AES_256_GCM_SHA384, "RSA", "RSA", "AES256GCM", "AEAD"},
	{"AES128-SHA", tls.TLS_RSA_WITH_AES_128_CBC_SHA, "RSA", "RSA", "AES128", "SHA1"},
	{"AES256-SHA", tls.TLS_RSA_WITH_AES_256_CBC_SHA, "RSA", "RSA", "AES256", "SHA1"},
	{"AES128-SHA256", tls.TLS_RSA_WITH_AES_128_CBC_SHA256, "RSA", "RSA", "AES128", "SHA256"},
	{"ECDHE-RSA-DES-CBC3-SHA", tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA, "ECDHE", "RSA", "3DES", "SHA1"},
	{"DES-CBC3-SHA", tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA, "RSA", "RSA", "3DES", "SHA1"},
	{"ECDHE-ECDSA-RC4-SHA", tls.TLS_ECDHE_ECDSA_WITH_RC4_128_SHA, "ECDHE", "ECDSA", "RC4", "SHA1"},
	{"ECDHE-RSA-RC4-SHA", tls.TLS_ECDHE_RSA_WITH_RC4_128_SHA, "ECDHE", "RSA", "RC4", "SHA1"},
	{"RC4-SHA", tls.TLS_RSA_WITH_RC4_128_SHA, "RSA", "RSA", "RC4", "SHA1"},
}

// secure reports whether Go counts s as secure (tls.CipherSuites), which
// is what DEFAULT and HIGH select.
func (s suite) secure() bool {
	for _, c := range tls.CipherSuites() {
		if c.ID == s.id {
			return true
		}
	}
	return false
}

// cipherKeywords are the OpenSSL cipher-list keywords understood, each
// selecting among suites.
var cipherKeywords = map[string]func(suite) bool{
	"DEFAULT":  suite.secure,
	"HIGH":     suite.secure,
	"ALL":      func(suite) bool { return true },
	"ECDHE":    func(s suite) bool { return s.kx == "ECDHE" },
	"EECDH":    func(s suite) bool { return s.kx == "ECDHE" },
	"kECDHE":   func(s suite) bool { return s.kx == "ECDHE" },
	"RSA":      func(s suite) bool { return s.kx == "RSA" }, // OpenSSL: RSA is kRSA
	"kRSA":     func(s suite) bool { return s.kx == "RSA" },
	"aRSA":     func(s suite) bool { return s.auth == "RSA" },
	"ECDSA":    func(s suite) bool { return s.auth == "ECDSA" },
	"aECDSA":   func(s suite) bool { return s.auth == "ECDSA" },
	"AES":      func(s suite) bool { return strings.HasPrefix(s.cipher, "AES") },
	"AES128":   func(s suite) bool { return strings.HasPrefix(s.cipher, "AES128") },
	"AES256":   func(s suite) bool { return strings.HasPrefix(s.cipher, "AES256") },
	"AESGCM":   func(s suite) bool { return strings.HasSuffix(s.cipher, "GCM") },
	"CHACHA20": func(s suite) bool { return s.cipher == "CHACHA20" },
	"3DES":     func(s suite) bool { return s.cipher == "3DES" },
	"RC4":      func(s suite) bool { return s.cipher == "RC4" },
	"SHA1":     func(s suite) bool { return s.mac == "SHA1" },
	"SHA":      func(s suite) bool { return s.mac == "SHA1" },
	"SHA256":   func(s suite) bool { return s.mac == "SHA256" }, // the MAC: GCM suites are AEAD
	"SHA384":   func(s suite) bool { return s.mac == "SHA384" },
}

// absentKeywords name suites Go never implements (anonymous, null, export,
// DHE, PSK, SRP, DSS, Camellia...): selecting them selects nothing, so
// "!aNULL" and friends from common cipher lists are accepted.
var absentKeywords = []string{
	"aNULL", "eNULL", "NULL", "COMPLEMENTOFALL", "EXPORT", "EXP", "LOW", "MD5", "PSK", "kPSK", "ECDHEPSK",
	"SRP", "DSS", "aDSS", "DH", "DHE", "EDH", "kDHE", "kEDH", "aDH", "ADH", "AECDH", "CAMELLIA", "SEED",
	"IDEA", "ARIA", "DES", "SSLv2", "kDHEPSK", "kRSAPSK", "aPSK", "CCM", "AESCCM",
}

// CipherSuites turns an OpenSSL cipher list for TLS 1.2 and earlier into
// Go suite IDs. Items are separated by ':' (or ',' or ' '). An item is a
// suite name or keyword, or several joined by '+' (their intersection,
// "ECDHE+AESGCM"); a leading '!' or '-' removes what it selects (and '!'
// keeps it out); a leading '+' and "@STRENGTH"/"@SECLEVEL=n" are accepted
// and ignored, since Go orders suites itself.
func CipherSuites(list string) ([]uint16, error) {
	var chosen []uint16
	banned := map[uint16]bool{}
	for _, item := range strings.FieldsFunc(list, func(r rune) bool { return r == ':' || r == ',' || r == ' ' }) {
		if strings.HasPrefix(item, "@") {
			continue
		}
		op := item[0]
		if op == '!' || op == '-' || op == '+' {
			item = item[1:]
		}
		selects, err := cipherSelector(item)
		if err != nil {
			return nil, err
		}
		for _, s := range suites {
			if !selects(s) {
				continue
			}
			switch op {
			case '!':
				banned[s.id] = true
				chosen = slices.DeleteFunc(chosen, func(id uint16) bool { return id == s.id })
			case '-':
				chosen = slices.DeleteFunc(chosen, func(id uint16) bool { return id == s.id })
			case '+':
				// Moves to the end in OpenSSL; order is Go's to choose.
			default:
				if !banned[s.id] && !slices.Contains(chosen, s.id) {
					chosen = append(chosen, s.id)
				}
			}
		}
	}
	if len(chosen) == 0 {
		return nil, fmt.Errorf("no cipher suite that Go implements is selected; known names: %s", suiteNames())
	}
	return chosen, nil
}

// cipherSelector parses one item without its operator: names and keywords
// joined by '+'.
func cipherSelector(item string) (func(suite) bool, error) {
	var parts []func(suite) bool
	for _, word := range strings.Split(item, "+") {
		switch {
		case cipherKeywords[word] != nil:
			parts = append(parts, cipherKeywords[word])
		case slices.Contains(absentKeywords, word):
			parts = append(parts, func(suite) bool { return false })
		case slices.ContainsFunc(suites, func(s suite) bool { return s.name == word }):
			parts = append(parts, func(s suite) bool { return s.name == word })
		default:
			return nil, fmt.Errorf("unknown or unsupported cipher %q; midge understands the keywords %s and the suites %s",
				word, keywordNames(), suiteNames())
		}
	}
	return func(s suite) bool {
		for _, p := range parts {
			if !p(s) {
				return false
			}
		}
		return true
	}, nil
}

func suiteNames() string {
	names := make([]string, len(suites))
	for i, s := range suites {
		names[i] = s.name
	}
	return strings.Join(names, ", ")
}

func keywordNames() string {
	var names []string
	for name := range cipherKeywords {
		names = append(names, name)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}
