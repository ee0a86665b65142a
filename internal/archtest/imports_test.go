// Package archtest holds the test that keeps package dependencies pointing
// the way docs/architecture.md draws them.
package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/midge-mqtt/midge/"

// allowed lists, for each package, the module packages it may depend on
// (directly or not). The standard library is always allowed; third-party
// modules are listed by path prefix.
var allowed = map[string][]string{
	"packets":                {},
	"topic":                  {},
	"internal/config":        {},
	"internal/logging":       {},
	"internal/store":         pebble,
	"internal/listener":      {"github.com/gorilla/websocket"},
	"internal/auth":          {"topic"},
	"internal/mosquittotest": {},
	"client":                 {"packets", "topic"},
	"internal/bench":         {"packets", "topic"},
	"internal/brokertest":    {"broker", "packets", "topic", "internal/store"},
	"broker":                 {"packets", "topic", "internal/store"},
	// Bridges run on the client package and the broker's sessions.
	"internal/bridge": {"broker", "client", "packets", "topic"},
	// The client tools never depend on the broker, nor the broker command
	// on them.
	"internal/cli": {"client", "packets", "topic", "internal/auth", "internal/bench", "internal/listener",
		"github.com/gorilla/websocket", "golang.org/x/net"},
	// Bridges' OCSP check (bridge_require_ocsp) uses x/crypto's ocsp.
	"internal/brokercmd": append([]string{"broker", "client", "packets", "topic", "internal/store", "internal/auth",
		"internal/bridge", "internal/config", "internal/listener", "internal/logging", "github.com/gorilla/websocket",
		"golang.org/x/crypto"}, pebble...),
	// The commands on top may use anything below them.
	"cmd/midge":     everything,
	"bench/compare": everything,
	"bench/bridge":  everything,
	// Measures embedded NATS for the clustering design (docs/clustering.md).
	"bench/clusterprobe": nats,
	// Tests only, with no package code: nothing to check.
	"interop":           {},
	"internal/archtest": {},
}

// everything is what a command may depend on: every package of the module
// but the tests' own, and the libraries those bring.
var everything = append([]string{"broker", "client", "packets", "topic", "internal/auth", "internal/bench", "internal/bridge",
	"internal/brokercmd", "internal/cli", "internal/config", "internal/listener", "internal/logging",
	"internal/store", "github.com/gorilla/websocket", "golang.org/x/crypto", "golang.org/x/net"}, pebble...)

// nats is nats-server, embedded for clustering, and its client, with what
// they bring along.
var nats = []string{"github.com/nats-io", "github.com/klauspost/compress", "github.com/minio/highwayhash",
	"github.com/google/go-tpm", "github.com/antithesishq", "golang.org/x/crypto", "golang.org/x/sys", "golang.org/x/time"}

// pebble is the store's one job-specific library (docs/persistence.md says
// why) with what it brings along.
var pebble = []string{
	"github.com/cockroachdb", "github.com/DataDog/zstd", "github.com/RaduBerinde", "github.com/beorn7/perks",
	"github.com/cespare/xxhash", "github.com/getsentry/sentry-go", "github.com/gogo/protobuf",
	"github.com/golang/protobuf", "github.com/golang/snappy", "github.com/klauspost/compress", "github.com/kr",
	"github.com/matttproud/golang_protobuf_extensions", "github.com/minio/minlz", "github.com/pkg/errors",
	"github.com/prometheus", "github.com/rogpeppe/go-internal", "golang.org/x/exp", "golang.org/x/sys",
	"golang.org/x/text", "google.golang.org/protobuf",
}

// Every package of the module is listed in allowed: a new one says what it
// may depend on before it lands.
func TestEveryPackageListed(t *testing.T) {
	out, err := exec.Command("go", "list", module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if _, ok := allowed[strings.TrimPrefix(pkg, module)]; !ok {
			t.Errorf("%s is not in archtest's allowed list: add it with what it may depend on", pkg)
		}
	}
}

func TestImportDirection(t *testing.T) {
	for pkg, ok := range allowed {
		out, err := exec.Command("go", "list", "-deps", module+pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if dep == module+pkg {
				continue
			}
			if rest, ours := strings.CutPrefix(dep, module); ours {
				if !contains(ok, rest) {
					t.Errorf("%s depends on %s; docs/architecture.md does not allow it", pkg, rest)
				}
				continue
			}
			if strings.Contains(strings.SplitN(dep, "/", 2)[0], ".") && !hasPrefix(ok, dep) {
				t.Errorf("%s depends on third-party %s; only the standard library is allowed", pkg, dep)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// hasPrefix reports whether dep is one of the third-party modules in list
// or a package inside one.
func hasPrefix(list []string, dep string) bool {
	for _, x := range list {
		if dep == x || strings.HasPrefix(dep, strings.TrimSuffix(x, "/")+"/") {
			return true
		}
	}
	return false
}
