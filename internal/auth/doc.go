// Package auth reads Mosquitto's password file and ACL file and answers the
// questions the broker asks of them: may this user name and password
// connect, and may this client read or write this topic.
//
// Both files are read whole and checked whole: a file with one bad line is
// an error naming the file and the line (a *FileError), and is never used
// in part. PasswordFile and ACLFile hold a loaded file behind an atomic
// pointer, so that Reload (on SIGHUP) swaps in a new version while checks
// run on many goroutines; a failed Reload keeps the previous version.
//
// The package imports only the standard library and topic; the broker
// declares the small interfaces it consumes, and the command line wires
// these types to them.
package auth

import "fmt"

// FileError is a problem on one line of a password or ACL file. Its text
// reads "FILE:LINE: MESSAGE", like a compiler's.
type FileError struct {
	File string // the file's name as it was given
	Line int    // 1-based
	Msg  string // what is wrong, e.g. `user "bob": hash is not $6$ or $7$`
}

// Error returns "FILE:LINE: MESSAGE".
func (e *FileError) Error() string {
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}
