package config

import (
	"strings"
	"testing"
)

// The deprecated port and bind_address configure the default listener,
// which Mosquitto adds after the declared ones.
func TestDefaultListenerFromPortAndBindAddress(t *testing.T) {
	cfg := parse(t, "sys_interval 5\nport 1884\nbind_address 127.0.0.1\nlistener 8883\nmax_connections 2\n")
	if len(cfg.Listeners) != 2 {
		t.Fatalf("listeners = %+v", cfg.Listeners)
	}
	if l := cfg.Listeners[1]; !l.Implicit || l.Port != 1884 || l.Address != "127.0.0.1" || l.Line != 2 || l.MaxConnections != -1 {
		t.Fatalf("default listener = %+v", l)
	}
	if l := cfg.Listeners[0]; l.Implicit || l.Port != 8883 || l.MaxConnections != 2 {
		t.Fatalf("listener = %+v", l)
	}
	// Given twice, the last port wins, with a warning as in Mosquitto.
	cfg = parse(t, "port 1\nport 2\n")
	if cfg.Listeners[0].Port != 2 || len(cfg.Warnings) != 1 || cfg.Warnings[0].Line != 2 {
		t.Fatalf("listeners %+v warnings %v", cfg.Listeners, cfg.Warnings)
	}
}

// Listener options before any listener line make the default listener on
// port 1883 when they are among those Mosquitto checks.
func TestListenerOptionsBeforeAnyListener(t *testing.T) {
	cfg := parse(t, "# TLS for the default listener\ncertfile /c\nkeyfile /k\ntls_version tlsv1.3\nlistener 1884 ::1\n")
	if len(cfg.Listeners) != 2 {
		t.Fatalf("listeners = %+v", cfg.Listeners)
	}
	def := cfg.Listeners[1]
	if !def.Implicit || def.Port != 1883 || def.Address != "" || !def.TLS() || def.TLSVersion != "tlsv1.3" ||
		def.File != "m.conf" || def.Line != 2 || len(cfg.Warnings) != 0 {
		t.Fatalf("default listener = %+v, warnings %v", def, cfg.Warnings)
	}

	// Nor does a listener option need a listener above it: alone,
	// use_username_as_clientid makes the default listener too.
	cfg = parse(t, "use_username_as_clientid true\n")
	if len(cfg.Listeners) != 1 || !cfg.Listeners[0].Implicit || !cfg.Listeners[0].UseUsernameAsClientID || len(cfg.Warnings) != 0 {
		t.Fatalf("listeners %+v warnings %v", cfg.Listeners, cfg.Warnings)
	}
	// So do mount_point and bind_interface.
	cfg = parse(t, "mount_point tenant/\nbind_interface lo\n")
	if len(cfg.Listeners) != 1 || !cfg.Listeners[0].Implicit || cfg.Listeners[0].MountPoint != "tenant/" ||
		cfg.Listeners[0].BindInterface != "lo" || len(cfg.Warnings) != 0 {
		t.Fatalf("listeners %+v warnings %v", cfg.Listeners, cfg.Warnings)
	}

	// http_dir alone does not make one (nor does max_connections -1, the
	// default): the lines are reported instead of silently dropped.
	cfg = parse(t, "http_dir /www\nmax_connections -1\nlistener 8080\nprotocol websockets\n")
	if len(cfg.Listeners) != 1 || cfg.Listeners[0].HTTPDir != "" || len(cfg.Warnings) != 2 ||
		cfg.Warnings[0].Option != "http_dir" || cfg.Warnings[1].Line != 2 ||
		!strings.Contains(cfg.Warnings[0].Reason, "default listener") {
		t.Fatalf("listeners %+v warnings %v", cfg.Listeners, cfg.Warnings)
	}

	// No listener options at all: no listener, the broker's local-only mode.
	if cfg := parse(t, "allow_anonymous true\n"); len(cfg.Listeners) != 0 || len(cfg.Warnings) != 0 {
		t.Fatalf("listeners %+v warnings %v", cfg.Listeners, cfg.Warnings)
	}
}

