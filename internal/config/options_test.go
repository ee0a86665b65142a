package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func parse(t *testing.T, text string) *Config {
	t.Helper()
	cfg, err := Parse(strings.NewReader(text), "m.conf")
	if err != nil {
		t.Fatalf("Parse(%q): %v", text, err)
	}
	return cfg
}

func parseError(t *testing.T, text string) *Error {
	t.Helper()
	_, err := Parse(strings.NewReader(text), "m.conf")
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Parse(%q) error = %v, want an *Error", text, err)
	}
	return e
}

func TestRegistryIsConsistent(t *testing.T) {
	seen := map[string]bool{}
	for _, o := range Options() {
		if seen[o.Name] {
			t.Errorf("%s: listed twice", o.Name)
		}
		seen[o.Name] = true
		if o.Scope < ScopeGlobal || o.Scope > ScopeBridge || o.Status < Implemented || o.Status > Refuse {
			t.Errorf("%s: scope %v status %v", o.Name, o.Scope, o.Status)
		}
		if o.Default == "" || o.Note == "" || strings.ContainsAny(o.Note+o.Default, "\n|") {
			t.Errorf("%s: default %q note %q: both needed, one line, no |", o.Name, o.Default, o.Note)
		}
		hasSet := o.set != nil || o.Name == "include_dir"
		if hasSet != (o.Status == Implemented) {
			t.Errorf("%s: %v with set function %v", o.Name, o.Status, o.set != nil)
		}
	}
}

// Every option of Mosquitto 2.0.11's mosquitto.conf(5) and of 2.1 (from
// docs' reference, mosquitto.md 2.3) has an entry.
func TestRegistryCoversMosquitto(t *testing.T) {
	manPage20 := `acl_file address allow_anonymous allow_duplicate_messages allow_zero_length_clientid auth_plugin
		auth_plugin_deny_special_chars auto_id_prefix autosave_interval autosave_on_changes bind_address bind_interface
		bridge_alpn bridge_attempt_unsubscribe bridge_bind_address bridge_cafile bridge_capath bridge_certfile
		bridge_identity bridge_insecure bridge_keyfile bridge_max_packet_size bridge_outgoing_retain
		bridge_protocol_version bridge_psk bridge_require_ocsp bridge_tls_version cafile capath certfile
		check_retain_source ciphers ciphers_tls1.3 cleansession clientid_prefixes connection connection_messages crlfile
		dhparamfile http_dir idle_timeout include_dir keepalive_interval keyfile listener local_cleansession
		local_clientid local_password local_username log_dest log_facility log_timestamp log_timestamp_format log_type
		max_connections max_inflight_bytes max_inflight_messages max_keepalive max_packet_size max_qos max_queued_bytes
		max_queued_messages max_topic_alias memory_limit message_size_limit mount_point notification_topic
		notifications notifications_local_only password_file per_listener_settings persistence persistence_file
		persistence_location persistent_client_expiration pid_file plugin plugin_opt_x port protocol psk_file psk_hint
		queue_qos0_messages remote_clientid remote_password remote_username require_certificate restart_timeout
		retain_available round_robin set_tcp_nodelay socket_domain start_type sys_interval threshold tls_engine
		tls_engine_kpass_sha1 tls_keyform tls_version topic try_private upgrade_outgoing_qos use_identity_as_username
		use_subject_as_username use_username_as_clientid user websockets_headers_size websockets_log_level
		auth_opt_x maximum_qos retained_persistence retry_interval clientid username password`
	mosquitto21 := `enable_control_api global_max_clients global_max_connections retain_expiry_interval
		listener_allow_anonymous listener_auto_id_prefix global_plugin plugin_load plugin_use max_topic_alias_broker
		accept_protocol_versions enable_proxy_protocol proxy_protocol_v2_require_tls websockets_origin packet_buffer_size
		disable_client_cert_date_checks bridge_reload_type bridge_ciphers bridge_ciphers_tls1.3 bridge_max_topic_alias
		bridge_receive_maximum bridge_session_expiry_interval bridge_tcp_keepalive bridge_tcp_user_timeout
		bridge_tls_use_os_certs addresses`
	for _, name := range strings.Fields(manPage20 + " " + mosquitto21) {
		if _, ok := Lookup(name); !ok {
			t.Errorf("%s: not in the registry", name)
		}
	}
	if _, ok := Lookup("plugin_opt_"); ok {
		t.Error("plugin_opt_ with no key found an entry")
	}
	if o, _ := Lookup("plugin_opt_db_file"); o.Name != "plugin_opt_*" || o.Status != Refuse {
		t.Errorf("plugin_opt_db_file -> %+v", o)
	}
}

