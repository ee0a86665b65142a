package brokercmd

import (
	"bytes"
	"context"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionLine(t *testing.T) {
	platform := runtime.GOOS + "/" + runtime.GOARCH
	for _, tc := range []struct {
		name string
		info *debug.BuildInfo
		want string
	}{
		{"no build information", nil, "midge 1.2.3 (commit unknown, " + runtime.Version() + ", " + platform + ")"},
		{"a clean commit", &debug.BuildInfo{GoVersion: "go1.99.1", Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "f56454f38113175caa93bfae5dc8775317d93854"}, {Key: "vcs.modified", Value: "false"}}},
			"midge 1.2.3 (commit f56454f38113, go1.99.1, " + platform + ")"},
		{"uncommitted changes", &debug.BuildInfo{GoVersion: "go1.99.1", Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "f56454f38113175caa93bfae5dc8775317d93854"}, {Key: "vcs.modified", Value: "true"}}},
			"midge 1.2.3 (commit f56454f38113+modified, go1.99.1, " + platform + ")"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := versionLine("1.2.3", tc.info); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

// `midge broker --version` and `midge version` print one line on stdout;
// `midge broker --help` prints its usage on stdout and exits 0, as the
// other commands' --help does, while a usage error goes to stderr with
// exit status 3.
func TestBrokerVersionAndHelp(t *testing.T) {
	line := regexp.MustCompile(`^midge \S+ \(commit \S+, go\S+, \S+/\S+\)\n$`)
	for name, run := range map[string]func(Stdio) int{
		"midge version":          PrintVersion,
		"midge broker --version": func(s Stdio) int { return Run(context.Background(), []string{"--version"}, s) },
	} {
		var out, errOut bytes.Buffer
		if status := run(Stdio{Out: &out, Err: &errOut}); status != 0 || !line.MatchString(out.String()) || errOut.Len() != 0 {
			t.Errorf("%s: status %d, stdout %q, stderr %q", name, status, out.String(), errOut.String())
		}
	}

	for _, args := range [][]string{{"--help"}, {"-h"}} {
		var out, errOut bytes.Buffer
		status := Run(context.Background(), args, Stdio{Out: &out, Err: &errOut})
		if status != 0 || !strings.HasPrefix(out.String(), "midge broker:") || errOut.Len() != 0 {
			t.Errorf("broker %v: status %d, stdout %.40q, stderr %.80q; want the usage on stdout, status 0", args, status, out.String(), errOut.String())
		}
	}

	var out, errOut bytes.Buffer
	status := Run(context.Background(), []string{"--no-such-flag"}, Stdio{Out: &out, Err: &errOut})
	if status != 3 || out.Len() != 0 || !strings.Contains(errOut.String(), "no-such-flag") || !strings.Contains(errOut.String(), "Usage: midge broker") {
		t.Errorf("unknown flag: status %d, stdout %q, stderr %.120q; want status 3 and the error with the usage on stderr", status, out.String(), errOut.String())
	}
}