// With per_listener_settings false (the default) security options are
// broker-wide wherever they appear.
func TestSecurityOptionsAreGlobalByDefault(t *testing.T) {
	cfg := parse(t, "listener 1883\npassword_file /pw\nlistener 8883\nallow_anonymous true\nacl_file /acl\n")
	if cfg.PerListenerSettings || cfg.PasswordFile != "/pw" || cfg.ACLFile != "/acl" || !*cfg.AllowAnonymous {
		t.Fatalf("cfg = %+v", cfg)
	}
	for i := range cfg.Listeners {
		l := &cfg.Listeners[i]
		if l.PasswordFile != "" || l.AllowAnonymous != nil {
			t.Fatalf("listener %d has security options: %+v", i, l)
		}
		if s := cfg.SecurityFor(l); s.PasswordFile != "/pw" || s.ACLFile != "/acl" || !*s.AllowAnonymous {
			t.Fatalf("SecurityFor(%d) = %+v", i, s)
		}
	}
}

func TestPerListenerSettings(t *testing.T) {
	cfg := parse(t, `per_listener_settings true
listener 1883 127.0.0.1
allow_anonymous true
listener 8883
password_file /pw
acl_file /acl
allow_zero_length_clientid false
auto_id_prefix tls-
`)
	if !cfg.PerListenerSettings || cfg.AllowAnonymous != nil || cfg.PasswordFile != "" || cfg.ACLFile != "" ||
		cfg.AutoIDPrefix != nil || cfg.AllowZeroLengthClientID != nil {
		t.Fatalf("broker-wide security set: %+v", cfg)
	}
	local, tls := cfg.Listeners[0], cfg.Listeners[1]
	if !*local.AllowAnonymous || local.PasswordFile != "" || tls.AllowAnonymous != nil || tls.PasswordFile != "/pw" ||
		tls.ACLFile != "/acl" || *tls.AllowZeroLengthClientID || *tls.AutoIDPrefix != "tls-" {
		t.Fatalf("listeners = %+v", cfg.Listeners)
	}
	if s := cfg.SecurityFor(&tls); s.PasswordFile != "/pw" || s.AllowAnonymous != nil {
		t.Fatalf("SecurityFor = %+v", s)
	}
	// The same option on two listeners is not a repeat.
	cfg = parse(t, "per_listener_settings true\nlistener 1\npassword_file /a\nlistener 2\npassword_file /b\n")
	if cfg.Listeners[0].PasswordFile != "/a" || cfg.Listeners[1].PasswordFile != "/b" {
		t.Fatalf("listeners = %+v", cfg.Listeners)
	}
}

func TestPerListenerSettingsOrder(t *testing.T) {
	// It must come before the options it moves, as in Mosquitto.
	e := parseError(t, "listener 1883\nallow_anonymous true\nper_listener_settings true\n")
	if e.Line != 3 || !strings.Contains(e.Msg, "must come before") || !strings.Contains(e.Msg, "m.conf:2") {
		t.Fatalf("error = %q", e)
	}
	// Once true it stays true; turning it off is ignored with a warning.
	cfg := parse(t, "per_listener_settings true\nlistener 1\nallow_anonymous true\nper_listener_settings false\n")
	if !cfg.PerListenerSettings || len(cfg.Warnings) != 1 || cfg.Warnings[0].Line != 4 {
		t.Fatalf("per listener %v warnings %v", cfg.PerListenerSettings, cfg.Warnings)
	}
	// Before any listener, security options belong to the default listener:
	// a password file makes it, allow_anonymous alone does not (Mosquitto's
	// rule), and is reported.
	cfg = parse(t, "per_listener_settings true\npassword_file /pw\nlistener 8883\n")
	if len(cfg.Listeners) != 2 || !cfg.Listeners[1].Implicit || cfg.Listeners[1].PasswordFile != "/pw" || cfg.PasswordFile != "" {
		t.Fatalf("listeners = %+v", cfg.Listeners)
	}
	cfg = parse(t, "per_listener_settings true\nallow_anonymous true\nlistener 8883\n")
	if len(cfg.Listeners) != 1 || cfg.Listeners[0].AllowAnonymous != nil || len(cfg.Warnings) != 1 || cfg.Warnings[0].Option != "allow_anonymous" {
		t.Fatalf("listeners %+v warnings %v", cfg.Listeners, cfg.Warnings)
	}
}
