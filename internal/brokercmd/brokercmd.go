// Package brokercmd implements `midge broker`: Mosquitto's command line and
// mosquitto.conf turned into a running broker, with its listeners, security
// files, persistence, logging and reloads on SIGHUP. It also owns midge's
// version, which the broker logs and `midge version` prints. Like every
// subcommand it returns the process exit status; only cmd/midge calls
// os.Exit.
package brokercmd

import "io"

// Stdio is where the broker command writes: usage, --version and --options
// to Out, errors to Err, and its log to whichever of the two log_dest names.
type Stdio struct {
	Out, Err io.Writer
}
