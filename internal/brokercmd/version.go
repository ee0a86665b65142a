package brokercmd

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is midge's version, reported by `midge version`, the broker's
// log and $SYS/broker/version. A release build sets it with
// -ldflags "-X github.com/midge-mqtt/midge/internal/brokercmd.Version=1.2.3".
var Version = "0.1.0"

// VersionLine is what `midge version` prints: the version, the commit it
// was built from (with "+modified" when the tree had uncommitted changes)
// where the build recorded one, the Go version, and the platform.
func VersionLine() string {
	return versionLine(Version, readBuildInfo())
}

func readBuildInfo() *debug.BuildInfo {
	info, _ := debug.ReadBuildInfo()
	return info
}

func versionLine(version string, info *debug.BuildInfo) string {
	commit := "unknown"
	goVersion := runtime.Version()
	if info != nil {
		if info.GoVersion != "" {
			goVersion = info.GoVersion
		}
		var revision string
		var modified bool
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if revision != "" {
			commit = revision[:min(len(revision), 12)]
			if modified {
				commit += "+modified"
			}
		}
	}
	return fmt.Sprintf("midge %s (commit %s, %s, %s/%s)", version, commit, goVersion, runtime.GOOS, runtime.GOARCH)
}

// PrintVersion runs `midge version` (and `midge --version`).
func PrintVersion(stdio Stdio) int {
	fmt.Fprintln(stdio.Out, VersionLine())
	return 0
}
