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
		{"max_queued_messages -1\n", "m.conf:1: max_queued_messages: invalid value \"-1\""},
		{"\n\nbogus_option 1\n", "m.conf:3: unknown or not yet supported option \"bogus_option\""},
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
}
