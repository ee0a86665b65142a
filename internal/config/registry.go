package config

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Reasons shared by several options.
const (
	reasonBridgePSK = "TLS-PSK is not supported (Go's crypto/tls has no pre-shared-key cipher suites); " +
		"a bridge without it would fail to connect, or connect unencrypted"
	reasonPlugin = "midge cannot load Mosquitto plugins (C shared objects); starting without the plugin's " +
		"checks could leave the broker open"
	reasonPSK = "TLS-PSK is not supported (Go's crypto/tls has no pre-shared-key cipher suites); " +
		"ignoring it could serve the listener unencrypted"
	reasonProxy = "the PROXY protocol is not supported yet; the listener would read the PROXY header as MQTT " +
		"and log the proxy's address for every client"
	reasonEngine = "OpenSSL engines (keys in a TPM or HSM) cannot be loaded; give a PEM keyfile instead"
)

// Accepted-value descriptions shared by several options.
const (
	acceptPath  = "a path"
	acceptBytes = "a whole number of bytes, 0 for unlimited"
)

// registry is every option of mosquitto.conf(5), 2.0 and 2.1, with its
// status. docs/configuration.md shows it as a table, checked by a test.
var registry = []Option{
	// General and limits.
	{Name: "allow_duplicate_messages", Scope: ScopeGlobal, Status: Warn, Default: "true",
		Note: "deprecated in Mosquitto 2.0; midge sends a client one copy of a message that matches several of its subscriptions"},
	{Name: "check_retain_source", Scope: ScopeGlobal, Status: Implemented, Default: "true",
		Note: "`CheckRetainSource`", set: configBool(func(c *Config) **bool { return &c.CheckRetainSource })},
	{Name: "clientid_prefixes", Scope: ScopeGlobal, Status: Implemented, Default: "none",
		Note: "`ClientIDPrefixes` (deprecated in Mosquitto)", set: configText(func(c *Config) *string { return &c.ClientIDPrefixes }, "a client id prefix")},
	{Name: "connection_messages", Scope: ScopeGlobal, Status: Implemented, Default: "true",
		Note: "`ConnectionMessages`", set: configBool(func(c *Config) **bool { return &c.ConnectionMessages })},
	{Name: "enable_control_api", Scope: ScopeGlobal, Status: Warn, Default: "false",
		Note: "midge has no `$CONTROL/broker/v1` API (Mosquitto 2.1)"},
	{Name: "global_max_clients", Scope: ScopeGlobal, Status: Warn, Default: "-1",
		Note: "Mosquitto 2.1's broker-wide session cap is not supported yet; max_connections on each listener still applies"},
	{Name: "global_max_connections", Scope: ScopeGlobal, Status: Warn, Default: "-1",
		Note: "Mosquitto 2.1's broker-wide connection cap is not supported yet; max_connections on each listener still applies"},
	{Name: "include_dir", Scope: ScopeGlobal, Status: Implemented, Default: "none",
		Note: "reads the directory's `*.conf` files in Mosquitto's order (main file only); listed in `Files`"},
	{Name: "max_inflight_bytes", Scope: ScopeGlobal, Status: Implemented, Default: "0 (unlimited)",
		Note: "`MaxInflightBytes`", set: configBytes(func(c *Config) **int64 { return &c.MaxInflightBytes }, 0, 1<<62, true, acceptBytes)},
	{Name: "max_inflight_messages", Scope: ScopeGlobal, Status: Implemented, Default: "20",
		Note: "`MaxInflightMessages`; 0 is unlimited", set: setMaxInflightMessages},
	{Name: "max_keepalive", Scope: ScopeGlobal, Status: Implemented, Default: "65535",
		Note: "`MaxKeepalive`, seconds", set: configInt(func(c *Config) **int { return &c.MaxKeepalive }, 0, 65535, "a whole number of seconds from 0 to 65535")},
	{Name: "max_packet_size", Scope: ScopeGlobal, Status: Implemented, Default: "unlimited (2.1: 2000000)",
		Note: "`MaxPacketSize`, bytes", set: configBytes(func(c *Config) **int64 { return &c.MaxPacketSize }, 20, 268435460, false, "a whole number of bytes from 20 to 268435460")},
	{Name: "max_queued_bytes", Scope: ScopeGlobal, Status: Implemented, Default: "0 (unlimited)",
		Note: "`MaxQueuedBytes`", set: configBytes(func(c *Config) **int64 { return &c.MaxQueuedBytes }, 0, 1<<62, true, acceptBytes)},
	{Name: "max_queued_messages", Scope: ScopeGlobal, Status: Implemented, Default: "1000",
		Note: "`MaxQueuedMessages`; 0 is unlimited", set: setMaxQueuedMessages},
	{Name: "memory_limit", Scope: ScopeGlobal, Status: Implemented, Default: "0 (no limit)",
		Note: "`MemoryLimit`, bytes: the live Go heap, corrected at once for retained messages stored and deleted; publishing resumes below 90%; see [memory_limit](#memory_limit)", set: configBytes(func(c *Config) **int64 { return &c.MemoryLimit }, 0, 1<<62, false, "a whole number of bytes, 0 for no limit")},
	{Name: "message_size_limit", Scope: ScopeGlobal, Status: Implemented, Default: "0 (MQTT maximum)",
		Note: "`MessageSizeLimit`, payload bytes", set: configBytes(func(c *Config) **int64 { return &c.MessageSizeLimit }, 0, 268435455, false, "a whole number of bytes from 0 (the MQTT maximum) to 268435455")},
	{Name: "per_listener_settings", Scope: ScopeGlobal, Status: Implemented, Default: "false",
		Note: "`PerListenerSettings`; must come before the security options", set: setPerListenerSettings},
	{Name: "persistent_client_expiration", Scope: ScopeGlobal, Status: Implemented, Default: "never",
		Note: "`PersistentClientExpiration`, e.g. `2h`, `14d`, `1w`, `1m` (30 days), `1y`", set: setPersistentClientExpiration},
	{Name: "pid_file", Scope: ScopeGlobal, Status: Implemented, Default: "none",
		Note: "`PIDFile`", set: configText(func(c *Config) *string { return &c.PIDFile }, acceptPath)},
	{Name: "queue_qos0_messages", Scope: ScopeGlobal, Status: Implemented, Default: "false",
		Note: "`QueueQoS0Messages`", set: configBool(func(c *Config) **bool { return &c.QueueQoS0Messages })},
	{Name: "retain_available", Scope: ScopeGlobal, Status: Implemented, Default: "true",
		Note: "`RetainAvailable`", set: configBool(func(c *Config) **bool { return &c.RetainAvailable })},
	{Name: "retain_expiry_interval", Scope: ScopeGlobal, Status: Warn, Default: "none",
		Note: "Mosquitto 2.1's periodic sweep is not needed: midge drops an expired retained message when a subscription reads it"},
	{Name: "retry_interval", Scope: ScopeGlobal, Status: Warn, Default: "none",
		Note: "removed in Mosquitto 2.0, which only warns too; unacknowledged messages are resent when the client reconnects"},
	{Name: "session_takeover_any_user", Scope: ScopeGlobal, Status: Implemented, Default: "false",
		Note: "midge only: `SessionTakeoverAnyUser`. With false, a client whose user name is not the one of the existing session of its client id (online or offline) is refused with CONNACK 0x85 (3.1.1: 2) and the session left alone; true lets any user take it over and inherit it, as in Mosquitto", set: configBool(func(c *Config) **bool { return &c.SessionTakeoverAnyUser })},
	{Name: "set_tcp_nodelay", Scope: ScopeGlobal, Status: Implemented, Default: "false",
		Note: "`SetTCPNoDelay`; midge turns Nagle's algorithm off on every connection (Go's default), so `false` does not turn it back on", set: configBool(func(c *Config) **bool { return &c.SetTCPNoDelay })},
	{Name: "sys_interval", Scope: ScopeGlobal, Status: Implemented, Default: "10",
		Note: "`SysInterval`, seconds; 0 turns `$SYS` updates off", set: setSysInterval},
	{Name: "upgrade_outgoing_qos", Scope: ScopeGlobal, Status: Implemented, Default: "false",
		Note: "`UpgradeOutgoingQoS`", set: configBool(func(c *Config) **bool { return &c.UpgradeOutgoingQoS })},
	{Name: "user", Scope: ScopeGlobal, Status: Warn, Default: "mosquitto",
		Note: "midge does not switch users itself: start it as the user it should run as (the systemd unit in contrib/ uses User=midge)"},
	{Name: "packet_buffer_size", Scope: ScopeGlobal, Status: Warn, Default: "4096",
		Note: "Mosquitto 2.1 buffer tuning; midge sizes its read buffers itself"},

	// Authentication, authorisation and plugins.
	{Name: "allow_anonymous", Scope: ScopeSecurity, Status: Implemented, Default: "false (true without a config file)",
		Note: "`AllowAnonymous`", set: securityBool(func(s *Security) **bool { return &s.AllowAnonymous })},
	{Name: "allow_zero_length_clientid", Scope: ScopeSecurity, Status: Implemented, Default: "true",
		Note: "`AllowZeroLengthClientID`", set: securityBool(func(s *Security) **bool { return &s.AllowZeroLengthClientID })},
	{Name: "auto_id_prefix", Scope: ScopeSecurity, Status: Implemented, Default: "auto-",
		Note: "`AutoIDPrefix`", set: setAutoIDPrefix},
	{Name: "password_file", Scope: ScopeSecurity, Status: Implemented, Default: "none",
		Note: "`PasswordFile` (`$6$`, `$7$` hashes)", set: securityText(func(s *Security) *string { return &s.PasswordFile }, acceptPath)},
	{Name: "acl_file", Scope: ScopeSecurity, Status: Implemented, Default: "none",
		Note: "`ACLFile`", set: securityText(func(s *Security) *string { return &s.ACLFile }, acceptPath)},
	{Name: "psk_file", Scope: ScopeSecurity, Status: Refuse, Default: "none", Note: reasonPSK},
	{Name: "listener_allow_anonymous", Scope: ScopeListener, Status: Refuse, Default: "none",
		Note: "Mosquitto 2.1 option not supported yet, and ignoring `false` would admit anonymous clients; use per_listener_settings true with allow_anonymous"},
	{Name: "listener_auto_id_prefix", Scope: ScopeListener, Status: Warn, Default: "none",
		Note: "Mosquitto 2.1 option not supported yet; generated client ids use auto_id_prefix"},
	{Name: "auth_plugin_deny_special_chars", Scope: ScopeGlobal, Status: Warn, Default: "true",
		Note: "applies to plugins, which midge does not load"},
	{Name: "plugin", Scope: ScopeSecurity, Status: Refuse, Default: "none", Note: reasonPlugin},
	{Name: "plugin_opt_*", Scope: ScopeSecurity, Status: Refuse, Default: "none", Note: "an option of a plugin, and " + reasonPlugin},
	{Name: "auth_plugin", Scope: ScopeSecurity, Status: Refuse, Default: "none", Note: "old name of plugin, and " + reasonPlugin},
	{Name: "auth_opt_*", Scope: ScopeSecurity, Status: Refuse, Default: "none", Note: "old name of plugin_opt_*, and " + reasonPlugin},
	{Name: "global_plugin", Scope: ScopeGlobal, Status: Refuse, Default: "none", Note: reasonPlugin},
	{Name: "plugin_load", Scope: ScopeGlobal, Status: Refuse, Default: "none", Note: reasonPlugin},
	{Name: "plugin_use", Scope: ScopeListener, Status: Refuse, Default: "none", Note: reasonPlugin},

	// Listeners.
	{Name: "listener", Scope: ScopeListener, Status: Implemented, Default: "none (local only: 127.0.0.1 and ::1 port 1883)",
		Note: "a `Listeners` entry; `listener 0 PATH` is a Unix socket", set: setListener},
	{Name: "port", Scope: ScopeDefaultListener, Status: Implemented, Default: "1883",
		Note: "the default listener's `Port` (deprecated: use listener)", set: setPort},
	{Name: "bind_address", Scope: ScopeDefaultListener, Status: Implemented, Default: "none",
		Note: "the default listener's `Address` (deprecated: use listener)", set: listenerText(func(l *Listener) *string { return &l.Address }, "an address")},
	{Name: "bind_interface", Scope: ScopeListener, Status: Implemented, Default: "none",
		Note: "`BindInterface`: midge listens on the interface's addresses as they are at start-up (Mosquitto binds the socket to the device)", set: setBindInterface},
	{Name: "socket_domain", Scope: ScopeListener, Status: Implemented, Default: "both",
		Note: "`SocketDomain`", set: listenerWord(func(l *Listener) *string { return &l.SocketDomain }, "ipv4", "ipv6")},
	{Name: "protocol", Scope: ScopeListener, Status: Implemented, Default: "mqtt",
		Note: "`Protocol`: mqtt or websockets (not 2.1's http_api)", set: listenerWord(func(l *Listener) *string { return &l.Protocol }, "mqtt", "websockets")},
	{Name: "http_dir", Scope: ScopeListener, Status: Implemented, Default: "none",
		Note: "`HTTPDir`", set: listenerText(func(l *Listener) *string { return &l.HTTPDir }, acceptPath)},
	{Name: "max_connections", Scope: ScopeListener, Status: Implemented, Default: "-1 (unlimited)",
		Note: "`MaxConnections`", set: setMaxConnections},
	{Name: "max_qos", Scope: ScopeListener, Status: Implemented, Default: "2",
		Note: "`MaxQoS`", set: listenerInt(func(l *Listener) *int { return &l.MaxQoS }, 0, 2, "0, 1, 2")},
	{Name: "maximum_qos", Scope: ScopeListener, Status: Implemented, Default: "2",
		Note: "old name of max_qos", set: listenerInt(func(l *Listener) *int { return &l.MaxQoS }, 0, 2, "0, 1, 2")},
	{Name: "max_topic_alias", Scope: ScopeListener, Status: Implemented, Default: "10",
		Note: "`MaxTopicAlias`", set: listenerInt(func(l *Listener) *int { return &l.MaxTopicAlias }, 0, 65535, "a whole number from 0 to 65535")},
	{Name: "max_topic_alias_broker", Scope: ScopeListener, Status: Implemented, Default: "10",
		Note: "`MaxTopicAliasBroker`: the topic aliases midge assigns on its PUBLISH packets to an MQTT 5 client, within the client's Topic Alias Maximum, least recently used replaced (Mosquitto 2.1)",
		set:  listenerInt(func(l *Listener) *int { return &l.MaxTopicAliasBroker }, 0, 65535, "a whole number from 0 to 65535")},
	{Name: "mount_point", Scope: ScopeListener, Status: Implemented, Default: "none",
		Note: "`MountPoint`", set: setMountPoint},
	{Name: "use_username_as_clientid", Scope: ScopeListener, Status: Implemented, Default: "false",
		Note: "`UseUsernameAsClientID`", set: listenerBool(func(l *Listener) *bool { return &l.UseUsernameAsClientID })},
	{Name: "accept_protocol_versions", Scope: ScopeListener, Status: Refuse, Default: "3,4,5",
		Note: "Mosquitto 2.1 option not supported yet; ignoring it would admit the protocol versions it excludes"},
	{Name: "enable_proxy_protocol", Scope: ScopeListener, Status: Refuse, Default: "none", Note: reasonProxy},
	{Name: "proxy_protocol_v2_require_tls", Scope: ScopeListener, Status: Refuse, Default: "false", Note: reasonProxy},
	{Name: "websockets_origin", Scope: ScopeListener, Status: Refuse, Default: "any",
		Note: "Mosquitto 2.1's origin check is not supported yet; ignoring it would let any web page's scripts connect"},
	{Name: "websockets_log_level", Scope: ScopeGlobal, Status: Warn, Default: "0",
		Note: "libwebsockets' own debug level; midge logs WebSocket events under `log_type websockets`"},
	{Name: "websockets_headers_size", Scope: ScopeGlobal, Status: Warn, Default: "4096",
		Note: "midge accepts WebSocket request headers up to 16 KiB"},

	// TLS and PSK, per listener.
	{Name: "cafile", Scope: ScopeListener, Status: Implemented, Default: "none",
		Note: "`CAFile`", set: listenerText(func(l *Listener) *string { return &l.CAFile }, acceptPath)},
	{Name: "capath", Scope: ScopeListener, Status: Implemented, Default: "none",
		Note: "`CAPath`", set: listenerText(func(l *Listener) *string { return &l.CAPath }, acceptPath)},
	{Name: "certfile", Scope: ScopeListener, Status: Implemented, Default: "none",
		Note: "`CertFile`", set: listenerText(func(l *Listener) *string { return &l.CertFile }, acceptPath)},
	{Name: "keyfile", Scope: ScopeListener, Status: Implemented, Default: "none",
		Note: "`KeyFile`", set: listenerText(func(l *Listener) *string { return &l.KeyFile }, acceptPath)},
	{Name: "crlfile", Scope: ScopeListener, Status: Implemented, Default: "none",
		Note: "`CRLFile`", set: listenerText(func(l *Listener) *string { return &l.CRLFile }, acceptPath)},
	{Name: "ciphers", Scope: ScopeListener, Status: Implemented, Default: "OpenSSL's",
		Note: "`Ciphers`", set: listenerText(func(l *Listener) *string { return &l.Ciphers }, "an OpenSSL cipher list")},
	{Name: "ciphers_tls1.3", Scope: ScopeListener, Status: Implemented, Default: "OpenSSL's",
		Note: "`Ciphers13`", set: listenerText(func(l *Listener) *string { return &l.Ciphers13 }, "an OpenSSL TLS 1.3 cipher suite list")},
	{Name: "tls_version", Scope: ScopeListener, Status: Implemented, Default: "tlsv1.2 and above",
		Note: "`TLSVersion`, the minimum", set: listenerWord(func(l *Listener) *string { return &l.TLSVersion }, "tlsv1.3", "tlsv1.2", "tlsv1.1")},
	{Name: "require_certificate", Scope: ScopeListener, Status: Implemented, Default: "false",
		Note: "`RequireCertificate`", set: listenerBool(func(l *Listener) *bool { return &l.RequireCertificate })},
	{Name: "use_identity_as_username", Scope: ScopeListener, Status: Implemented, Default: "false",
		Note: "`UseIdentityAsUsername`", set: listenerBool(func(l *Listener) *bool { return &l.UseIdentityAsUsername })},
	{Name: "use_subject_as_username", Scope: ScopeListener, Status: Implemented, Default: "false",
		Note: "`UseSubjectAsUsername`", set: listenerBool(func(l *Listener) *bool { return &l.UseSubjectAsUsername })},
	{Name: "tls_keyform", Scope: ScopeListener, Status: Implemented, Default: "pem",
		Note: "only pem is accepted: keys are read from PEM files", set: setTLSKeyform},
	{Name: "dhparamfile", Scope: ScopeListener, Status: Warn, Default: "none",
		Note: "Go's TLS uses only elliptic-curve Diffie-Hellman, so DH parameters are not used"},
	{Name: "disable_client_cert_date_checks", Scope: ScopeListener, Status: Warn, Default: "false",
		Note: "Mosquitto 2.1 option not supported; midge always checks certificate dates (stricter, not weaker)"},
	{Name: "tls_engine", Scope: ScopeListener, Status: Refuse, Default: "none", Note: reasonEngine},
	{Name: "tls_engine_kpass_sha1", Scope: ScopeListener, Status: Refuse, Default: "none", Note: reasonEngine},
	{Name: "psk_hint", Scope: ScopeListener, Status: Refuse, Default: "none", Note: reasonPSK},

	// Persistence.
	{Name: "persistence", Scope: ScopeGlobal, Status: Implemented, Default: "false",
		Note: "`Persistence`: sessions, queued and in-flight messages, retained messages and delayed wills are kept in a store on disk", set: configBool(func(c *Config) **bool { return &c.Persistence })},
	{Name: "retained_persistence", Scope: ScopeGlobal, Status: Implemented, Default: "false",
		Note: "old name of `persistence`", set: configBool(func(c *Config) **bool { return &c.Persistence })},
	{Name: "persistence_file", Scope: ScopeGlobal, Status: Implemented, Default: "mosquitto.db",
		Note: "`PersistenceFile`; midge keeps its store in the directory FILE.midge beside it and never touches Mosquitto's own file", set: configText(func(c *Config) *string { return &c.PersistenceFile }, "a file name")},
	{Name: "persistence_location", Scope: ScopeGlobal, Status: Implemented, Default: "working directory",
		Note: "`PersistenceLocation`", set: configText(func(c *Config) *string { return &c.PersistenceLocation }, acceptPath)},
	{Name: "autosave_interval", Scope: ScopeGlobal, Status: Implemented, Default: "1800",
		Note: "`AutosaveInterval`: with `persistence_durability interval`, how often the store is synced; with the default `sync`, every acknowledged message is on disk and this changes nothing", set: setAutosaveInterval},
	{Name: "autosave_on_changes", Scope: ScopeGlobal, Status: Warn, Default: "false",
		Note: "midge syncs by time (`autosave_interval`) or, by default, before every acknowledgement; counting changes adds nothing to either"},
	{Name: "persistence_durability", Scope: ScopeGlobal, Status: Implemented, Default: "sync",
		Note: "midge only: `sync` acknowledges a message once it is on disk (writes of many clients share one sync); `interval` acknowledges at once and syncs every `autosave_interval` seconds", set: setDurability},

	// Logging.
	{Name: "log_dest", Scope: ScopeGlobal, Status: Implemented, Default: "stderr",
		Note: "`LogDests`, repeatable: stdout, stderr, syslog, topic, dlt, file PATH, none", set: setLogDest},
	{Name: "log_type", Scope: ScopeGlobal, Status: Implemented, Default: "error, warning, notice, information",
		Note: "`LogTypes`, repeatable", set: setLogType},
	{Name: "log_facility", Scope: ScopeGlobal, Status: Implemented, Default: "daemon",
		Note: "`LogFacility`: 0 to 7 for local0 to local7", set: configInt(func(c *Config) **int { return &c.LogFacility }, 0, 7, "0 to 7 (syslog local0 to local7)")},
	{Name: "log_timestamp", Scope: ScopeGlobal, Status: Implemented, Default: "true",
		Note: "`LogTimestamp`", set: configBool(func(c *Config) **bool { return &c.LogTimestamp })},
	{Name: "log_timestamp_format", Scope: ScopeGlobal, Status: Implemented, Default: "seconds since the epoch",
		Note: "`LogTimestampFormat`, strftime", set: configText(func(c *Config) *string { return &c.LogTimestampFormat }, "a strftime format")},

	// Bridges.
	{Name: "connection", Scope: ScopeBridge, Status: Implemented, Default: "none", Note: "`Bridges`: starts a bridge section; the options below it, to the next `connection`, are its own", set: setConnection},
	{Name: "address", Scope: ScopeBridge, Status: Implemented, Default: "none", Note: "`Bridge.Addresses`: host[:port] ..., port 1883 by default; without round_robin the first is the main one", set: setAddresses},
	{Name: "addresses", Scope: ScopeBridge, Status: Implemented, Default: "none", Note: "the same as address", set: setAddresses},
	{Name: "topic", Scope: ScopeBridge, Status: Implemented, Default: "none", Note: "`Bridge.Topics`, repeatable: PATTERN [[[DIRECTION] QOS] LOCAL-PREFIX REMOTE-PREFIX], DIRECTION out (default), in or both; `\"\"` is empty", set: setBridgeTopic},
	{Name: "remote_clientid", Scope: ScopeBridge, Status: Implemented, Default: "HOSTNAME.NAME", Note: "`Bridge.RemoteClientID`: the client id on the remote", set: bridgeText(func(b *Bridge) *string { return &b.RemoteClientID }, "a client identifier")},
	{Name: "clientid", Scope: ScopeBridge, Status: Implemented, Default: "HOSTNAME.NAME", Note: "deprecated name of remote_clientid", set: bridgeText(func(b *Bridge) *string { return &b.RemoteClientID }, "a client identifier")},
	{Name: "remote_username", Scope: ScopeBridge, Status: Implemented, Default: "none", Note: "`Bridge.RemoteUsername`", set: bridgeSecret(func(b *Bridge) **string { return &b.RemoteUsername })},
	{Name: "username", Scope: ScopeBridge, Status: Implemented, Default: "none", Note: "deprecated name of remote_username", set: bridgeSecret(func(b *Bridge) **string { return &b.RemoteUsername })},
	{Name: "remote_password", Scope: ScopeBridge, Status: Implemented, Default: "none", Note: "`Bridge.RemotePassword`", set: bridgeSecret(func(b *Bridge) **string { return &b.RemotePassword })},
	{Name: "password", Scope: ScopeBridge, Status: Implemented, Default: "none", Note: "deprecated name of remote_password", set: bridgeSecret(func(b *Bridge) **string { return &b.RemotePassword })},
	{Name: "local_clientid", Scope: ScopeBridge, Status: Implemented, Default: "local.REMOTE_CLIENTID", Note: "`Bridge.LocalClientID`: the client id of the bridge's session in midge", set: bridgeText(func(b *Bridge) *string { return &b.LocalClientID }, "a client identifier")},
	{Name: "local_username", Scope: ScopeBridge, Status: Implemented, Default: "none", Note: "`Bridge.LocalUsername`: the user name the ACL checks the bridge's local side as", set: bridgeSecret(func(b *Bridge) **string { return &b.LocalUsername })},
	{Name: "local_password", Scope: ScopeBridge, Status: Implemented, Default: "none", Note: "`Bridge.LocalPassword`: read, not checked: the local side is inside midge (as in Mosquitto)", set: bridgeSecret(func(b *Bridge) **string { return &b.LocalPassword })},
	{Name: "cleansession", Scope: ScopeBridge, Status: Implemented, Default: "false", Note: "`Bridge.CleanSession`: of the remote session; false resumes it, with what it queued", set: bridgeBool(func(b *Bridge) **bool { return &b.CleanSession })},
	{Name: "local_cleansession", Scope: ScopeBridge, Status: Implemented, Default: "cleansession", Note: "`Bridge.LocalCleanSession`: false keeps, in midge's session (and store), what waits for the remote", set: bridgeBool(func(b *Bridge) **bool { return &b.LocalCleanSession })},
	{Name: "keepalive_interval", Scope: ScopeBridge, Status: Implemented, Default: "60", Note: "`Bridge.KeepaliveInterval`, seconds", set: bridgeInt(func(b *Bridge) **int { return &b.KeepaliveInterval }, 5, 65535, "5 to 65535 seconds")},
	{Name: "bridge_protocol_version", Scope: ScopeBridge, Status: Implemented, Default: "mqttv311", Note: "`Bridge.ProtocolVersion`: mqttv31, mqttv311 or mqttv50", set: bridgeWord(func(b *Bridge) *string { return &b.ProtocolVersion }, "mqttv31", "mqttv311", "mqttv50")},
	{Name: "try_private", Scope: ScopeBridge, Status: Implemented, Default: "true", Note: "`Bridge.TryPrivate`: announce the bridge (protocol level high bit) so the remote sends none of its own messages back", set: bridgeBool(func(b *Bridge) **bool { return &b.TryPrivate })},
	{Name: "bridge_attempt_unsubscribe", Scope: ScopeBridge, Status: Implemented, Default: "true", Note: "`Bridge.AttemptUnsubscribe`: unsubscribe, on the remote, the filters of `out` topics", set: bridgeBool(func(b *Bridge) **bool { return &b.AttemptUnsubscribe })},
	{Name: "bridge_outgoing_retain", Scope: ScopeBridge, Status: Implemented, Default: "true", Note: "`Bridge.OutgoingRetain`: forward the RETAIN flag of outgoing messages", set: bridgeBool(func(b *Bridge) **bool { return &b.OutgoingRetain })},
	{Name: "bridge_max_packet_size", Scope: ScopeBridge, Status: Implemented, Default: "0", Note: "`Bridge.MaxPacketSize`: the largest packet the remote may send (MQTT 5), 0 for no limit", set: bridgeInt(func(b *Bridge) **int { return &b.MaxPacketSize }, 0, 268435455, "0 (no limit) to 268435455 bytes")},
	{Name: "bridge_bind_address", Scope: ScopeBridge, Status: Implemented, Default: "none", Note: "`Bridge.BindAddress`: the local address connections to the remote leave from", set: bridgeText(func(b *Bridge) *string { return &b.BindAddress }, "a local address")},
	{Name: "start_type", Scope: ScopeBridge, Status: Implemented, Default: "automatic", Note: "`Bridge.StartType`: automatic, lazy (after threshold messages, until idle_timeout) or once", set: bridgeWord(func(b *Bridge) *string { return &b.StartType }, "automatic", "lazy", "once")},
	{Name: "threshold", Scope: ScopeBridge, Status: Implemented, Default: "10", Note: "`Bridge.Threshold`: messages waiting before a lazy bridge connects", set: bridgeInt(func(b *Bridge) **int { return &b.Threshold }, 1, 1<<31-1, "a number of messages above 0")},
	{Name: "idle_timeout", Scope: ScopeBridge, Status: Implemented, Default: "60", Note: "`Bridge.IdleTimeout`: seconds without traffic before a lazy bridge disconnects", set: bridgeInt(func(b *Bridge) **int { return &b.IdleTimeout }, 1, 1<<31-1, "a number of seconds above 0")},
	{Name: "restart_timeout", Scope: ScopeBridge, Status: Implemented, Default: "5 30", Note: "`Bridge.RestartBase`, `Bridge.RestartCap`: SECONDS constant, or BASE CAP jittered backoff", set: setRestartTimeout},
	{Name: "round_robin", Scope: ScopeBridge, Status: Implemented, Default: "false", Note: "`Bridge.RoundRobin`: try the addresses in turn instead of going back to the first", set: bridgePlainBool(func(b *Bridge) *bool { return &b.RoundRobin })},
	{Name: "notifications", Scope: ScopeBridge, Status: Implemented, Default: "true", Note: "`Bridge.Notifications`: retained 1/0 on the notification topic, locally and on the remote (0 there by its will)", set: bridgeBool(func(b *Bridge) **bool { return &b.Notifications })},
	{Name: "notifications_local_only", Scope: ScopeBridge, Status: Implemented, Default: "false", Note: "`Bridge.NotificationsLocalOnly`: the notifications go to midge only", set: bridgeBool(func(b *Bridge) **bool { return &b.NotificationsLocalOnly })},
	{Name: "notification_topic", Scope: ScopeBridge, Status: Implemented, Default: "$SYS/broker/connection/REMOTE_CLIENTID/state", Note: "`Bridge.NotificationTopic`", set: bridgeText(func(b *Bridge) *string { return &b.NotificationTopic }, "a topic name")},
	{Name: "bridge_cafile", Scope: ScopeBridge, Status: Implemented, Default: "none", Note: "`Bridge.CAFile`: turns TLS to the remote on", set: bridgeText(func(b *Bridge) *string { return &b.CAFile }, "a file path")},
	{Name: "bridge_capath", Scope: ScopeBridge, Status: Implemented, Default: "none", Note: "`Bridge.CAPath`: turns TLS to the remote on", set: bridgeText(func(b *Bridge) *string { return &b.CAPath }, "a directory path")},
	{Name: "bridge_certfile", Scope: ScopeBridge, Status: Implemented, Default: "none", Note: "`Bridge.CertFile`: the bridge's client certificate (with bridge_keyfile)", set: bridgeText(func(b *Bridge) *string { return &b.CertFile }, "a file path")},
	{Name: "bridge_keyfile", Scope: ScopeBridge, Status: Implemented, Default: "none", Note: "`Bridge.KeyFile`", set: bridgeText(func(b *Bridge) *string { return &b.KeyFile }, "a file path")},
	{Name: "bridge_insecure", Scope: ScopeBridge, Status: Implemented, Default: "false", Note: "`Bridge.Insecure`: the remote's certificate chain is checked, its name is not", set: bridgeBool(func(b *Bridge) **bool { return &b.Insecure })},
	{Name: "bridge_tls_version", Scope: ScopeBridge, Status: Implemented, Default: "tlsv1.2", Note: "`Bridge.TLSVersion`: the lowest TLS version offered", set: bridgeWord(func(b *Bridge) *string { return &b.TLSVersion }, "tlsv1.3", "tlsv1.2", "tlsv1.1")},
	{Name: "bridge_alpn", Scope: ScopeBridge, Status: Implemented, Default: "none", Note: "`Bridge.ALPN`", set: bridgeText(func(b *Bridge) *string { return &b.ALPN }, "a protocol name")},
	{Name: "bridge_require_ocsp", Scope: ScopeBridge, Status: Implemented, Default: "false", Note: "`Bridge.RequireOCSP`: the remote must staple an OCSP response saying its certificate is good", set: bridgeBool(func(b *Bridge) **bool { return &b.RequireOCSP })},
	{Name: "bridge_identity", Scope: ScopeBridge, Status: Refuse, Default: "none", Note: reasonBridgePSK},
	{Name: "bridge_psk", Scope: ScopeBridge, Status: Refuse, Default: "none", Note: reasonBridgePSK},
	{Name: "bridge_ciphers", Scope: ScopeBridge, Status: Implemented, Default: "OpenSSL's", Note: "`Bridge.Ciphers`: an OpenSSL cipher list for TLS 1.2 and earlier", set: bridgeText(func(b *Bridge) *string { return &b.Ciphers }, "an OpenSSL cipher list")},
	{Name: "bridge_ciphers_tls1.3", Scope: ScopeBridge, Status: Warn, Default: "Go's", Note: "Go's crypto/tls chooses among its TLS 1.3 suites itself (all of them AEAD); the list is ignored"},
	{Name: "bridge_max_topic_alias", Scope: ScopeBridge, Status: Implemented, Default: "10", Note: "`Bridge.MaxTopicAlias`: accepted; midge's bridge sends whole topic names, and takes the remote's aliases", set: bridgeInt(func(b *Bridge) **int { return &b.MaxTopicAlias }, 0, 65535, "0 to 65535")},
	{Name: "bridge_receive_maximum", Scope: ScopeBridge, Status: Implemented, Default: "65535", Note: "`Bridge.ReceiveMaximum`: sent to an MQTT 5 remote", set: bridgeInt(func(b *Bridge) **int { return &b.ReceiveMaximum }, 1, 65535, "1 to 65535")},
	{Name: "bridge_session_expiry_interval", Scope: ScopeBridge, Status: Implemented, Default: "0", Note: "`Bridge.SessionExpiryInterval`: sent to an MQTT 5 remote; 0 with cleansession false keeps the session without end", set: bridgeInt64(func(b *Bridge) **int64 { return &b.SessionExpiryInterval }, 0, 4294967295, "0 to 4294967295 seconds")},
	{Name: "bridge_tcp_keepalive", Scope: ScopeBridge, Status: Implemented, Default: "off", Note: "`Bridge.TCPKeepalive`: IDLE INTERVAL COUNT of TCP keepalive on the connection to the remote", set: setTCPKeepalive},
	{Name: "bridge_tcp_user_timeout", Scope: ScopeBridge, Status: Implemented, Default: "off", Note: "`Bridge.TCPUserTimeout`: milliseconds (Linux; ignored with a warning elsewhere)", set: bridgeInt(func(b *Bridge) **int { return &b.TCPUserTimeout }, 0, 1<<31-1, "milliseconds, 0 or more")},
	{Name: "bridge_tls_use_os_certs", Scope: ScopeBridge, Status: Implemented, Default: "false", Note: "`Bridge.UseOSCerts`: trust the system's CA certificates; turns TLS on", set: bridgeBool(func(b *Bridge) **bool { return &b.UseOSCerts })},
	{Name: "bridge_drain_rate", Scope: ScopeBridge, Status: Implemented, Default: "0",
		Note: "midge only: `Bridge.DrainRate`: messages per second sent to the remote while a backlog drains after a reconnection, 0 for no bound", set: bridgeInt(func(b *Bridge) **int { return &b.DrainRate }, 0, 1<<31-1, "messages per second, 0 for no bound")},
	{Name: "bridge_reload_type", Scope: ScopeBridge, Status: Implemented, Default: "lazy", Note: "`Bridge.ReloadType`: on SIGHUP a changed bridge restarts at once (immediate) or when its connection next ends (lazy)", set: bridgeWord(func(b *Bridge) *string { return &b.ReloadType }, "lazy", "immediate")},
}

