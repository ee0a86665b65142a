// Package bridge runs Mosquitto's bridges: `connection` sections that tie
// midge to a remote broker, forwarding topics out, in or both ways.
package bridge

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/midge-mqtt/midge/topic"
)

// Direction is the way a bridge topic's messages cross.
type Direction int

const (
	Out  Direction = iota // local to remote (Mosquitto's default)
	In                    // remote to local
	Both                  // both ways
)

func (d Direction) String() string {
	return [...]string{"out", "in", "both"}[d]
}

// Topic is one `topic` line of a bridge: which topics cross, which way, at
// what highest QoS, and how their names change on the way. A topic named
// locally LocalPrefix+X is named remotely RemotePrefix+X, for every X that
// Pattern matches.
type Topic struct {
	// Pattern is the topic filter; empty (`""` in the file) when the
	// prefixes are the whole topic.
	Pattern   string
	Direction Direction
	// QoS is the highest a message crosses at: the lower of it and the
	// message's.
	QoS                       byte
	LocalPrefix, RemotePrefix string
}

// ParseTopic reads the arguments of a `topic` line, as Mosquitto 2.0 does:
//
//	topic PATTERN [[[out|in|both] QOS] LOCAL-PREFIX REMOTE-PREFIX]
//
// `""` stands for an empty pattern or prefix; a pattern may be empty only
// when both prefixes are given, and then they name the topic. A word that
// starts with '#' where a prefix would be starts a comment. The errors
// are Mosquitto's, for the caller to place at the line.
func ParseTopic(args []string) (Topic, error) {
	var t Topic
	if len(args) == 0 {
		return t, errors.New("empty topic value")
	}
	t.Pattern = unquote(args[0])
	if len(args) > 1 {
		switch strings.ToLower(args[1]) {
		case "out":
			t.Direction = Out
		case "in":
			t.Direction = In
		case "both":
			t.Direction = Both
		default:
			return t, fmt.Errorf("invalid bridge topic direction '%s' (accepted: out, in, both)", args[1])
		}
	}
	if len(args) > 2 {
		qos, err := strconv.Atoi(args[2])
		if err != nil || qos < 0 || qos > 2 {
			return t, fmt.Errorf("invalid bridge QoS level '%s' (accepted: 0, 1, 2)", args[2])
		}
		t.QoS = byte(qos)
	}
	if len(args) > 3 && !strings.HasPrefix(args[3], "#") {
		t.LocalPrefix = unquote(args[3])
		if len(args) > 4 && !strings.HasPrefix(args[4], "#") {
			t.RemotePrefix = unquote(args[4])
		}
	}
	return t, t.check()
}

// unquote turns Mosquitto's `""` into the empty string.
func unquote(s string) string {
	if s == `""` {
		return ""
	}
	return s
}

// check applies Mosquitto's rules to a parsed topic line.
func (t Topic) check() error {
	if t.Pattern == "" && (t.LocalPrefix == "" || t.RemotePrefix == "") {
		return errors.New("invalid bridge remapping: an empty topic pattern needs a local and a remote prefix")
	}
	for _, p := range []struct{ which, prefix string }{{"local", t.LocalPrefix}, {"remote", t.RemotePrefix}} {
		if p.prefix == "" {
			continue
		}
		if err := topic.ValidName(p.prefix); err != nil {
			return fmt.Errorf("invalid bridge topic %s prefix '%s': %v", p.which, p.prefix, err)
		}
		if err := topic.ValidFilter(p.prefix + t.Pattern); err != nil {
			return fmt.Errorf("invalid bridge topic %s prefix and pattern combination '%s': %v", p.which, p.prefix+t.Pattern, err)
		}
	}
	if t.Pattern != "" {
		if err := topic.ValidFilter(t.Pattern); err != nil {
			return fmt.Errorf("invalid bridge topic pattern '%s': %v", t.Pattern, err)
		}
	}
	return nil
}

// LocalFilter is the filter the bridge's messages have on the local side.
func (t Topic) LocalFilter() string { return t.LocalPrefix + t.Pattern }

// RemoteFilter is the filter the bridge's messages have on the remote side.
func (t Topic) RemoteFilter() string { return t.RemotePrefix + t.Pattern }

// Outgoing reports whether messages cross from local to remote.
func (t Topic) Outgoing() bool { return t.Direction != In }

// Incoming reports whether messages cross from remote to local.
func (t Topic) Incoming() bool { return t.Direction != Out }

// ToRemote is the remote name of a local topic name, and false when the
// name is not one this topic carries out.
func (t Topic) ToRemote(name string) (string, bool) {
	if !t.Outgoing() || !topic.Match(t.LocalFilter(), name) {
		return "", false
	}
	return t.RemotePrefix + strings.TrimPrefix(name, t.LocalPrefix), true
}

// ToLocal is the local name of a remote topic name, and false when the
// name is not one this topic carries in.
func (t Topic) ToLocal(name string) (string, bool) {
	if !t.Incoming() || !topic.Match(t.RemoteFilter(), name) {
		return "", false
	}
	return t.LocalPrefix + strings.TrimPrefix(name, t.RemotePrefix), true
}
