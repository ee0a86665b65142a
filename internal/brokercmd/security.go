package brokercmd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/auth"
	"github.com/midge-mqtt/midge/internal/config"
	"github.com/midge-mqtt/midge/internal/listener"
)

// security is what the broker command loaded to decide who may connect
// and what they may do: the password and ACL files and every TLS
// listener's certificates. Reload re-reads all of them.
type security struct {
	allowAnonymous atomic.Bool
	passwords      *auth.PasswordFile // nil without password_file
	acl            *auth.ACLFile      // nil without acl_file
	tls            map[*config.Listener]*listener.TLS
	// perListener holds each listener's own files and rules under
	// per_listener_settings true; nil otherwise.
	perListener map[*config.Listener]*listenerSecurity
}

// listenerSecurity is one listener's security under per_listener_settings.
type listenerSecurity struct {
	files  *security // its password and ACL files and allow_anonymous
	broker *broker.Security
}

// loadSecurity opens the files the configuration names, for the whole
// broker and, with per_listener_settings true, for each listener. An
// unreadable or malformed file stops the start: a broker must not open
// with weaker security than its configuration asks for.
func loadSecurity(cfg *config.Config, allowAnonymous bool) (*security, error) {
	sec, err := loadFiles(cfg.PasswordFile, cfg.ACLFile)
	if err != nil {
		return nil, err
	}
	sec.allowAnonymous.Store(allowAnonymous)
	if !cfg.PerListenerSettings {
		return sec, nil
	}
	sec.perListener = make(map[*config.Listener]*listenerSecurity)
	for i := range cfg.Listeners {
		l := &cfg.Listeners[i]
		ls := cfg.SecurityFor(l)
		files, err := loadFiles(ls.PasswordFile, ls.ACLFile)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: listener %d: %w", l.File, l.Line, l.Port, err)
		}
		files.allowAnonymous.Store(ls.AllowAnonymous != nil && *ls.AllowAnonymous)
		var opts broker.Options
		files.options(&opts)
		bs := &broker.Security{Authenticator: opts.Authenticator, EnhancedAuth: opts.EnhancedAuth, Authorizer: opts.Authorizer}
		if ls.AllowZeroLengthClientID != nil {
			bs.NoEmptyClientID = !*ls.AllowZeroLengthClientID
		}
		if ls.AutoIDPrefix != nil {
			bs.AutoIDPrefix = *ls.AutoIDPrefix
		}
		sec.perListener[l] = &listenerSecurity{files: files, broker: bs}
	}
	return sec, nil
}

// loadFiles opens a password file and an ACL file; empty names none.
func loadFiles(passwordFile, aclFile string) (*security, error) {
	sec := &security{}
	var err error
	if passwordFile != "" {
		if sec.passwords, err = auth.OpenPasswordFile(passwordFile); err != nil {
			return nil, fmt.Errorf("password_file: %w", err)
		}
	}
	if aclFile != "" {
		if sec.acl, err = auth.OpenACLFile(aclFile); err != nil {
			return nil, fmt.Errorf("acl_file: %w", err)
		}
	}
	return sec, nil
}

// setAllowAnonymous changes allow_anonymous on reload.
func (sec *security) setAllowAnonymous(allow bool) { sec.allowAnonymous.Store(allow) }

// forListener is the security that decides for l's clients: its own under
// per_listener_settings, the broker's otherwise.
func (sec *security) forListener(l *config.Listener) *security {
	if ls, ok := sec.perListener[l]; ok {
		return ls.files
	}
	return sec
}

// Authenticate applies Mosquitto's rules: a client without a user name is
// admitted when allow_anonymous is true; with a password file a user name
// needs its password; without one, a user name is taken at its word when
// anonymous access is allowed.
func (sec *security) Authenticate(_ context.Context, info broker.ConnectInfo) error {
	if !info.HasUsername {
		if sec.allowAnonymous.Load() {
			return nil
		}
		return broker.ErrNotAuthorized
	}
	if sec.passwords == nil {
		if sec.allowAnonymous.Load() {
			return nil
		}
		return broker.ErrNotAuthorized
	}
	// A missing password never matches, as in Mosquitto; Check still
	// costs a hash so the answer takes the same time.
	ok := sec.passwords.Check(info.Username, info.Password)
	if !ok || !info.HasPassword {
		return broker.ErrBadCredentials
	}
	return nil
}

// options fills in the broker options that enforce the loaded files.
func (sec *security) options(opts *broker.Options) {
	opts.Authenticator = sec
	if sec.passwords != nil {
		// MQTT 5 clients may prove their password with SCRAM-SHA-512
		// instead of sending it; the $7$ entries are all it needs.
		opts.EnhancedAuth = scramMethod{auth.NewSCRAM(sec.passwords.Passwords)}
	}
	if sec.acl != nil {
		acl := sec.acl
		opts.Authorizer = broker.AuthorizerFunc(func(info broker.ConnectInfo) broker.TopicAccess {
			return acl.ForClient(info.ClientID, info.Username, info.HasUsername)
		})
	}
}

