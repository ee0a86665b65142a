package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const testdata = "../../testdata/config"

func ptr[T any](v T) *T { return &v }

// Debian's stock /etc/mosquitto/mosquitto.conf (mosquitto 2.0.11) with a
// conf.d of local settings loads without error or warning. Its include_dir
// names /etc/mosquitto/conf.d; the test points it at the testdata copy.
func TestDebianStockConfig(t *testing.T) {
	stock, err := os.ReadFile(filepath.Join(testdata, "debian/mosquitto.conf"))
	if err != nil {
		t.Fatal(err)
	}
	confD, err := filepath.Abs(filepath.Join(testdata, "debian/conf.d"))
	if err != nil {
		t.Fatal(err)
	}
	const stockDir = "include_dir /etc/mosquitto/conf.d"
	if !strings.Contains(string(stock), stockDir) {
		t.Fatalf("the stock file no longer says %q", stockDir)
	}
	main := filepath.Join(t.TempDir(), "mosquitto.conf")
	writeFile(t, main, strings.Replace(string(stock), stockDir, "include_dir "+confD, 1))

	cfg, err := Load(main)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("warnings: %v", cfg.Warnings)
	}
	if cfg.Persistence == nil || !*cfg.Persistence || cfg.PersistenceLocation != "/var/lib/mosquitto/" {
		t.Errorf("persistence %v in %q, want the stock file's true in /var/lib/mosquitto/", cfg.Persistence, cfg.PersistenceLocation)
	}
	wantFiles := []string{main, filepath.Join(confD, "10-listeners.conf"), filepath.Join(confD, "20-limits.conf")}
	if !reflect.DeepEqual(cfg.Files, wantFiles) {
		t.Errorf("files = %q, want %q (README is not a .conf file)", cfg.Files, wantFiles)
	}
	if cfg.PIDFile != "/run/mosquitto/mosquitto.pid" {
		t.Errorf("stock settings: pid %q", cfg.PIDFile)
	}
	if !reflect.DeepEqual(cfg.LogDests, []LogDest{{Kind: "file", Path: "/var/log/mosquitto/mosquitto.log"}}) {
		t.Errorf("log_dest = %+v", cfg.LogDests)
	}
	if len(cfg.Listeners) != 2 || cfg.Listeners[0].Address != "127.0.0.1" || !cfg.Listeners[1].TLS() ||
		cfg.Listeners[1].File != filepath.Join(confD, "10-listeners.conf") || cfg.Listeners[1].Line != 5 {
		t.Errorf("listeners = %+v", cfg.Listeners)
	}
	if *cfg.AllowAnonymous || cfg.PasswordFile != "/etc/mosquitto/passwd" || cfg.ACLFile != "/etc/mosquitto/acl" {
		t.Errorf("security = %v %q %q", *cfg.AllowAnonymous, cfg.PasswordFile, cfg.ACLFile)
	}
	if *cfg.MaxInflightMessages != 40 || *cfg.MaxQueuedMessages != 5000 ||
		*cfg.PersistentClientExpiration != 14*24*time.Hour || *cfg.LogTypes != LogError|LogWarning {
		t.Errorf("limits from 20-limits.conf: %d %d %v %b", *cfg.MaxInflightMessages, *cfg.MaxQueuedMessages,
			*cfg.PersistentClientExpiration, *cfg.LogTypes)
	}
}