// samples has a non-default line for every implemented option; the test
// below checks that each one changes the Config.
var samples = map[string]string{
	"check_retain_source": "false", "clientid_prefixes": "p-", "connection_messages": "false",
	"max_inflight_bytes": "100", "max_inflight_messages": "5", "max_keepalive": "60", "max_packet_size": "20",
	"max_queued_bytes": "100", "max_queued_messages": "5", "memory_limit": "1000", "message_size_limit": "10",
	"per_listener_settings": "true", "persistent_client_expiration": "1h", "pid_file": "/p", "queue_qos0_messages": "true",
	"retain_available": "false", "set_tcp_nodelay": "true", "session_takeover_any_user": "true", "sys_interval": "0", "upgrade_outgoing_qos": "true",
	"allow_anonymous": "true", "allow_zero_length_clientid": "false", "auto_id_prefix": "a-",
	"password_file": "/pw", "acl_file": "/acl", "listener": "1884", "port": "1885", "bind_address": "::1",
	"socket_domain": "ipv6", "bind_interface": "eth0", "mount_point": "tenant/", "protocol": "websockets", "http_dir": "/www",
	"max_connections": "3", "max_qos": "0", "maximum_qos": "1", "max_topic_alias": "0", "max_topic_alias_broker": "3", "use_username_as_clientid": "true", "cafile": "/ca", "capath": "/cas", "certfile": "/c", "keyfile": "/k", "crlfile": "/crl", "ciphers": "HIGH",
	"ciphers_tls1.3": "TLS_AES_128_GCM_SHA256", "tls_version": "tlsv1.3", "require_certificate": "true",
	"use_identity_as_username": "true", "use_subject_as_username": "true", "log_dest": "stdout", "log_type": "debug", "log_facility": "1", "log_timestamp": "false",
	"log_timestamp_format": "%H", "persistence": "true", "retained_persistence": "true", "persistence_file": "f.db",
	"persistence_location": "/var", "autosave_interval": "5", "persistence_durability": "interval", "include_dir": "(a temporary directory)",
	"tls_keyform": "pem", // accepted and changes nothing: PEM is the only key form

	// Bridge options, each read in a `connection c` section.
	"connection": "c", "address": "h:1884", "addresses": "h g", "topic": "a/# both 1", "remote_clientid": "r",
	"clientid": "r", "remote_username": "u", "username": "u", "remote_password": "p", "password": "p",
	"local_clientid": "l", "local_username": "u", "local_password": "p", "cleansession": "true",
	"local_cleansession": "true", "keepalive_interval": "30", "bridge_protocol_version": "mqttv50",
	"try_private": "false", "bridge_attempt_unsubscribe": "false", "bridge_outgoing_retain": "false",
	"bridge_max_packet_size": "1000", "bridge_bind_address": "127.0.0.2", "start_type": "lazy", "threshold": "3",
	"idle_timeout": "5", "restart_timeout": "2 20", "round_robin": "true", "notifications": "false",
	"notifications_local_only": "true", "notification_topic": "n/state", "bridge_cafile": "/ca", "bridge_capath": "/cas",
	"bridge_certfile": "/c", "bridge_keyfile": "/k", "bridge_insecure": "true", "bridge_tls_version": "tlsv1.3",
	"bridge_alpn": "mqtt", "bridge_require_ocsp": "true", "bridge_ciphers": "HIGH", "bridge_max_topic_alias": "3",
	"bridge_receive_maximum": "5", "bridge_session_expiry_interval": "60", "bridge_tcp_keepalive": "10 5 3",
	"bridge_tcp_user_timeout": "1000", "bridge_tls_use_os_certs": "true", "bridge_drain_rate": "100",
	"bridge_reload_type": "immediate",
}

