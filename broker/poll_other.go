//go:build !linux

package broker

import (
	"errors"
	"net"
	"syscall"
)

// poller is the event-driven reader of idle connections; this platform
// has none, so every connection keeps a reading goroutine.
type poller struct{}

var errWouldBlock = errors.New("broker: no data available")

const pollingSupported = false

func newPoller(*Server) (*poller, error) { return nil, errors.ErrUnsupported }

func pollable(net.Conn) (syscall.RawConn, int32, bool) { return nil, 0, false }

func (p *poller) arm(*conn) error { return errors.ErrUnsupported }

func (p *poller) forget(*conn) {}

func (p *poller) run(<-chan struct{}) {}

type rawSource struct{ rc syscall.RawConn }

func (r rawSource) Read([]byte) (int, error) { return 0, errors.ErrUnsupported }
