// Package cli implements midge's subcommands. Each exported function parses
// its own arguments, does its work, and returns the process exit status; only
// cmd/midge calls os.Exit.
package cli

import "io"

// Stdio is the standard input and outputs a subcommand uses.
type Stdio struct {
	In       io.Reader
	Out, Err io.Writer
}
