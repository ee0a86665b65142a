package brokercmd

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/internal/config"
)

// `midge broker --options` lists every option of the registry, the one
// docs/configuration.md's table is generated from, each on one line with
// its status, scope and default, in the table's words.
func TestBrokerOptions(t *testing.T) {
	var out, errOut bytes.Buffer
	if status := Run(context.Background(), []string{"--options"}, Stdio{Out: &out, Err: &errOut}); status != 0 || errOut.Len() != 0 {
		t.Fatalf("status %d, stderr %q", status, errOut.String())
	}
	text := out.String()
	lines := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		name, _, _ := strings.Cut(line, " ")
		lines[name] = line
	}
	options := config.Options()
	statuses := map[string]bool{}
	for _, o := range options {
		statuses[o.Status.String()] = true
		line, ok := lines[o.Name]
		if !ok {
			t.Errorf("%s: not listed", o.Name)
			continue
		}
		// Columns are two spaces or more apart; a default may hold one.
		want := regexp.MustCompile("^" + regexp.QuoteMeta(o.Name) + " {2,}" + o.Status.String() + " {2,}" +
			regexp.QuoteMeta(o.Scope.String()) + " {2,}" + regexp.QuoteMeta(o.Default) + "( {2,}|$)")
		if !want.MatchString(line) {
			t.Errorf("%s: line %q, want status %q, scope %q, default %q", o.Name, line, o.Status, o.Scope, o.Default)
		}
		if strings.ContainsAny(line, "`") {
			t.Errorf("%s: markdown left in %q", o.Name, line)
		}
	}
	for status := range statuses {
		if !strings.Contains(text, "  "+status+":") {
			t.Errorf("the legend does not explain %q:\n%s", status, text[:strings.Index(text, "OPTION")])
		}
	}
	if len(options) < 100 || !strings.Contains(lines["memory_limit"], "see memory_limit") {
		t.Errorf("%d options; memory_limit: %q", len(options), lines["memory_limit"])
	}
}
