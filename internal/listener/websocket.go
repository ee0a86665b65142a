package listener

import (
	"crypto/tls"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// WebSocket defaults, used where WebSocketOptions leaves a field zero.
const (
	// DefaultWebSocketHandshakeTimeout bounds the TLS handshake, the HTTP
	// request headers and the WebSocket upgrade of one connection.
	DefaultWebSocketHandshakeTimeout = 10 * time.Second
	// DefaultWebSocketMaxHeaderBytes bounds the HTTP request headers.
	DefaultWebSocketMaxHeaderBytes = 16 << 10
	// webSocketFileTimeout bounds the answer to one plain HTTP request
	// (an http_dir file).
	webSocketFileTimeout = time.Minute
	// closeFrameTimeout bounds the close frame that Close sends.
	closeFrameTimeout = time.Second
)

// webSocketSubprotocols are the subprotocols a client may ask for, in the
// server's order of preference: "mqtt" [MQTT-6.0.0-3], [MQTT-6.0.0-4], and
// "mqttv3.1", which Mosquitto accepts for old MQTT 3.1 clients.
var webSocketSubprotocols = []string{"mqtt", "mqttv3.1"}

// ErrWebSocketTextFrame is the read error of a connection whose peer sent a
// text message: MQTT travels in binary messages only [MQTT-6.0.0-1].
var ErrWebSocketTextFrame = errors.New("listener: WebSocket text message received; MQTT needs binary messages [MQTT-6.0.0-1]")

// WebSocketOptions are a WebSocket listener's options.
type WebSocketOptions struct {
	// HTTPDir is http_dir: a directory whose files are served to plain
	// HTTP GET and HEAD requests, as Mosquitto does. Symbolic links may
	// not lead out of it and directories are not listed. Empty serves
	// nothing: a plain HTTP request gets 426 Upgrade Required.
	HTTPDir string
	// HandshakeTimeout bounds a connection from its first byte to the end
	// of the WebSocket upgrade, TLS handshake included; zero means
	// DefaultWebSocketHandshakeTimeout.
	HandshakeTimeout time.Duration
	// MaxHeaderBytes bounds the HTTP request headers (a larger request
	// gets 431); zero means DefaultWebSocketMaxHeaderBytes.
	MaxHeaderBytes int
	// Logger receives the HTTP server's errors (failed TLS handshakes,
	// for one), marked log_type websockets; nil discards them.
	Logger *slog.Logger
}

// webSocketListener serves HTTP on an inner listener and hands each
// upgraded connection to Accept.
type webSocketListener struct {
	inner    net.Listener
	server   *http.Server
	upgrader websocket.Upgrader
	files    http.Handler // nil without HTTPDir
	root     *os.Root     // HTTPDir, nil without it

	conns     chan net.Conn // upgraded connections, handed to Accept
	done      chan struct{} // closed by Close
	served    chan struct{} // closed when server.Serve returns
	serveErr  error         // why server.Serve returned; read after served is closed
	closeOnce sync.Once

	mu       sync.Mutex
	closed   bool           // guarded by mu
	handlers sync.WaitGroup // running ServeHTTP calls; Add guarded by mu
}

// WebSocket returns a listener that speaks HTTP on inner and whose Accept
// returns one net.Conn per connection upgraded to WebSocket with the
// subprotocol "mqtt" or "mqttv3.1" (or none named). The connection carries
// the binary messages as one byte stream: an MQTT packet may span messages
// and a message may hold several packets. For wss, inner is a
// tls.NewListener. Plain HTTP requests get the files of opts.HTTPDir or an
// HTTP error, and are never returned by Accept. Close closes inner and
// every connection not yet accepted.
func WebSocket(inner net.Listener, opts WebSocketOptions) (net.Listener, error) {
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = DefaultWebSocketHandshakeTimeout
	}
	if opts.MaxHeaderBytes <= 0 {
		opts.MaxHeaderBytes = DefaultWebSocketMaxHeaderBytes
	}
	l := &webSocketListener{
		inner: inner,
		upgrader: websocket.Upgrader{
			HandshakeTimeout: opts.HandshakeTimeout,
			Subprotocols:     webSocketSubprotocols,
			// Any origin, as Mosquitto: MQTT clients bring their own
			// credentials in CONNECT, not the browser's cookies.
			CheckOrigin:     func(*http.Request) bool { return true },
			WriteBufferPool: &sync.Pool{},
		},
		conns:  make(chan net.Conn),
		done:   make(chan struct{}),
		served: make(chan struct{}),
	}
	if opts.HTTPDir != "" {
		root, err := os.OpenRoot(opts.HTTPDir)
		if err != nil {
			return nil, optionErr("http_dir", opts.HTTPDir, err)
		}
		l.root = root
		l.files = http.FileServerFS(noListing{root.FS()})
	}
	errorLog := slog.New(slog.DiscardHandler)
	if opts.Logger != nil {
		// Marked as Mosquitto's log_type websockets, which midge's log
		// settings filter on (the broker's convention, see broker/log.go).
		errorLog = opts.Logger.With("log_type", "websockets")
	}
	l.server = &http.Server{
		Handler:           l,
		ReadHeaderTimeout: opts.HandshakeTimeout, // also bounds the TLS handshake
		WriteTimeout:      webSocketFileTimeout,
		IdleTimeout:       opts.HandshakeTimeout,
		MaxHeaderBytes:    opts.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(errorLog.Handler(), slog.LevelInfo),
		// HTTP/1.1 only: a WebSocket upgrade needs it.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	go func() {
		defer close(l.served)
		l.serveErr = l.server.Serve(plainMQTTRefuser{inner})
	}()
	return l, nil
}

