// Package config reads Mosquitto's configuration file format into a typed
// Config. It has no behaviour of its own: the broker command applies it.
// Every error names the file and line it comes from.
//
// Every option of mosquitto.conf(5) has one status in the registry (see
// Options): implemented (parsed into a Config field), warned about (accepted,
// ignored, reported in Config.Warnings) or refused (an *Error, because
// ignoring it would be unsafe). docs/configuration.md lists them all.
package config

import (
	"fmt"
	"io"
	"os"
	"time"
)

// Config is a parsed configuration: the main file and the files its
// include_dir lines name. A pointer field is nil, and a string empty, when no
// line sets the option; its comment gives Mosquitto's default, which the
// broker command applies.
type Config struct {
	// Listeners are the `listener` sections in the order they appear,
	// followed by the default listener when lines before any `listener` line
	// of a file call for one (see Listener.Implicit).
	Listeners []Listener

	// PerListenerSettings is per_listener_settings. When true, the security
	// options (see Security) are read into each Listener, and the broker-wide
	// fields AllowAnonymous, PasswordFile, ACLFile, AllowZeroLengthClientID and
	// AutoIDPrefix stay unset. Use SecurityFor to read them either way.
	PerListenerSettings bool

	// AllowAnonymous is nil when the file does not set allow_anonymous
	// (Mosquitto: false once any listener is configured).
	AllowAnonymous *bool
	// PasswordFile and ACLFile are password_file and acl_file; empty when
	// not set.
	PasswordFile string
	ACLFile      string
	// AllowZeroLengthClientID is allow_zero_length_clientid (default true).
	AllowZeroLengthClientID *bool
	// AutoIDPrefix is auto_id_prefix (default "auto-").
	AutoIDPrefix *string

	// MaxInflightMessages and MaxQueuedMessages are nil when not set; 0
	// means unlimited, as in Mosquitto (defaults 20 and 1000). A negative
	// value, and max_inflight_messages 65535, read as 0, as in Mosquitto.
	MaxInflightMessages *int
	MaxQueuedMessages   *int
	// MaxInflightBytes and MaxQueuedBytes are max_inflight_bytes and
	// max_queued_bytes; 0 (the default) is unlimited.
	MaxInflightBytes *int64
	MaxQueuedBytes   *int64
	// QueueQoS0Messages is queue_qos0_messages (default false).
	QueueQoS0Messages *bool
	// MessageSizeLimit is message_size_limit, the largest payload in bytes;
	// 0 (the default) is the MQTT maximum.
	MessageSizeLimit *int64
	// MaxPacketSize is max_packet_size in bytes, at least 20; nil is
	// unlimited (Mosquitto 2.0; 2.1 defaults to 2000000).
	MaxPacketSize *int64
	// MaxKeepalive is max_keepalive in seconds, 0 to 65535 (default 65535).
	MaxKeepalive *int
	// RetainAvailable is retain_available (default true).
	RetainAvailable *bool
	// UpgradeOutgoingQoS is upgrade_outgoing_qos (default false).
	UpgradeOutgoingQoS *bool
	// PersistentClientExpiration is persistent_client_expiration; nil
	// (the default) never expires persistent clients.
	PersistentClientExpiration *time.Duration
	// SetTCPNoDelay is set_tcp_nodelay (default false).
	SetTCPNoDelay *bool
	// MemoryLimit is memory_limit in bytes; 0 (the default) is no limit.
	MemoryLimit *int64
	// CheckRetainSource is check_retain_source (default true).
	CheckRetainSource *bool
	// SessionTakeoverAnyUser is session_takeover_any_user (midge only,
	// default false): true lets a client of any user take over another
	// user's session, as Mosquitto does.
	SessionTakeoverAnyUser *bool
	// Persistence is persistence (or retained_persistence); nil when not
	// set. PersistenceFile and PersistenceLocation are empty when not set.
	Persistence         *bool
	PersistenceFile     string
	PersistenceLocation string
	// AutosaveInterval is autosave_interval; nil when not set.
	AutosaveInterval *time.Duration
	// PersistenceDurability is persistence_durability (midge only): "sync",
	// "interval", or empty for the default, sync.
	PersistenceDurability string

	// SysInterval is sys_interval, whole seconds (default 10s); 0 turns
	// $SYS updates off.
	SysInterval *time.Duration
	// ClientIDPrefixes is clientid_prefixes: when set, only client ids
	// starting with it may connect.
	ClientIDPrefixes string

	// LogDests are the log_dest lines in order, without repeats. Nil when no
	// line sets log_dest (Mosquitto logs to stderr); `log_dest none` empties
	// the list but leaves it non-nil.
	LogDests []LogDest
	// LogTypes is the set of log_type lines; nil when not set (see
	// DefaultLogTypes).
	LogTypes *LogType
	// LogTimestamp is log_timestamp (default true).
	LogTimestamp *bool
	// LogTimestampFormat is log_timestamp_format, a strftime format; empty
	// logs seconds since the epoch.
	LogTimestampFormat string
	// LogFacility is log_facility, 0 to 7 for syslog's local0 to local7;
	// nil is the daemon facility.
	LogFacility *int
	// ConnectionMessages is connection_messages (default true).
	ConnectionMessages *bool

	// PIDFile is pid_file; empty writes none.
	PIDFile string

	// Bridges are the connection sections, in order (see Bridge).
	Bridges []Bridge

	// Warnings are the accepted but ignored lines, in the order read.
	Warnings []Warning
	// Files are the files read: the main file, then each included one.
	Files []string
}