// The kitchen-sink configuration parses into exactly these values.
func TestKitchenSink(t *testing.T) {
	path := filepath.Join(testdata, "kitchensink.conf")
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	listener := func(port int, address string, line int) Listener {
		l := newListener(port, address, position{path, line})
		return l
	}
	lan := listener(1884, "192.0.2.10", 33)
	lan.SocketDomain, lan.MaxConnections, lan.MaxQoS, lan.UseUsernameAsClientID = "ipv4", 500, 1, true
	tls := listener(8883, "", 40)
	tls.CAFile, tls.CAPath, tls.CertFile, tls.KeyFile, tls.CRLFile = "/etc/midge/ca.crt", "/etc/ssl/certs",
		"/etc/midge/server.crt", "/etc/midge/server.key", "/etc/midge/crl.pem"
	tls.TLSVersion, tls.Ciphers, tls.Ciphers13 = "tlsv1.2", "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384", "TLS_AES_256_GCM_SHA384"
	tls.RequireCertificate, tls.UseIdentityAsUsername, tls.MaxTopicAlias = true, true, 20
	ws := listener(8080, "", 55)
	ws.Protocol, ws.HTTPDir = "websockets", "/usr/share/midge/www"
	wss := listener(8081, "", 58)
	wss.Protocol, wss.CertFile, wss.KeyFile, wss.UseSubjectAsUsername = "websockets", "/etc/midge/server.crt", "/etc/midge/server.key", true
	tenant := listener(1885, "", 91)
	tenant.BindInterface, tenant.MountPoint = "eth0", "tenant/a/"

	// The options midge accepts and ignores, each with its warning.
	var warnings []Warning
	for _, w := range []struct {
		line   int
		option string
	}{
		{67, "websockets_log_level"}, {68, "websockets_headers_size"}, {74, "autosave_on_changes"}, {88, "user"},
	} {
		o, _ := Lookup(w.option)
		warnings = append(warnings, Warning{File: path, Line: w.line, Option: w.option, Reason: o.Note})
	}

	types := LogError | LogWarning | LogNotice | LogSubscribe
	want := &Config{
		Listeners:                  []Listener{listener(1883, "127.0.0.1", 32), lan, tls, ws, wss, listener(0, "/run/midge/midge.sock", 65), tenant},
		AllowAnonymous:             ptr(false),
		PasswordFile:               "/etc/midge/passwd",
		ACLFile:                    "/etc/midge/acl",
		AllowZeroLengthClientID:    ptr(true),
		AutoIDPrefix:               ptr("midge-"),
		MaxInflightMessages:        ptr(100),
		MaxQueuedMessages:          ptr(10000),
		MaxInflightBytes:           ptr(int64(1048576)),
		MaxQueuedBytes:             ptr(int64(0)),
		QueueQoS0Messages:          ptr(true),
		MessageSizeLimit:           ptr(int64(262144)),
		MaxPacketSize:              ptr(int64(300000)),
		MaxKeepalive:               ptr(600),
		RetainAvailable:            ptr(true),
		UpgradeOutgoingQoS:         ptr(false),
		PersistentClientExpiration: ptr(7 * 24 * time.Hour),
		SetTCPNoDelay:              ptr(true),
		MemoryLimit:                ptr(int64(536870912)),
		CheckRetainSource:          ptr(false),
		SysInterval:                ptr(30 * time.Second),
		ClientIDPrefixes:           "sensor-",
		LogDests:                   []LogDest{{Kind: "stderr"}, {Kind: "file", Path: "/var/log/midge/midge.log"}, {Kind: "topic"}},
		LogTypes:                   &types,
		LogTimestamp:               ptr(true),
		LogTimestampFormat:         "%Y-%m-%dT%H:%M:%S",
		LogFacility:                ptr(3),
		ConnectionMessages:         ptr(true),
		PIDFile:                    "/run/midge.pid",
		Persistence:                ptr(true),
		PersistenceFile:            "midge.db",
		PersistenceLocation:        "/var/lib/midge/",
		AutosaveInterval:           ptr(5 * time.Minute),
		Warnings:                   warnings,
		Files:                      []string{path},
	}
	// Each listener knows the line of each of its options, for errors found
	// after parsing; a listener's own line stands for an option not given.
	for _, at := range []struct {
		listener int
		option   string
		line     int
	}{{2, "certfile", 43}, {2, "keyfile", 44}, {2, "crlfile", 45}, {4, "certfile", 60}, {2, "http_dir", 40}, {0, "certfile", 32}} {
		if file, line := cfg.Listeners[at.listener].At(at.option); file != path || line != at.line {
			t.Errorf("listener %d: %s at %s:%d, want line %d", at.listener, at.option, file, line, at.line)
		}
	}
	for i := range cfg.Listeners {
		cfg.Listeners[i].lines = nil
	}
	if !reflect.DeepEqual(cfg, want) {
		for i := range max(len(cfg.Listeners), len(want.Listeners)) {
			if i >= len(cfg.Listeners) || i >= len(want.Listeners) || !reflect.DeepEqual(cfg.Listeners[i], want.Listeners[i]) {
				t.Errorf("listener %d differs", i)
			}
		}
		t.Fatalf("got  %+v\nwant %+v", cfg, want)
	}
	if !cfg.Listeners[5].Unix() || cfg.Listeners[4].Unix() || !cfg.Listeners[4].TLS() {
		t.Errorf("Unix/TLS helpers wrong")
	}
	if s := cfg.SecurityFor(&cfg.Listeners[2]); s.PasswordFile != "/etc/midge/passwd" || *s.AutoIDPrefix != "midge-" {
		t.Errorf("SecurityFor = %+v", s)
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