// listenerTLS loads a listener's TLS configuration; nil for a plain one.
func (sec *security) listenerTLS(l *config.Listener, log *slog.Logger) (*listener.TLS, error) {
	if l == nil || !l.TLS() {
		return nil, nil
	}
	if t, ok := sec.tls[l]; ok { // the IPv4 and IPv6 sockets of one listener
		return t, nil
	}
	t, err := listener.NewTLS(listener.TLSOptions{
		CAFile: l.CAFile, CAPath: l.CAPath, CertFile: l.CertFile, KeyFile: l.KeyFile, CRLFile: l.CRLFile,
		RequireCertificate: l.RequireCertificate, Version: l.TLSVersion, Ciphers: l.Ciphers, Ciphers13: l.Ciphers13,
		UseIdentityAsUsername: l.UseIdentityAsUsername, UseSubjectAsUsername: l.UseSubjectAsUsername,
	})
	if err != nil {
		return nil, listenerError(l, err)
	}
	for _, w := range t.Warnings() {
		log.Warn(fmt.Sprintf("%s:%d: listener %d: %s", l.File, l.Line, l.Port, w))
	}
	if (l.UseIdentityAsUsername || l.UseSubjectAsUsername) && !l.RequireCertificate {
		log.Warn(fmt.Sprintf("%s:%d: listener %d: use_identity_as_username or use_subject_as_username without "+
			"require_certificate true: clients are not asked for a certificate, so every client will be refused", l.File, l.Line, l.Port))
	}
	if sec.tls == nil {
		sec.tls = make(map[*config.Listener]*listener.TLS)
	}
	sec.tls[l] = t
	return t, nil
}

// listenerOptions returns the broker's per-listener options for l.
func (sec *security) listenerOptions(l *config.Listener, t *listener.TLS) broker.ListenerOptions {
	var lo broker.ListenerOptions
	if l == nil {
		return lo
	}
	if ls, ok := sec.perListener[l]; ok {
		lo.Security = ls.broker
	}
	lo.MaxConnections = l.MaxConnections
	if l.MaxQoS < 2 {
		lo.LimitQoS, lo.MaxQoS = true, byte(max(l.MaxQoS, 0))
	}
	lo.UseUsernameAsClientID = l.UseUsernameAsClientID
	lo.MountPoint = l.MountPoint
	if t != nil && (l.UseIdentityAsUsername || l.UseSubjectAsUsername) {
		lo.CertUsername = t.Username
	}
	return lo
}

// wrapTLS makes ln a TLS listener when t is set. The handshake happens
// when the broker first reads, within its CONNECT timeout.
func wrapTLS(ln net.Listener, t *listener.TLS) net.Listener {
	if t == nil {
		return ln
	}
	return tls.NewListener(ln, t.Config())
}

// reload re-reads the password file, the ACL file and every TLS listener's
// certificates, as Mosquitto does on SIGHUP. Connections stay up. A file
// that fails to load leaves the previous one in force and is logged.
func (sec *security) reload(log *slog.Logger) {
	sec.reloadFiles(log)
	for _, ls := range sec.perListener {
		ls.files.reloadFiles(log)
	}
	for l, t := range sec.tls {
		if err := t.Reload(); err != nil {
			log.Error(fmt.Sprintf("Reload: %v; listener %d keeps its previous TLS certificates.", listenerError(l, err), l.Port))
		}
	}
}

// reloadFiles re-reads the password and ACL files.
func (sec *security) reloadFiles(log *slog.Logger) {
	if sec.passwords != nil {
		if err := sec.passwords.Reload(); err != nil {
			log.Error(fmt.Sprintf("Error: %v; the previous password file stays in force.", err))
		} else {
			log.Info("Password file reloaded from " + sec.passwords.Path() + ".")
		}
	}
	if sec.acl != nil {
		if err := sec.acl.Reload(); err != nil {
			log.Error(fmt.Sprintf("Error: %v; the previous ACL file stays in force.", err))
		} else {
			log.Info("ACL file reloaded from " + sec.acl.Path() + ".")
		}
	}
}

// scramMethod offers SCRAM-SHA-512 to the broker.
type scramMethod struct{ scram *auth.SCRAM }

func (m scramMethod) Start(method string, _ broker.ConnectInfo) (broker.AuthExchange, bool) {
	if method != auth.SCRAMMethod {
		return nil, false
	}
	return m.scram.NewExchange(), true
}

// listenerError places err, found after parsing, at the line to fix: the
// option's when the listener package names one (certfile, keyfile,
// cafile...), else the listener's own.
func listenerError(l *config.Listener, err error) error {
	var oe *listener.OptionError
	if errors.As(err, &oe) {
		file, line := l.At(oe.Option)
		return fmt.Errorf("%s:%d: %w", file, line, err)
	}
	return fmt.Errorf("%s:%d: listener %d: %w", l.File, l.Line, l.Port, err)
}