// Listener is one `listener PORT [ADDRESS]` declaration with the options
// that follow it and belong to it, or the default listener.
type Listener struct {
	// Port is 1 to 65535, or 0 for a Unix socket.
	Port int
	// Address is the bind address; empty: every interface, IPv4 and IPv6.
	// For a Unix socket (Port 0) it is the socket's path.
	Address string
	File    string // where it was declared
	Line    int
	// lines records where each option of this listener was read (the
	// last line of an option given twice); see At.
	lines map[string]position
	// Implicit marks the default listener: Mosquitto makes one from the
	// deprecated port and bind_address options and from listener options
	// that come before any `listener` line of a file. Its Port defaults to
	// 1883; File and Line name the first line that configured it.
	Implicit bool

	// SocketDomain is socket_domain: "ipv4", "ipv6", or empty for both.
	SocketDomain string
	// BindInterface is bind_interface: the network interface (eth0) whose
	// addresses the listener listens on; empty for none. Mosquitto binds
	// the socket to the device; midge takes the interface's addresses as
	// they are at start-up.
	BindInterface string
	// MaxConnections is max_connections; -1 (the default) is unlimited.
	MaxConnections int
	// MaxQoS is max_qos (alias maximum_qos), 0 to 2; default 2.
	MaxQoS int
	// MaxTopicAlias is max_topic_alias, 0 to 65535: the topic aliases an
	// MQTT 5 client may use toward the broker; default 10.
	MaxTopicAlias int
	// MaxTopicAliasBroker is max_topic_alias_broker (Mosquitto 2.1), 0 to
	// 65535: the topic aliases the broker assigns on the messages it sends
	// to an MQTT 5 client that allows them; default 10.
	MaxTopicAliasBroker int
	// UseUsernameAsClientID is use_username_as_clientid.
	UseUsernameAsClientID bool
	// MountPoint is mount_point: a prefix put in front of the topics of
	// this listener's clients; empty for none. It holds no + or #.
	MountPoint string

	// Protocol is protocol: "mqtt" (also when empty) or "websockets".
	Protocol string
	// HTTPDir is http_dir: files served to plain HTTP GETs on a
	// websockets listener; empty serves none.
	HTTPDir string

	// TLS: the listener speaks TLS when CertFile or KeyFile is set.
	CAFile, CAPath        string
	CertFile, KeyFile     string
	CRLFile               string
	RequireCertificate    bool
	UseIdentityAsUsername bool
	UseSubjectAsUsername  bool
	TLSVersion            string // tls_version: tlsv1.3, tlsv1.2 or tlsv1.1; empty for the default
	Ciphers               string // ciphers, an OpenSSL cipher list
	Ciphers13             string // ciphers_tls1.3

	// The security options of this listener, set only with
	// per_listener_settings true; see Config for their meaning.
	AllowAnonymous          *bool
	PasswordFile            string
	ACLFile                 string
	AllowZeroLengthClientID *bool
	AutoIDPrefix            *string
}