// The set functions that need more than a field and a range.

func setListener(t *target, v *value) error {
	const usage = "`listener PORT [ADDRESS]` with a port from 1 to 65535, or `listener 0 SOCKET-PATH`"
	if len(v.words) < 1 || len(v.words) > 2 {
		return fmt.Errorf("listener: expected `listener PORT [ADDRESS]` (accepted: %s)", usage)
	}
	port, err := strconv.Atoi(v.words[0])
	if err != nil || port < 0 || port > 65535 {
		return fmt.Errorf("listener: invalid port %q (accepted: 1 to 65535, or 0 with a Unix socket path)", v.words[0])
	}
	if port == 0 && len(v.words) == 1 {
		return fmt.Errorf("listener: port 0 needs a Unix socket path (accepted: %s)", usage)
	}
	address := ""
	if len(v.words) == 2 {
		address = v.words[1]
	}
	t.p.addListener(newListener(port, address, t.at))
	return nil
}

func setPort(t *target, v *value) error {
	n, err := v.integer(1, 65535, "1 to 65535")
	if err != nil {
		return err
	}
	l := t.listener()
	if l.Port != 0 {
		t.p.warn(t.at, v.option, "the default listener's port is set more than once; the last one is used, as in Mosquitto")
	}
	l.Port = int(n)
	return nil
}