// Every option takes its status's path: implemented ones set a field,
// warned ones add a Warning naming file, line and option, refused ones fail
// with an *Error naming file, line and the reason.
func TestEveryOptionTakesItsStatusPath(t *testing.T) {
	const head = "listener 1883\n"   // listener options then belong to it
	const section = "connection c\n" // and bridge options to this bridge
	base, bridgeBase := parse(t, head), parse(t, head+section)
	for _, o := range Options() {
		name := strings.TrimSuffix(o.Name, "*")
		if strings.HasSuffix(o.Name, "*") {
			name += "key"
		}
		t.Run(o.Name, func(t *testing.T) {
			switch o.Status {
			case Implemented:
				sample, ok := samples[o.Name]
				if !ok {
					t.Fatalf("no sample value for an implemented option")
				}
				if o.Name == "include_dir" {
					sample = t.TempDir()
					writeFile(t, sample+"/x.conf", "retain_available false\n")
				}
				before, text := base, head+name+" "+sample+"\n"
				if o.Scope == ScopeBridge && o.Name != "connection" {
					before, text = bridgeBase, head+section+name+" "+sample+"\n"
				}
				cfg := parse(t, text)
				if len(cfg.Warnings) != 0 {
					t.Errorf("warnings: %v", cfg.Warnings)
				}
				cfg.Files = before.Files
				if reflect.DeepEqual(cfg, before) != (o.Name == "tls_keyform") {
					t.Errorf("%s %s left the Config as it was", name, sample)
				}
			case Warn:
				cfg := parse(t, head+name+" 1\n")
				want := []Warning{{File: "m.conf", Line: 2, Option: name, Reason: o.Note}}
				if !reflect.DeepEqual(cfg.Warnings, want) {
					t.Errorf("warnings = %v, want %v", cfg.Warnings, want)
				}
			case Refuse:
				e := parseError(t, head+name+" 1\n")
				if e.File != "m.conf" || e.Line != 2 || e.Msg != name+": refused: "+o.Note {
					t.Errorf("error = %q", e)
				}
			}
		})
	}
	for name := range samples {
		if o, ok := Lookup(name); !ok || o.Status != Implemented {
			t.Errorf("sample for %s, which is not an implemented option", name)
		}
	}
}

func TestUnknownOption(t *testing.T) {
	e := parseError(t, "# ok\nlistener 1883\n  retain_avilable true\n")
	if e.Line != 3 || !strings.HasPrefix(e.Msg, `unknown option "retain_avilable"`) {
		t.Fatalf("error = %q", e)
	}
	// Only a '#' in the first column starts a comment, as in Mosquitto.
	if e := parseError(t, " # indented\n"); e.Line != 1 || !strings.HasPrefix(e.Msg, `unknown option "#"`) {
		t.Fatalf("error = %q", e)
	}
}

func TestRefusedPSKAndPlugin(t *testing.T) {
	for _, text := range []string{
		"connection remote\naddress 192.0.2.1:1883\nbridge_identity pi\n",
		"plugin /usr/lib/mosquitto_dynamic_security.so\nplugin_opt_config_file /etc/dynsec.json\n",
		"listener 8883\npsk_hint hint\n",
		"listener 8883\ntls_keyform engine\n",
	} {
		e := parseError(t, text)
		if !strings.Contains(e.Msg, "refused") {
			t.Errorf("Parse(%q) = %q, want a refusal", text, e)
		}
	}
}

// An unknown option names the nearest known one, and none when nothing is
// near; either way it points to the list the binary prints.
func TestUnknownOptionSuggestion(t *testing.T) {
	for _, tc := range []struct{ typo, want string }{
		{"allow_anonymus", "allow_anonymous"},
		{"alow_anonymous", "allow_anonymous"},
		{"Allow_Anonymous", "allow_anonymous"},
		{"listner", "listener"},
		{"certfle", "certfile"},
		{"keyfiel", "keyfile"},
		{"password-file", "password_file"},
		{"max_inflight_message", "max_inflight_messages"},
		{"persistance", "persistence"},
	} {
		e := parseError(t, tc.typo+" x\n")
		want := fmt.Sprintf("unknown option %q (did you mean %s? `midge broker --options` lists every option)", tc.typo, tc.want)
		if e.Msg != want {
			t.Errorf("%s:\n got  %s\n want %s", tc.typo, e.Msg, want)
		}
	}
	for _, far := range []string{"bogus_option", "xyzzy", "frobnicate_the_widgets", "qq", "-"} {
		e := parseError(t, far+" 1\n")
		want := fmt.Sprintf("unknown option %q (`midge broker --options` lists every option)", far)
		if e.Msg != want {
			t.Errorf("%s:\n got  %s\n want %s", far, e.Msg, want)
		}
	}
}
