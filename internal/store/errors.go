package store

import "errors"

// ErrClosed is the error of a Write after Close.
var ErrClosed = errors.New("store: closed")