// setBindInterface reads an interface name, once per listener as in
// Mosquitto.
func setBindInterface(t *target, v *value) error {
	name, err := v.word("a network interface name")
	if err != nil {
		return err
	}
	return setOnceTo(&t.listener().BindInterface, name, v, " for this listener")
}

// setMountPoint reads a topic prefix. Mosquitto refuses one that would not
// do as the start of a topic name: with a wildcard, or too long.
func setMountPoint(t *target, v *value) error {
	const accepted = "a topic prefix without the wildcards + and #"
	s, err := v.text(accepted)
	if err != nil {
		return err
	}
	if strings.ContainsAny(s, "+#") || len(s) > 65535 || !utf8.ValidString(s) {
		return v.invalid(accepted)
	}
	return setOnceTo(&t.listener().MountPoint, s, v, " for this listener")
}

func setMaxConnections(t *target, v *value) error {
	n, err := v.integer(-1<<31, 1<<31-1, "-1 for unlimited, or a whole number")
	if err == nil {
		t.listener().MaxConnections = int(max(n, -1)) // below -1 reads as -1, as in Mosquitto
	}
	return err
}

func setMaxInflightMessages(t *target, v *value) error {
	n, err := v.integer(-1<<31, 65535, "a whole number from 0 (unlimited) to 65535")
	if err != nil {
		return err
	}
	if n < 0 || n == 65535 { // as Mosquitto reads them
		n = 0
	}
	i := int(n)
	t.p.cfg.MaxInflightMessages = &i
	return nil
}

