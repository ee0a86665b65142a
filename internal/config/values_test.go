package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestPersistentClientExpiration(t *testing.T) {
	day := 24 * time.Hour
	for text, want := range map[string]time.Duration{
		"30s": 30 * time.Second, "2h": 2 * time.Hour, "1d": day, "14d": 14 * day,
		"1w": 7 * day, "1m": 30 * day, "2y": 2 * 365 * day,
	} {
		cfg := parse(t, "persistent_client_expiration "+text+"\n")
		if *cfg.PersistentClientExpiration != want {
			t.Errorf("%s = %v, want %v", text, *cfg.PersistentClientExpiration, want)
		}
	}
	const accepted = "(accepted: a whole number above 0 followed by s, h, d, w, m (30 days) or y (365 days), e.g. 14d)"
	for _, text := range []string{"0d", "-1d", "14", "d", "14x", "1.5d", "14 d", "999999999999y"} {
		e := parseError(t, "\npersistent_client_expiration "+text+"\n")
		if e.File != "m.conf" || e.Line != 2 || !strings.HasSuffix(e.Msg, accepted) {
			t.Errorf("%q: error %q", text, e)
		}
	}
}

func TestSizes(t *testing.T) {
	cfg := parse(t, "message_size_limit 268435455\nmax_packet_size 20\nmemory_limit 0\nmax_inflight_bytes -5\n"+
		"max_queued_bytes 4294967296\n")
	if *cfg.MessageSizeLimit != 268435455 || *cfg.MaxPacketSize != 20 || *cfg.MemoryLimit != 0 ||
		*cfg.MaxInflightBytes != 0 || *cfg.MaxQueuedBytes != 1<<32 {
		t.Fatalf("sizes = %d %d %d %d %d", *cfg.MessageSizeLimit, *cfg.MaxPacketSize, *cfg.MemoryLimit,
			*cfg.MaxInflightBytes, *cfg.MaxQueuedBytes)
	}
	// websockets_headers_size is accepted and ignored, whatever its value.
	for _, size := range []string{"65535", "65536", "lots"} {
		if cfg := parse(t, "websockets_headers_size "+size+"\n"); len(cfg.Warnings) != 1 || cfg.Warnings[0].Option != "websockets_headers_size" {
			t.Errorf("websockets_headers_size %s: warnings %v", size, cfg.Warnings)
		}
	}
	if cfg := parse(t, "sys_interval 0\nmax_keepalive 0\n"); *cfg.SysInterval != 0 || *cfg.MaxKeepalive != 0 {
		t.Fatalf("zero values: %v %d", *cfg.SysInterval, *cfg.MaxKeepalive)
	}
}

// A bad value is an *Error that names the file, the line, the option, the
// value and what would have been accepted.
func TestBadValues(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"message_size_limit 268435456", `message_size_limit: invalid value "268435456" (accepted: a whole number of bytes from 0 (the MQTT maximum) to 268435455)`},
		{"message_size_limit 10M", `message_size_limit: invalid value "10M" (accepted: a whole number of bytes from 0 (the MQTT maximum) to 268435455)`},
		{"max_packet_size 19", `max_packet_size: invalid value "19" (accepted: a whole number of bytes from 20 to 268435460)`},
		{"memory_limit -1", `memory_limit: invalid value "-1" (accepted: a whole number of bytes, 0 for no limit)`},
		{"max_inflight_messages 65536", `max_inflight_messages: invalid value "65536" (accepted: a whole number from 0 (unlimited) to 65535)`},
		{"max_keepalive 65536", `max_keepalive: invalid value "65536" (accepted: a whole number of seconds from 0 to 65535)`},
		{"sys_interval 10s", `sys_interval: invalid value "10s" (accepted: a whole number of seconds from 0 (no $SYS updates) to 65535)`},
		{"log_facility 8", `log_facility: invalid value "8" (accepted: 0 to 7 (syslog local0 to local7))`},
		{"log_dest console", `log_dest: invalid value "console" (accepted: stdout, stderr, syslog, topic, dlt, none, file PATH)`},
		{"log_dest file", `log_dest: file needs a path (accepted: stdout, stderr, syslog, topic, dlt, none, file PATH)`},
		{"log_type verbose", `log_type: invalid value "verbose" (accepted: error, warning, notice, information, debug, subscribe, unsubscribe, websockets, internal, all, none)`},
		{"log_type", `log_type: missing value (accepted: error, warning, notice, information, debug, subscribe, unsubscribe, websockets, internal, all, none)`},
		{"retain_available yes", `retain_available: invalid value "yes" (accepted: true, false)`},
		{"retain_available true false", `retain_available: invalid value "true false" (accepted: true, false)`},
		{"port 0", `port: invalid value "0" (accepted: 1 to 65535)`},
		{"listener 1883\nsocket_domain ipv5", `socket_domain: invalid value "ipv5" (accepted: ipv4, ipv6)`},
		{"listener 1883\nprotocol http_api", `protocol: invalid value "http_api" (accepted: mqtt, websockets)`},
		{"listener 1883\nmax_qos 3", `max_qos: invalid value "3" (accepted: 0, 1, 2)`},
		{"listener 1883\nmax_topic_alias 65536", `max_topic_alias: invalid value "65536" (accepted: a whole number from 0 to 65535)`},
		{"listener 1883\nmax_topic_alias_broker -1", `max_topic_alias_broker: invalid value "-1" (accepted: a whole number from 0 to 65535)`},
		{"listener 1883\nmount_point a/+/", `mount_point: invalid value "a/+/" (accepted: a topic prefix without the wildcards + and #)`},
		{"listener 1883\nmount_point a/#", `mount_point: invalid value "a/#" (accepted: a topic prefix without the wildcards + and #)`},
		{"listener 1883\nbind_interface eth0 eth1", `bind_interface: invalid value "eth0 eth1" (accepted: a network interface name)`},
		{"listener 1883\ntls_version tlsv1.0", `tls_version: invalid value "tlsv1.0" (accepted: tlsv1.3, tlsv1.2, tlsv1.1)`},
		{"listener 0", "listener: port 0 needs a Unix socket path (accepted: `listener PORT [ADDRESS]` with a port from 1 to 65535, or `listener 0 SOCKET-PATH`)"},
		{"listener 1883 ::1 extra", "listener: expected `listener PORT [ADDRESS]`"},
		{"listener -1", `listener: invalid port "-1" (accepted: 1 to 65535, or 0 with a Unix socket path)`},
		{"listener 1883\nhttp_dir", `http_dir: missing value (accepted: a path)`},
	} {
		text := "# first line\n" + tc.text + "\n"
		e := parseError(t, text)
		line := strings.Count(text, "\n")
		if e.File != "m.conf" || e.Line != line || !strings.HasPrefix(e.Msg, tc.want) {
			t.Errorf("%q:\n got %s\nwant m.conf:%d: %s", tc.text, e, line, tc.want)
		}
	}
}

