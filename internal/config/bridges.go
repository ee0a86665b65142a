package config

import (
	"fmt"
	"net"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Bridge is one `connection NAME` section: a bridge to a remote broker,
// with the bridge options that follow it in the same file. Pointers and
// empty strings are options not given (their defaults are Mosquitto's,
// listed in the registry); the runtime fills them in.
type Bridge struct {
	Name string
	File string // where its connection line is
	Line int

	// Addresses are the remote's host:port pairs (port 1883 when not
	// given), from address or addresses; RoundRobin is round_robin.
	Addresses  []string
	RoundRobin bool
	// Topics are the topic lines, their words as written; the bridge
	// package reads them (bridge.ParseTopic), and errors name their line.
	Topics []TopicLine

	ProtocolVersion                 string // bridge_protocol_version: mqttv31, mqttv311, mqttv50
	CleanSession, LocalCleanSession *bool
	RemoteClientID, LocalClientID   string
	RemoteUsername, RemotePassword  *string
	LocalUsername, LocalPassword    *string
	KeepaliveInterval               *int // seconds, 5 to 65535
	TryPrivate                      *bool
	AttemptUnsubscribe              *bool
	OutgoingRetain                  *bool
	MaxPacketSize                   *int
	BindAddress                     string
	StartType                       string // automatic, lazy, once
	Threshold, IdleTimeout          *int
	// RestartBase and RestartCap are restart_timeout: a constant delay
	// (RestartCap zero) or a jittered backoff from base up to cap.
	RestartBase, RestartCap time.Duration
	Notifications           *bool
	NotificationsLocalOnly  *bool
	NotificationTopic       string

	// TLS to the remote.
	CAFile, CAPath, CertFile, KeyFile string
	Insecure, RequireOCSP, UseOSCerts *bool
	TLSVersion, ALPN                  string
	Ciphers                           string

	// MQTT 5 and socket settings of Mosquitto 2.1.
	MaxTopicAlias, ReceiveMaximum *int
	SessionExpiryInterval         *int64
	TCPKeepalive                  []int // idle, interval, count
	TCPUserTimeout                *int  // milliseconds
	ReloadType                    string
	// DrainRate is bridge_drain_rate, a midge option.
	DrainRate *int

	lines map[string]position
}

// TopicLine is one `topic` line of a bridge.
type TopicLine struct {
	Args []string
	File string
	Line int
}

// At returns the file and line that set option in the bridge, or the
// connection line when the option was not set.
func (b *Bridge) At(option string) (file string, line int) {
	if at, ok := b.lines[option]; ok {
		return at.file, at.line
	}
	return b.File, b.Line
}

// Same reports whether b and o configure the same bridge, wherever their
// lines are: what a reload compares to leave an unchanged bridge running.
func (b *Bridge) Same(o *Bridge) bool {
	return reflect.DeepEqual(b.unplaced(), o.unplaced())
}

// unplaced is b without the files and lines it was read from.
func (b *Bridge) unplaced() Bridge {
	c := *b
	c.File, c.Line, c.lines = "", 0, nil
	c.Topics = make([]TopicLine, len(b.Topics))
	for i, t := range b.Topics {
		c.Topics[i] = TopicLine{Args: t.Args}
	}
	return c
}

// bridge returns the bridge a bridge option at t belongs to: the last
// connection section of the same file.
func (t *target) bridge() (*Bridge, error) {
	if t.p.currentBridge < 0 {
		return nil, fmt.Errorf("%s: needs a `connection NAME` line above it in the same file", t.option.Name)
	}
	b := &t.p.cfg.Bridges[t.p.currentBridge]
	if b.lines == nil {
		b.lines = make(map[string]position)
	}
	b.lines[t.option.Name] = t.at
	return b, nil
}

func setConnection(t *target, v *value) error {
	name, err := v.word("a name for the bridge")
	if err != nil {
		return err
	}
	for _, b := range t.p.cfg.Bridges {
		if b.Name == name {
			return fmt.Errorf("connection: a bridge named %q is already defined at %s:%d", name, b.File, b.Line)
		}
	}
	t.p.cfg.Bridges = append(t.p.cfg.Bridges, Bridge{Name: name, File: t.at.file, Line: t.at.line})
	t.p.currentBridge = len(t.p.cfg.Bridges) - 1
	return nil
}

// setAddresses reads address/addresses: host[:port] ..., port 1883 by
// default. An IPv6 address needs its port, as in Mosquitto ([::1]:1883).
func setAddresses(t *target, v *value) error {
	b, err := t.bridge()
	if err != nil {
		return err
	}
	if len(v.words) == 0 {
		return v.missing("host[:port] ...")
	}
	if len(b.Addresses) > 0 {
		return fmt.Errorf("%s: set twice for this bridge (accepted: one address line, with every host on it)", v.option)
	}
	for _, w := range v.words {
		host, port, err := net.SplitHostPort(w)
		if err != nil {
			if strings.Count(w, ":") > 1 || strings.ContainsAny(w, "[]") {
				return fmt.Errorf("%s: invalid address %q (accepted: host[:port]; an IPv6 address with its port, [::1]:1883)", v.option, w)
			}
			host, port = w, "1883"
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || host == "" {
			return fmt.Errorf("%s: invalid address %q (accepted: host[:port] with a port from 1 to 65535)", v.option, w)
		}
		b.Addresses = append(b.Addresses, net.JoinHostPort(host, port))
	}
	return nil
}

// setBridgeTopic keeps a topic line's words, `#` patterns included (the
// value's words stop at a comment), for the bridge package to read.
func setBridgeTopic(t *target, v *value) error {
	b, err := t.bridge()
	if err != nil {
		return err
	}
	args := strings.Fields(v.rest)
	if len(args) == 0 {
		return v.missing("PATTERN [[[out|in|both] QOS] LOCAL-PREFIX REMOTE-PREFIX]")
	}
	b.Topics = append(b.Topics, TopicLine{Args: args, File: t.at.file, Line: t.at.line})
	return nil
}

// setRestartTimeout reads restart_timeout: a constant number of seconds, or
// a base and a cap for a jittered backoff.
func setRestartTimeout(t *target, v *value) error {
	b, err := t.bridge()
	if err != nil {
		return err
	}
	const accepted = "SECONDS for a constant delay, or BASE CAP for a backoff"
	if len(v.words) < 1 || len(v.words) > 2 {
		return v.invalid(accepted)
	}
	var d [2]time.Duration
	for i, w := range v.words {
		n, err := strconv.Atoi(w)
		if err != nil || n < 1 {
			return v.invalid(accepted)
		}
		d[i] = time.Duration(n) * time.Second
	}
	if d[1] != 0 && d[1] < d[0] {
		return fmt.Errorf("%s: the cap %v is below the base %v (accepted: %s)", v.option, d[1], d[0], accepted)
	}
	b.RestartBase, b.RestartCap = d[0], d[1]
	return nil
}

// setTCPKeepalive reads bridge_tcp_keepalive IDLE INTERVAL COUNT.
func setTCPKeepalive(t *target, v *value) error {
	b, err := t.bridge()
	if err != nil {
		return err
	}
	const accepted = "IDLE INTERVAL COUNT, three numbers above 0"
	if len(v.words) != 3 {
		return v.invalid(accepted)
	}
	b.TCPKeepalive = nil
	for _, w := range v.words {
		n, err := strconv.Atoi(w)
		if err != nil || n < 1 {
			return v.invalid(accepted)
		}
		b.TCPKeepalive = append(b.TCPKeepalive, n)
	}
	return nil
}

func bridgeText(field func(*Bridge) *string, accepted string) func(*target, *value) error {
	return func(t *target, v *value) error {
		b, err := t.bridge()
		if err != nil {
			return err
		}
		return setOnce(field(b), v, accepted, " for this bridge")
	}
}

// bridgeSet is a bridge option read by read and stored through field; the
// helpers below are its common cases.
func bridgeSet[T any](field func(*Bridge) *T, read func(*value) (T, error)) func(*target, *value) error {
	return func(t *target, v *value) error {
		b, err := t.bridge()
		if err != nil {
			return err
		}
		x, err := read(v)
		if err == nil {
			*field(b) = x
		}
		return err
	}
}

// ptrTo makes a reader of values into one of pointers, for options whose
// absence is nil.
func ptrTo[T any](read func(*value) (T, error)) func(*value) (*T, error) {
	return func(v *value) (*T, error) {
		x, err := read(v)
		return &x, err
	}
}

func bridgeSecret(field func(*Bridge) **string) func(*target, *value) error {
	return bridgeSet(field, ptrTo(func(v *value) (string, error) { return v.word("one word") }))
}

func bridgeWord(field func(*Bridge) *string, values ...string) func(*target, *value) error {
	return bridgeSet(field, func(v *value) (string, error) { return v.oneOf(values...) })
}

func bridgeBool(field func(*Bridge) **bool) func(*target, *value) error {
	return bridgeSet(field, ptrTo((*value).boolean))
}

func bridgePlainBool(field func(*Bridge) *bool) func(*target, *value) error {
	return bridgeSet(field, (*value).boolean)
}

func bridgeInt(field func(*Bridge) **int, lo, hi int64, accepted string) func(*target, *value) error {
	return bridgeSet(field, ptrTo(func(v *value) (int, error) {
		n, err := v.integer(lo, hi, accepted)
		return int(n), err
	}))
}

func bridgeInt64(field func(*Bridge) **int64, lo, hi int64, accepted string) func(*target, *value) error {
	return bridgeSet(field, ptrTo(func(v *value) (int64, error) { return v.integer(lo, hi, accepted) }))
}