func setMaxQueuedMessages(t *target, v *value) error {
	n, err := v.integer(-1<<31, 1<<31-1, "a whole number, 0 for unlimited")
	if err == nil {
		i := int(max(n, 0)) // negative reads as 0, as in Mosquitto
		t.p.cfg.MaxQueuedMessages = &i
	}
	return err
}

func setPersistentClientExpiration(t *target, v *value) error {
	d, err := v.expiration()
	if err == nil {
		t.p.cfg.PersistentClientExpiration = &d
	}
	return err
}

func setSysInterval(t *target, v *value) error {
	d, err := v.seconds(65535, "a whole number of seconds from 0 (no $SYS updates) to 65535")
	if err == nil {
		t.p.cfg.SysInterval = &d
	}
	return err
}

func setAutoIDPrefix(t *target, v *value) error {
	s, err := v.text("a client id prefix")
	if err != nil {
		return err
	}
	sec := t.security()
	if sec.AutoIDPrefix != nil {
		return fmt.Errorf("auto_id_prefix: set twice%s (accepted: one auto_id_prefix line%s, as in Mosquitto)", scopeWords(t), scopeWords(t))
	}
	sec.AutoIDPrefix = &s
	return nil
}

func setTLSKeyform(t *target, v *value) error {
	if _, err := v.oneOf("pem"); err != nil {
		if len(v.words) == 1 && v.words[0] == "engine" {
			return fmt.Errorf("tls_keyform: engine refused: %s (accepted: pem)", reasonEngine)
		}
		return err
	}
	return nil
}