// Accept waits for the next upgraded connection. After Close it returns
// net.ErrClosed; when the inner listener fails, its error.
func (l *webSocketListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-l.served:
		if errors.Is(l.serveErr, http.ErrServerClosed) {
			return nil, net.ErrClosed
		}
		return nil, l.serveErr
	}
}

// Close stops listening, closes the connections being upgraded or waiting
// for Accept and the plain HTTP ones, and waits for the goroutines of the
// listener to end. Connections already accepted stay open.
func (l *webSocketListener) Close() error {
	err := net.ErrClosed
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closed = true
		l.mu.Unlock()
		close(l.done)
		err = l.server.Close() // closes inner
		<-l.served
		l.handlers.Wait()
		if l.root != nil {
			l.root.Close()
		}
	})
	return err
}

// Addr is the inner listener's address.
func (l *webSocketListener) Addr() net.Addr { return l.inner.Addr() }

// ServeHTTP upgrades a WebSocket request and hands the connection to
// Accept; it serves http_dir files, or an HTTP error, to any other request.
func (l *webSocketListener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	l.handlers.Add(1)
	l.mu.Unlock()
	defer l.handlers.Done()

	if !websocket.IsWebSocketUpgrade(r) {
		l.servePlain(w, r)
		return
	}
	if offered := websocket.Subprotocols(r); len(offered) > 0 && !offersAny(offered, webSocketSubprotocols) {
		http.Error(w, "unsupported WebSocket subprotocol: this server speaks mqtt", http.StatusBadRequest)
		return
	}
	ws, err := l.upgrader.Upgrade(w, r, nil) // writes the HTTP error itself
	if err != nil {
		return
	}
	// The broker sets its own deadlines from here (CONNECT timeout,
	// keepalive); the HTTP server's are for the request.
	ws.NetConn().SetDeadline(time.Time{})
	c := newWebSocketConn(ws)
	select {
	case l.conns <- c:
	case <-l.done:
		ws.Close()
	}
}

