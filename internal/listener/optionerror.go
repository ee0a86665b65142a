package listener

import (
	"errors"
	"fmt"
	"io/fs"
)

// OptionError is a listener option whose value cannot be used: a file
// that cannot be read or holds nothing usable, or a value out of range.
// Option is the mosquitto.conf option at fault (certfile, keyfile, cafile,
// capath, crlfile, tls_version, ciphers, http_dir), so that the caller can
// name the line that set it.
type OptionError struct {
	Option string
	Err    error
}

func (e *OptionError) Error() string { return e.Err.Error() }
func (e *OptionError) Unwrap() error { return e.Err }

// optionErr returns an OptionError reading "OPTION VALUE: reason". For a
// file that cannot be opened the reason is the system's, without the path
// a second time ("certfile /x.crt: no such file or directory").
func optionErr(option, value string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == value {
		err = pe.Err
	}
	return &OptionError{Option: option, Err: fmt.Errorf("%s %s: %w", option, value, err)}
}

// optionErrf returns an OptionError with a message of its own.
func optionErrf(option, format string, args ...any) error {
	return &OptionError{Option: option, Err: fmt.Errorf(format, args...)}
}