// At returns the file and line that set option on this listener, or the
// listener's own line when the option was not set, so that an error found
// later, such as a certfile that cannot be read, names the line to fix.
func (l *Listener) At(option string) (file string, line int) {
	if at, ok := l.lines[option]; ok {
		return at.file, at.line
	}
	return l.File, l.Line
}

// TLS reports whether the listener is configured for TLS.
func (l *Listener) TLS() bool { return l.CertFile != "" || l.KeyFile != "" }

// Unix reports whether the listener is a Unix socket (`listener 0 PATH`);
// Address then holds the path.
func (l *Listener) Unix() bool { return l.Port == 0 }

// Security holds the options that per_listener_settings moves from the
// whole broker to each listener.
type Security struct {
	AllowAnonymous          *bool
	PasswordFile            string
	ACLFile                 string
	AllowZeroLengthClientID *bool
	AutoIDPrefix            *string
}

// SecurityFor returns the security options that apply to l: its own with
// per_listener_settings true, the broker-wide ones otherwise.
func (c *Config) SecurityFor(l *Listener) Security {
	if c.PerListenerSettings {
		return Security{l.AllowAnonymous, l.PasswordFile, l.ACLFile, l.AllowZeroLengthClientID, l.AutoIDPrefix}
	}
	return Security{c.AllowAnonymous, c.PasswordFile, c.ACLFile, c.AllowZeroLengthClientID, c.AutoIDPrefix}
}

// LogDest is one log destination.
type LogDest struct {
	// Kind is "stdout", "stderr", "syslog", "topic" ($SYS/broker/log/...),
	// "dlt" or "file".
	Kind string
	// Path is the file of a "file" destination.
	Path string
}

// LogType is a set of log_type values.
type LogType uint16

// The log_type values. "none" is the empty set.
const (
	LogError LogType = 1 << iota
	LogWarning
	LogNotice
	LogInformation
	LogDebug
	LogSubscribe
	LogUnsubscribe
	LogWebsockets
	LogInternal

	// LogAll is `log_type all`.
	LogAll = LogError | LogWarning | LogNotice | LogInformation | LogDebug |
		LogSubscribe | LogUnsubscribe | LogWebsockets | LogInternal
	// DefaultLogTypes is what Mosquitto logs when no log_type line is given.
	DefaultLogTypes = LogError | LogWarning | LogNotice | LogInformation
)

// Has reports whether t includes every type in x.
func (t LogType) Has(x LogType) bool { return t&x == x }

// Warning is a line that was accepted and ignored, with the reason.
type Warning struct {
	File   string
	Line   int
	Option string
	Reason string
}

// String formats w as FILE:LINE: OPTION: REASON.
func (w Warning) String() string {
	return fmt.Sprintf("%s:%d: %s: %s", w.File, w.Line, w.Option, w.Reason)
}

// Error is a problem at one line of a configuration file.
type Error struct {
	File string
	Line int
	Msg  string
}

// Error formats e as FILE:LINE: MESSAGE.
func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// Load reads and parses the configuration file at path, and the files its
// include_dir lines name.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	return Parse(f, path)
}

// Parse parses a configuration read from r; name is used in errors and
// warnings. Directories named by include_dir are read from the file system
// as given (relative to the working directory, as in Mosquitto).
func Parse(r io.Reader, name string) (*Config, error) {
	p := newParser()
	if err := p.parseFile(r, name, 0); err != nil {
		return nil, err
	}
	return p.finish(), nil
}
