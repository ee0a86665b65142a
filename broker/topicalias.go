package broker

import (
	"bufio"

	"github.com/midge-mqtt/midge/packets"
)

// This file holds the topic aliases the broker assigns on the PUBLISH
// packets it sends to an MQTT 5 client that allows them (Mosquitto 2.1's
// max_topic_alias_broker). The first message on a topic carries the name
// and an alias, later ones the alias and an empty name; when every alias
// is taken, the least recently used one is given to the new topic.
//
// A message is still encoded once per wire form and shared: the writer
// sends a head of its own (fixed header, the topic name or none, the
// packet identifier, the property length and the Topic Alias property,
// made by packets.AliasPublish) and then the shared encoding's tail (the
// other properties and the payload) straight from the shared bytes.
//
// Aliases belong to one network connection [MQTT-3.3.2-7]: the table lives
// on the conn, so a message resent after a reconnect goes with its name
// and an alias assigned on the new connection.
//
// The cost is the writer's, per delivery: about 17 ns more with an alias
// found (BenchmarkWriteAliases), about 70 ns when every message replaces
// the least recently used alias (three map operations); no allocation
// once the table has grown. Routing is untouched.

// outAliases is one connection's table of broker-assigned topic aliases.
// Only the connection's writer uses it (one writer runs at a time, handed
// on under the outbound queue's lock), so it needs no lock of its own.
type outAliases struct {
	max       uint16 // the highest alias: the client's Topic Alias Maximum, bounded by the option
	maxPacket uint32 // the client's Maximum Packet Size; 0 for the protocol's

	byTopic map[string]uint16
	// topics holds each alias's topic name; prev and next link the
	// aliases in the order of use, through index 0: next[0] is the most
	// recently used alias, prev[0] the least. All three grow as aliases
	// are assigned, so a client that allows 65535 costs what it uses.
	topics     []string
	prev, next []uint16

	head []byte // the writer's room for a packet's head
}

// newOutAliases returns the alias table for a client whose CONNECT
// allowed clientMax aliases, or nil when the broker assigns none to it: a
// client that sent no Topic Alias Maximum or 0 gets none [MQTT-3.1.2-27],
// and none goes above its maximum [MQTT-3.1.2-26] [MQTT-3.3.2-11].
func newOutAliases(clientMax, brokerMax uint16, maxPacket uint32) *outAliases {
	n := min(clientMax, brokerMax)
	if n == 0 {
		return nil
	}
	return &outAliases{max: n, maxPacket: maxPacket}
}

// lookup returns the alias name has, if any. A run of messages on one
// topic, the common case, finds it as the most recently used without
// hashing the name (from one publisher the strings are even the same).
func (a *outAliases) lookup(name string) (uint16, bool) {
	if len(a.next) > 0 {
		if mru := a.next[0]; a.topics[mru] == name {
			return mru, true
		}
	}
	alias, ok := a.byTopic[name]
	return alias, ok
}

// candidate returns the alias a new topic would get: the next unused one
// while there are any, then the least recently used.
func (a *outAliases) candidate() uint16 {
	used := max(len(a.topics)-1, 0)
	if used < int(a.max) {
		return uint16(used + 1)
	}
	return a.prev[0]
}

// bind gives alias, which candidate returned, to name, taking it from the
// topic that had it.
func (a *outAliases) bind(alias uint16, name string) {
	if a.byTopic == nil {
		a.byTopic = make(map[string]uint16)
		a.topics, a.prev, a.next = []string{""}, []uint16{0}, []uint16{0}
	}
	if int(alias) == len(a.topics) {
		a.topics = append(a.topics, name)
		a.prev = append(a.prev, 0)
		a.next = append(a.next, 0)
	} else {
		delete(a.byTopic, a.topics[alias])
		a.topics[alias] = name
		a.unlink(alias)
	}
	a.byTopic[name] = alias
	a.pushFront(alias)
}

// touch marks alias the most recently used.
func (a *outAliases) touch(alias uint16) {
	if a.next[0] != alias {
		a.unlink(alias)
		a.pushFront(alias)
	}
}

func (a *outAliases) unlink(alias uint16) {
	p, n := a.prev[alias], a.next[alias]
	a.next[p], a.prev[n] = n, p
}

func (a *outAliases) pushFront(alias uint16) {
	first := a.next[0]
	a.prev[alias], a.next[alias] = 0, first
	a.prev[first], a.next[0] = alias, alias
}

// write sends enc, an MQTT 5 PUBLISH of the topic name, with an alias:
// the one name has, or a new one. It patches in the item's packet
// identifier and DUP flag. written is false, and nothing is sent, when
// the aliased packet would exceed the client's Maximum Packet Size; the
// caller then writes enc as it is.
func (a *outAliases) write(w *bufio.Writer, it *outItem, enc []byte, name string) (n int, written bool, err error) {
	alias, known := a.lookup(name)
	if !known {
		alias = a.candidate()
	}
	head, tail, ok := packets.AliasPublish(a.head[:0], enc, alias, !known)
	if !ok {
		return 0, false, nil
	}
	a.head = head
	n = len(head) + len(tail)
	if a.maxPacket != 0 && uint32(n) > a.maxPacket {
		return 0, false, nil
	}
	if known {
		a.touch(alias)
	} else {
		a.bind(alias, name)
	}
	if it.dup {
		head[0] |= 0x08
	}
	if it.qos > 0 {
		packets.SetPacketID(head, it.id)
	}
	if _, err := w.Write(head); err != nil {
		return 0, true, err
	}
	_, err = w.Write(tail)
	return n, true, err
}
