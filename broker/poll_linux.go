//go:build linux

package broker

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
)

// poller watches idle plain-TCP connections with epoll, so that a
// connection waiting for its next packet holds no goroutine and no read
// buffer. When one becomes readable the poller starts a goroutine that
// reads and dispatches everything available, then re-arms the connection
// (EPOLLONESHOT: one reader at a time per connection).
type poller struct {
	s    *Server
	epfd int

	mu    sync.Mutex
	conns map[int32]*conn // guarded by mu; registered connections by fd
}

// errWouldBlock is returned by a pollable connection's source when the
// socket has no more bytes for now.
var errWouldBlock = errors.New("broker: no data available")

const pollEvents = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

func newPoller(s *Server) (*poller, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	return &poller{s: s, epfd: fd, conns: make(map[int32]*conn)}, nil
}

// pollable reports whether nc can be served by the poller, and returns the
// raw connection to read from.
func pollable(nc net.Conn) (syscall.RawConn, int32, bool) {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nil, 0, false
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil, 0, false
	}
	var fd int32 = -1
	rc.Control(func(f uintptr) { fd = int32(f) })
	return rc, fd, fd >= 0
}

// arm waits for c's socket to become readable again.
func (p *poller) arm(c *conn) error {
	ev := syscall.EpollEvent{Events: pollEvents, Fd: c.fd}
	if c.registered {
		return syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_MOD, int(c.fd), &ev)
	}
	p.mu.Lock()
	p.conns[c.fd] = c
	p.mu.Unlock()
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, int(c.fd), &ev); err != nil {
		p.mu.Lock()
		delete(p.conns, c.fd)
		p.mu.Unlock()
		return err
	}
	c.registered = true
	return nil
}

// forget stops watching c; called before its socket is closed.
func (p *poller) forget(c *conn) {
	if !c.registered {
		return
	}
	syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, int(c.fd), nil)
	p.mu.Lock()
	if p.conns[c.fd] == c {
		delete(p.conns, c.fd)
	}
	p.mu.Unlock()
}

// run waits for events until done is closed.
func (p *poller) run(done <-chan struct{}) {
	defer syscall.Close(p.epfd)
	events := make([]syscall.EpollEvent, 128)
	for {
		select {
		case <-done:
			return
		default:
		}
		n, err := syscall.EpollWait(p.epfd, events, 200)
		if err != nil {
			if err == syscall.EINTR {
				continue
			}
			p.s.log.Error(fmt.Sprintf("epoll_wait failed (%v): idle connections are no longer read.", err))
			return
		}
		for i := 0; i < n; i++ {
			p.mu.Lock()
			c := p.conns[events[i].Fd]
			p.mu.Unlock()
			if c != nil && c.onReadable() {
				p.s.spawn(c.readReady)
			}
		}
	}
}

// rawSource reads a pollable connection without blocking.
type rawSource struct {
	rc syscall.RawConn
}

func (r rawSource) Read(b []byte) (int, error) {
	var n int
	var errno error
	err := r.rc.Read(func(fd uintptr) bool {
		for {
			n, errno = syscall.Read(int(fd), b)
			if errno != syscall.EINTR {
				return true // never wait: the poller does the waiting
			}
		}
	})
	switch {
	case err != nil:
		return 0, err
	case errno == syscall.EAGAIN:
		return 0, errWouldBlock
	case errno != nil:
		return 0, errno
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// pollingSupported is true where the poller exists.
const pollingSupported = true