func setPerListenerSettings(t *target, v *value) error {
	on, err := v.boolean()
	if err != nil {
		return err
	}
	c := t.p.cfg
	if c.PerListenerSettings && !on {
		t.p.warn(t.at, v.option, "ignored: per_listener_settings is already true, and Mosquitto does not let a later line turn it off")
		return nil
	}
	if on && !c.PerListenerSettings && t.p.securityAt != nil {
		return fmt.Errorf("per_listener_settings: must come before the security options it moves into listeners; the first is at %s:%d",
			t.p.securityAt.file, t.p.securityAt.line)
	}
	c.PerListenerSettings = c.PerListenerSettings || on
	return nil
}

func setLogDest(t *target, v *value) error {
	const accepted = "stdout, stderr, syslog, topic, dlt, none, file PATH"
	c := t.p.cfg
	if c.LogDests == nil {
		c.LogDests = []LogDest{}
	}
	kind := ""
	if len(v.words) > 0 {
		kind = v.words[0]
	}
	switch kind {
	case "":
		return v.missing(accepted)
	case "none":
		if len(v.words) != 1 {
			return v.invalid(accepted)
		}
		c.LogDests = c.LogDests[:0]
		return nil
	case "file":
		path := strings.TrimSpace(v.rest[len("file"):])
		if path == "" {
			return fmt.Errorf("log_dest: file needs a path (accepted: %s)", accepted)
		}
		for _, d := range c.LogDests {
			if d.Kind == "file" {
				return fmt.Errorf("log_dest: a second `log_dest file` (accepted: one log file, as in Mosquitto; the first is %s)", d.Path)
			}
		}
		c.LogDests = append(c.LogDests, LogDest{Kind: "file", Path: path})
		return nil
	case "stdout", "stderr", "syslog", "topic", "dlt":
		if len(v.words) != 1 {
			return v.invalid(accepted)
		}
		for _, d := range c.LogDests {
			if d.Kind == kind {
				return nil
			}
		}
		c.LogDests = append(c.LogDests, LogDest{Kind: kind})
		return nil
	}
	return v.invalid(accepted)
}

