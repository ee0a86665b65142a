package broker

import (
	"log/slog"
	"time"
)

// Unlimited, in any limit of Options, means no limit. A limit's zero value
// means its default, Mosquitto's; where that default is no limit (the byte
// bounds, MessageSizeLimit, MaxPacketSize, MemoryLimit) zero and Unlimited
// mean the same. Mosquitto's configuration spells no limit 0: the broker
// command turns that into Unlimited.
const Unlimited = -1

// Options configures a Server. The zero value is usable: every field has the
// default Mosquitto uses, and a nil Authenticator admits every client.
type Options struct {
	// Logger receives the broker's log lines. Nil discards them.
	Logger *slog.Logger

	// Authenticator decides whether a CONNECT is admitted. Nil admits all.
	Authenticator Authenticator

	// EnhancedAuth runs MQTT 5 enhanced authentication (CONNECT with an
	// Authentication Method, and AUTH). Nil refuses such clients with
	// 0x8C. A client authenticated this way is not asked for a password.
	EnhancedAuth EnhancedAuthenticator

	// Authorizer decides which topics each client may publish to and
	// receive from. Nil allows every topic.
	Authorizer Authorizer

	// MaxInflight bounds the QoS 1 and 2 messages sent to one client and not
	// yet acknowledged (Mosquitto's max_inflight_messages). Default 20;
	// Unlimited allows 65535, the protocol's bound.
	MaxInflight int

	// MaxQueued bounds the messages waiting per client beyond the in-flight
	// window, and the QoS 0 messages waiting to be written to a connected
	// client (Mosquitto's max_queued_messages). Newer messages beyond it are
	// dropped and counted. Default 1000; Unlimited for no bound.
	MaxQueued int

	// MaxInflightBytes bounds the payload bytes of the QoS 1 and 2 messages
	// in flight toward one client, alongside MaxInflight (Mosquitto's
	// max_inflight_bytes). Default, or Unlimited: no byte bound.
	MaxInflightBytes int

	// MaxQueuedBytes bounds the payload bytes of the messages queued for one
	// client, alongside MaxQueued: the QoS 1 and 2 messages waiting beyond
	// the in-flight window, and the QoS 0 messages waiting to be written
	// (Mosquitto's max_queued_bytes). Newer messages beyond it are dropped
	// and counted. Default, or Unlimited: no byte bound.
	MaxQueuedBytes int

	// QueueQoS0 queues QoS 0 messages for offline persistent sessions, as
	// QoS 1 and 2 messages are (Mosquitto's queue_qos0_messages); they count
	// toward MaxQueued and MaxQueuedBytes. By default they are dropped.
	QueueQoS0 bool

	// MessageSizeLimit bounds the payload of a PUBLISH (Mosquitto's
	// message_size_limit). A larger message is dropped and counted; its QoS
	// flow completes, with 0x83 Implementation specific error for MQTT 5.
	// Default, or Unlimited: no limit beyond MaxPacketSize.
	MessageSizeLimit int

	// RetainUnavailable turns retained messages off (Mosquitto's
	// retain_available false): MQTT 5 clients are told in CONNACK, and a
	// client that publishes a retained message, or asks for a retained will,
	// is disconnected (MQTT 5: 0x9A Retain not supported).
	RetainUnavailable bool

	// UpgradeOutgoingQoS delivers every message at the QoS of the
	// subscription rather than the lower of that and the message's
	// (Mosquitto's upgrade_outgoing_qos; not what the MQTT specification
	// describes).
	UpgradeOutgoingQoS bool

	// PersistentClientExpiration ends a session that would never expire
	// (MQTT 3.1.1 clean session off, MQTT 5 session expiry 0xFFFFFFFF) after
	// it has been offline this long (Mosquitto's
	// persistent_client_expiration). Zero keeps such sessions forever.
	PersistentClientExpiration time.Duration

	// NoRetainSourceCheck turns off Mosquitto's check_retain_source: by
	// default a retained message is sent to a new subscriber only while its
	// publisher may still write to its topic, so a retained message left by
	// a user whose access was since revoked is not handed out.
	NoRetainSourceCheck bool

	// ConnectTimeout bounds the time from accept until a whole CONNECT has
	// arrived. A client that trickles its CONNECT is closed when it passes.
	// Default 10 seconds.
	ConnectTimeout time.Duration

	// MaxConnectSize bounds the size of the first packet, before the client
	// is authenticated. Default 100,000 bytes, as Mosquitto 2.1.
	MaxConnectSize int

	// MaxPacketSize bounds every packet after CONNECT, fixed header
	// included. Default, or Unlimited: the protocol maximum (about 256 MiB).
	MaxPacketSize int

	// MaxSubscriptions bounds the subscriptions one session holds. A
	// SUBSCRIBE beyond it is refused for the filters over the bound: SUBACK
	// 0x97 Quota exceeded (MQTT 5) or 0x80 (3.1.1). Replacing an existing
	// subscription always succeeds. Default 100,000; Unlimited for no
	// bound.
	MaxSubscriptions int

	// MemoryLimit is Mosquitto's memory_limit, in bytes: the live Go heap
	// the last garbage collection found, corrected at once for each
	// retained message stored or deleted since (see memory.go). Over it, a
	// PUBLISH that adds memory is dropped and its client disconnected (MQTT
	// 5: DISCONNECT 0x97 Quota exceeded); the retained PUBLISH that would
	// take the count over is the first refused. A PUBLISH that frees memory
	// (an empty retained message, or one no larger than the retained
	// message it replaces) is never refused. Publishing resumes once the
	// count is below 90% of the limit. The count is refreshed every 100 ms;
	// while over, the Server runs a collection when none ran for 2 s.
	// Default, or Unlimited: no limit. The Server does not touch the Go runtime's own memory
	// limit (debug.SetMemoryLimit), which is the whole program's: a program
	// that runs only the broker may set it to the same value, so that
	// garbage is collected before the limit refuses messages, as midge
	// broker does.
	MemoryLimit int64

	// Store keeps retained messages and persistent sessions across
	// restarts (Mosquitto's persistence). A Server with a Store is made
	// with Open, which restores what the store holds. Nil keeps nothing.
	Store Store

	// MaxKeepAlive is the largest keep alive a client may ask for, in
	// seconds. An MQTT 3.1.1 client asking for more is refused with CONNACK
	// 2, as Mosquitto does. Default 65535.
	MaxKeepAlive uint16

	// ReceiveMaximum bounds the QoS 1 and 2 messages one MQTT 5 client may
	// have sent that the broker has not yet answered with PUBACK, PUBCOMP,
	// or a PUBREC refusing it; one more is a protocol error (DISCONNECT
	// 0x93) [MQTT-3.3.4-9]. A QoS 2 message counts until its PUBCOMP, so
	// this also bounds the exactly-once state a client can make the broker
	// hold. It is announced in every MQTT 5 CONNACK below 65535. Default:
	// MaxInflight, as Mosquitto announces max_inflight_messages.
	ReceiveMaximum uint16

	// TopicAliasMaximum is the highest topic alias an MQTT 5 client may
	// use toward the broker (Mosquitto's max_topic_alias). Default 10; set
	// NoTopicAliases to refuse aliases altogether.
	TopicAliasMaximum uint16

	// NoTopicAliases announces a topic alias maximum of 0.
	NoTopicAliases bool

	// BrokerTopicAliasMaximum is the most topic aliases the broker assigns
	// on the PUBLISH packets it sends to one MQTT 5 client (Mosquitto
	// 2.1's max_topic_alias_broker), within the Topic Alias Maximum of the
	// client's CONNECT; a client that sent none gets no aliases. The first
	// message on a topic carries the name and an alias, later ones only
	// the alias; when all are taken the least recently used is replaced.
	// Default 10, as in Mosquitto 2.1; set NoBrokerTopicAliases to assign
	// none.
	BrokerTopicAliasMaximum uint16

	// NoBrokerTopicAliases stops the broker assigning topic aliases.
	NoBrokerTopicAliases bool

	// ResponseTopicPrefix makes the Response Information the broker hands
	// an MQTT 5 client that asks for it: the prefix and the client
	// identifier. Default "response/".
	ResponseTopicPrefix string

	// NoEmptyClientID refuses clients that connect with an empty client
	// identifier instead of assigning them one (Mosquitto's
	// allow_zero_length_clientid false).
	NoEmptyClientID bool

	// SessionTakeoverAnyUser lets any client take over a session, and the
	// connection holding it, by connecting with its client identifier, as
	// Mosquitto does (midge's session_takeover_any_user). By default a
	// session made by a client with a user name is taken over only by a
	// client with the same user name; any other, with a user name or
	// without, is refused with CONNACK 0x85 Client Identifier not valid
	// (MQTT 3.1.1: 2), and the session and its connection are left as they
	// were. With it, a client of another user inherits the session, as in
	// Mosquitto, under its own access.
	SessionTakeoverAnyUser bool

	// ClientIDPrefix, when set, admits only clients whose identifier starts
	// with it; others are refused as not authorized (Mosquitto's
	// clientid_prefixes).
	ClientIDPrefix string

	// AutoIDPrefix starts the client identifiers the broker assigns to
	// clients that connect with an empty one. Default "auto-".
	AutoIDPrefix string

	// GoroutinePerConnection keeps a reading goroutine for every connection
	// even where the event-driven reader exists (Linux, plain TCP). Idle
	// connections then cost a parked goroutine each.
	GoroutinePerConnection bool

	// Clock is the time keep alive, expiry, will delay, the memory
	// sampler and $SYS go by. Nil: the system's clock. Tests set one they
	// move by hand (see Clock).
	Clock Clock

	// Version is reported in logs and $SYS. Default "dev".
	Version string

	// SysInterval is how often the $SYS/broker/... topics are published
	// (Mosquitto's sys_interval). Default 10 seconds; negative disables
	// $SYS altogether (Mosquitto's sys_interval 0).
	SysInterval time.Duration

	// SysFigures, when not nil, adds figures of the embedding program (a
	// bridge's state and counters) to $SYS: each update calls it with a
	// put that publishes payload on $SYS/broker/NAME, retained, when it
	// changed. A name put in one update and not in the next is deleted
	// (an empty retained message). It runs on the $SYS goroutine, must not
	// block, and is not reloadable.
	SysFigures func(put func(name, payload string))
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = systemClock{}
	}
	switch {
	case o.MaxInflight < 0 || o.MaxInflight > 65535:
		o.MaxInflight = 65535
	case o.MaxInflight == 0:
		o.MaxInflight = 20
	}
	if o.MaxQueued == 0 {
		o.MaxQueued = 1000
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.MaxSubscriptions == 0 {
		o.MaxSubscriptions = 100000
	}
	if o.MaxConnectSize <= 0 {
		o.MaxConnectSize = 100000
	}
	if o.MaxKeepAlive == 0 {
		o.MaxKeepAlive = 65535
	}
	if o.ReceiveMaximum == 0 {
		o.ReceiveMaximum = uint16(min(o.MaxInflight, 65535))
	}
	if o.NoTopicAliases {
		o.TopicAliasMaximum = 0
	} else if o.TopicAliasMaximum == 0 {
		o.TopicAliasMaximum = 10
	}
	if o.NoBrokerTopicAliases {
		o.BrokerTopicAliasMaximum = 0
	} else if o.BrokerTopicAliasMaximum == 0 {
		o.BrokerTopicAliasMaximum = 10
	}
	if o.ResponseTopicPrefix == "" {
		o.ResponseTopicPrefix = "response/"
	}
	if o.AutoIDPrefix == "" {
		o.AutoIDPrefix = "auto-"
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	if o.SysInterval == 0 {
		o.SysInterval = defaultSysInterval
	}
	return o
}
