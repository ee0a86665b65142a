package config

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	cfg, err := Parse(strings.NewReader("# comment\n\nlistener 1883\nlistener 1884 127.0.0.1\nallow_anonymous true\n"), "m.conf")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Listeners) != 2 || cfg.Listeners[0].Port != 1883 || cfg.Listeners[0].Address != "" ||
		cfg.Listeners[1].Address != "127.0.0.1" || cfg.Listeners[1].Line != 4 {
		t.Fatalf("listeners = %+v", cfg.Listeners)
	}
	if cfg.AllowAnonymous == nil || !*cfg.AllowAnonymous {
		t.Fatalf("allow_anonymous = %v", cfg.AllowAnonymous)
	}
}

func TestParseErrorsNameFileAndLine(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"listener 1883\nallow_anonymous maybe\n", "m.conf:2: allow_anonymous: invalid value \"maybe\" (accepted: true, false)"},
		{"listener 99999\n", "m.conf:1: listener: invalid port \"99999\""},
		{"listener\n", "m.conf:1: listener: expected"},
		{"max_queued_messages lots\n", "m.conf:1: max_queued_messages: invalid value \"lots\" (accepted: a whole number, 0 for unlimited)"},
		{"\n\nbogus_option 1\n", "m.conf:3: unknown option \"bogus_option\""},
	} {
		_, err := Parse(strings.NewReader(tc.text), "m.conf")
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Parse(%q) error = %v, want prefix %q", tc.text, err, tc.want)
		}
	}
}

func TestParseLimits(t *testing.T) {
	cfg, err := Parse(strings.NewReader("max_inflight_messages 1\nmax_queued_messages 0\n"), "m.conf")
	if err != nil {
		t.Fatal(err)
	}
	if *cfg.MaxInflightMessages != 1 || *cfg.MaxQueuedMessages != 0 {
		t.Fatalf("limits = %d, %d", *cfg.MaxInflightMessages, *cfg.MaxQueuedMessages)
	}
	// Mosquitto reads a negative limit, and an in-flight window of 65535, as
	// 0 (unlimited), and a max_connections below -1 as -1.
	cfg, err = Parse(strings.NewReader("max_inflight_messages 65535\nmax_queued_messages -1\nlistener 1883\nmax_connections -5\n"), "m.conf")
	if err != nil {
		t.Fatal(err)
	}
	if *cfg.MaxInflightMessages != 0 || *cfg.MaxQueuedMessages != 0 || cfg.Listeners[0].MaxConnections != -1 {
		t.Fatalf("limits = %d, %d, %d", *cfg.MaxInflightMessages, *cfg.MaxQueuedMessages, cfg.Listeners[0].MaxConnections)
	}
}

func TestParseSecurityOptions(t *testing.T) {
	text := `password_file /etc/mosquitto/passwd
acl_file /etc/mosquitto/acl
listener 1883 127.0.0.1
max_connections 10
listener 8883
cafile /etc/ca dir/ca.crt
certfile /etc/server.crt
keyfile /etc/server.key
crlfile /etc/crl.pem
require_certificate true
use_identity_as_username true
tls_version tlsv1.3
ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256
`
	cfg, err := Parse(strings.NewReader(text), "m.conf")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PasswordFile != "/etc/mosquitto/passwd" || cfg.ACLFile != "/etc/mosquitto/acl" {
		t.Fatalf("files = %q, %q", cfg.PasswordFile, cfg.ACLFile)
	}
	plain, secure := cfg.Listeners[0], cfg.Listeners[1]
	if plain.MaxConnections != 10 || plain.TLS() {
		t.Fatalf("first listener = %+v", plain)
	}
	if !secure.TLS() || secure.MaxConnections != -1 || secure.CAFile != "/etc/ca dir/ca.crt" ||
		secure.CertFile != "/etc/server.crt" || secure.KeyFile != "/etc/server.key" || secure.CRLFile != "/etc/crl.pem" ||
		!secure.RequireCertificate || !secure.UseIdentityAsUsername || secure.TLSVersion != "tlsv1.3" ||
		secure.Ciphers != "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256" {
		t.Fatalf("TLS listener = %+v", secure)
	}
}

func TestParseSecurityErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"listener 8883\ntls_version sslv3\n", "m.conf:2: tls_version: invalid value \"sslv3\" (accepted: tlsv1.3, tlsv1.2, tlsv1.1)"},
		{"listener 8883\nrequire_certificate yes\n", "m.conf:2: require_certificate: invalid value \"yes\""},
		{"listener 1883\nmax_connections many\n", "m.conf:2: max_connections: invalid value \"many\" (accepted: -1 for unlimited, or a whole number)"},
		{"password_file\n", "m.conf:1: password_file: missing value (accepted: a path)"},
	} {
		_, err := Parse(strings.NewReader(tc.text), "m.conf")
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Parse(%q) error = %v, want prefix %q", tc.text, err, tc.want)
		}
	}
}
