//go:build !linux

package cli

import (
	"io"
	"os"
)

// disableEcho reports that echo cannot be turned off here: the password is
// read as a line, and shows as it is typed.
func disableEcho(io.Reader) (restore func(), ok bool) { return nil, false }

// keepOwner does nothing here: the new file has the default owner.
func keepOwner(*os.File, os.FileInfo) {}