// logTypes maps each log_type word to its set.
var logTypes = map[string]LogType{
	"error": LogError, "warning": LogWarning, "notice": LogNotice, "information": LogInformation,
	"debug": LogDebug, "subscribe": LogSubscribe, "unsubscribe": LogUnsubscribe,
	"websockets": LogWebsockets, "internal": LogInternal, "all": LogAll, "none": 0,
}

func setLogType(t *target, v *value) error {
	const accepted = "error, warning, notice, information, debug, subscribe, unsubscribe, websockets, internal, all, none"
	w, err := v.word(accepted)
	if err != nil {
		return err
	}
	bits, ok := logTypes[w]
	if !ok {
		return v.invalid(accepted)
	}
	c := t.p.cfg
	if c.LogTypes == nil {
		c.LogTypes = new(LogType)
	}
	switch w {
	case "none", "all":
		*c.LogTypes = bits
	default:
		*c.LogTypes |= bits
	}
	return nil
}

func setAutosaveInterval(t *target, v *value) error {
	d, err := v.seconds(1<<31-1, "a whole number of seconds")
	if err == nil {
		t.p.cfg.AutosaveInterval = &d
	}
	return err
}

func setDurability(t *target, v *value) error {
	s, err := v.oneOf("sync", "interval")
	if err == nil {
		t.p.cfg.PersistenceDurability = s
	}
	return err
}

// suggest returns the registry option nearest to an unknown name, or ""
// when none is near enough to be the one meant: at most a third of the
// name's letters (at least one) added, removed or changed, ignoring case.
func suggest(name string) string {
	name = strings.ToLower(name)
	best, bestDistance := "", max(1, len(name)/3)+1
	for _, o := range registry {
		if strings.HasSuffix(o.Name, "*") {
			continue
		}
		if d := editDistance(name, o.Name); d < bestDistance {
			best, bestDistance = o.Name, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	row := make([]int, len(b)+1) // row[j]: distance from a[:i] to b[:j]
	for j := range row {
		row[j] = j
	}
	for i := 1; i <= len(a); i++ {
		diagonal := row[0]
		row[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			diagonal, row[j] = row[j], min(row[j]+1, row[j-1]+1, diagonal+cost)
		}
	}
	return row[len(b)]
}