// servePlain answers a request that is not a WebSocket upgrade.
func (l *webSocketListener) servePlain(w http.ResponseWriter, r *http.Request) {
	if l.files == nil {
		w.Header().Set("Upgrade", "websocket")
		http.Error(w, "this port speaks MQTT over WebSocket", http.StatusUpgradeRequired)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	l.files.ServeHTTP(w, r)
}

// offersAny reports whether the client's list holds one of ours.
func offersAny(offered, ours []string) bool {
	for _, o := range offered {
		for _, s := range ours {
			if o == s {
				return true
			}
		}
	}
	return false
}

// noListing serves a directory only through its index.html, so http_dir
// does not list its contents.
type noListing struct{ fsys fs.FS }

func (n noListing) Open(name string) (fs.File, error) {
	f, err := n.fsys.Open(name)
	if err != nil {
		return nil, err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if info.IsDir() {
		index, err := n.fsys.Open(path.Join(name, "index.html"))
		if err != nil {
			f.Close()
			return nil, fs.ErrNotExist
		}
		index.Close()
	}
	return f, nil
}

// webSocketConn is a WebSocket connection as a net.Conn: Read returns the
// bytes of the binary messages received, one after another, and each Write
// sends one binary message. It is safe for concurrent use.
type webSocketConn struct {
	ws *websocket.Conn

	readMu  sync.Mutex
	message io.Reader // the message being read; guarded by readMu
	readErr error     // sticky: the read side's end; guarded by readMu

	writeMu       sync.Mutex
	writeDeadline atomic.Pointer[time.Time] // applied by the next Write
	closed        atomic.Bool
	closeOnce     sync.Once
}

func newWebSocketConn(ws *websocket.Conn) *webSocketConn {
	c := &webSocketConn{ws: ws}
	c.writeDeadline.Store(&time.Time{})
	return c
}

// Read reads from the current binary message, moving on to the next one
// when it ends. A text message ends the connection [MQTT-6.0.0-1]; the
// peer's close frame reads as io.EOF.
func (c *webSocketConn) Read(p []byte) (int, error) {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	if len(p) == 0 {
		return 0, c.readErr
	}
	for c.readErr == nil {
		if c.message == nil {
			kind, message, err := c.ws.NextReader()
			if err != nil {
				c.readErr = readError(err)
				break
			}
			if kind != websocket.BinaryMessage {
				c.readErr = ErrWebSocketTextFrame
				c.sendClose(websocket.CloseUnsupportedData, "MQTT needs binary messages")
				break
			}
			c.message = message
		}
		n, err := c.message.Read(p)
		if err == io.EOF {
			c.message = nil
			err = nil
		}
		if err != nil {
			c.readErr = readError(err)
		}
		if n > 0 {
			return n, nil
		}
	}
	return 0, c.readErr
}

// readError turns the peer's close, with a close frame or without (1006),
// into io.EOF, as a TCP connection reads it. Gorilla must not
// be read again after any error, so the caller keeps it.
func readError(err error) error {
	if websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway,
		websocket.CloseNoStatusReceived, websocket.CloseAbnormalClosure) {
		return io.EOF
	}
	return err
}

// Write sends p as one binary message.
func (c *webSocketConn) Write(p []byte) (int, error) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if c.closed.Load() {
		return 0, net.ErrClosed
	}
	c.ws.SetWriteDeadline(*c.writeDeadline.Load())
	if err := c.ws.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close sends a close frame, unless a Write is blocked, and closes the
// connection.
func (c *webSocketConn) Close() error {
	err := net.ErrClosed
	c.closeOnce.Do(func() {
		if c.writeMu.TryLock() {
			c.closed.Store(true)
			c.ws.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(closeFrameTimeout))
			c.writeMu.Unlock()
		}
		c.closed.Store(true)
		err = c.ws.Close()
	})
	return err
}

// sendClose sends a close frame with code and reason, best effort.
func (c *webSocketConn) sendClose(code int, reason string) {
	c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(closeFrameTimeout))
}

// LocalAddr is the local address of the underlying connection.
func (c *webSocketConn) LocalAddr() net.Addr { return c.ws.LocalAddr() }

// RemoteAddr is the peer's address: the TCP peer, not a header a proxy
// may set.
func (c *webSocketConn) RemoteAddr() net.Addr { return c.ws.RemoteAddr() }

// SetDeadline sets both deadlines.
func (c *webSocketConn) SetDeadline(t time.Time) error {
	c.SetWriteDeadline(t)
	return c.SetReadDeadline(t)
}

// SetReadDeadline bounds Read, a Read in progress included.
func (c *webSocketConn) SetReadDeadline(t time.Time) error { return c.ws.SetReadDeadline(t) }

// SetWriteDeadline bounds Write, a Write in progress included.
func (c *webSocketConn) SetWriteDeadline(t time.Time) error {
	c.writeDeadline.Store(&t)
	return c.ws.NetConn().SetWriteDeadline(t)
}

// TLSConnectionState is the TLS state of a wss connection; ok is false
// for plain ws.
func (c *webSocketConn) TLSConnectionState() (state tls.ConnectionState, ok bool) {
	if tc, isTLS := c.ws.NetConn().(*tls.Conn); isTLS {
		return tc.ConnectionState(), true
	}
	return tls.ConnectionState{}, false
}