// Mosquitto reads one word for these options and ignores a trailing
// comment; booleans also take 1 and 0.
func TestTrailingCommentAndBooleanDigits(t *testing.T) {
	cfg := parse(t, "listener 1883 # everyone\nallow_anonymous true # for now\nretain_available 0\nqueue_qos0_messages 1\n")
	if cfg.Listeners[0].Address != "" || !*cfg.AllowAnonymous || *cfg.RetainAvailable || !*cfg.QueueQoS0Messages {
		t.Fatalf("cfg = %+v", cfg)
	}
	// A path takes the rest of the line, spaces and all.
	if cfg := parse(t, "log_dest file /var/log/my midge.log\nlog_timestamp_format %Y-%m-%d %H:%M\n"); cfg.LogDests[0].Path != "/var/log/my midge.log" ||
		cfg.LogTimestampFormat != "%Y-%m-%d %H:%M" {
		t.Fatalf("cfg = %+v", cfg)
	}
}

func TestLogDestAndType(t *testing.T) {
	if cfg := parse(t, "sys_interval 1\n"); cfg.LogDests != nil || cfg.LogTypes != nil {
		t.Fatalf("unset: %v %v", cfg.LogDests, cfg.LogTypes)
	}
	cfg := parse(t, "log_dest stdout\nlog_dest syslog\nlog_dest stdout\nlog_dest dlt\nlog_type debug\nlog_type subscribe\n")
	if !reflect.DeepEqual(cfg.LogDests, []LogDest{{Kind: "stdout"}, {Kind: "syslog"}, {Kind: "dlt"}}) || *cfg.LogTypes != LogDebug|LogSubscribe {
		t.Fatalf("dests %v types %b", cfg.LogDests, *cfg.LogTypes)
	}
	// none empties the list; later lines add again.
	cfg = parse(t, "log_dest stdout\nlog_dest none\nlog_type all\nlog_type none\nlog_type error\n")
	if cfg.LogDests == nil || len(cfg.LogDests) != 0 || *cfg.LogTypes != LogError {
		t.Fatalf("dests %v types %b", cfg.LogDests, *cfg.LogTypes)
	}
	if cfg := parse(t, "log_type all\n"); !cfg.LogTypes.Has(LogAll) || !cfg.LogTypes.Has(LogWebsockets|LogInternal) {
		t.Fatalf("all = %b", *cfg.LogTypes)
	}
	e := parseError(t, "log_dest file /a.log\nlog_dest file /b.log\n")
	if e.Line != 2 || !strings.Contains(e.Msg, "a second `log_dest file`") {
		t.Fatalf("error = %q", e)
	}
}

// Options that hold one string may be given once (Mosquitto: "Duplicate
// value"); a second listener has its own; flags take the last.
func TestRepeatedOptions(t *testing.T) {
	for _, text := range []string{
		"password_file /a\npassword_file /b\n",
		"listener 8883\ncertfile /a\ncertfile /b\n",
		"auto_id_prefix a\nauto_id_prefix b\n",
		"listener 1883\nmount_point a/\nmount_point b/\n",
		"listener 1883\nbind_interface lo\nbind_interface eth0\n",
	} {
		e := parseError(t, text)
		if !strings.Contains(e.Msg, "set twice") || e.Line != strings.Count(text, "\n") {
			t.Errorf("%q: error %q", text, e)
		}
	}
	cfg := parse(t, "listener 1\ncertfile /a\nlistener 2\ncertfile /b\nallow_anonymous false\nallow_anonymous true\n")
	if cfg.Listeners[0].CertFile != "/a" || cfg.Listeners[1].CertFile != "/b" || !*cfg.AllowAnonymous {
		t.Fatalf("cfg = %+v", cfg)
	}
	// A warned option is not a string held once: each line gets its warning.
	cfg = parse(t, "websockets_log_level 1\nwebsockets_log_level 2\nuser a\nuser b\n")
	if len(cfg.Warnings) != 4 || cfg.Warnings[1].Option != "websockets_log_level" || cfg.Warnings[3].Line != 4 {
		t.Fatalf("warnings = %v", cfg.Warnings)
	}
}

func TestUnixSocketListener(t *testing.T) {
	cfg := parse(t, "listener 0 /run/midge.sock\nlistener 1883 ::\n")
	if l := cfg.Listeners[0]; !l.Unix() || l.Address != "/run/midge.sock" || cfg.Listeners[1].Unix() {
		t.Fatalf("listeners = %+v", cfg.Listeners)
	}
}
