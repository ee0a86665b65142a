// Package cli implements midge's client tools: pub, sub, rr, passwd, cert
// and bench. Each exported function parses its own arguments, does its
// work, and returns the process exit status; only cmd/midge calls os.Exit.
// The broker command is internal/brokercmd.
package cli

import "io"

// Stdio is the standard input and outputs a subcommand uses.
type Stdio struct {
	In       io.Reader
	Out, Err io.Writer
}
