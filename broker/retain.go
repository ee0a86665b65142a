package broker

import (
	"sync"
	"sync/atomic"

	"github.com/midge-mqtt/midge/topic"
)

// retainStore holds the last retained message of each topic name.
type retainStore struct {
	names *topic.Names[retained]
	// order puts retained messages and new subscriptions in one order: a
	// retained message is stored and matched against the subscriptions
	// under its read lock (Server.retainAndMatch), and a SUBSCRIBE adds its
	// subscriptions and reads the retained messages under its write lock.
	// Each retained message thus reaches a new subscriber once, either from
	// the store (stored first) or live (matched after), never both, and
	// never a stale stored one after a newer live one. Publications of
	// messages without RETAIN do not take it.
	order sync.RWMutex
	// bytes is what the retained messages cost by retainedCost: the part
	// of memory_limit's count that changes the moment a retained message
	// is stored or deleted (see memory.go).
	bytes atomic.Int64
}

// retained is a retained message and what its publisher may write, for
// check_retain_source; source is nil when the check does not apply (the
// broker's own messages, a publisher allowed everything, or the check
// turned off).
type retained struct {
	msg    *Message
	source TopicAccess
}

func newRetainStore() retainStore {
	return retainStore{names: topic.NewNames[retained]()}
}

// set stores m as the retained message of its topic; an empty payload
// removes the topic's retained message [MQTT-3.3.1-10], [MQTT-3.3.1-11].
func (r *retainStore) set(m *Message, source TopicAccess) {
	var old retained
	var had bool
	if len(m.Payload) == 0 {
		old, had = r.names.Remove(m.Topic)
	} else {
		old, had = r.names.Swap(m.Topic, retained{msg: m, source: source})
		r.bytes.Add(m.retainedCost())
	}
	if had {
		r.bytes.Add(-old.msg.retainedCost())
	}
}

func (r *retainStore) count() int { return r.names.Len() }

// match calls fn with every retained message whose topic matches filter,
// and its publisher's access; now (Unix nanoseconds) tells which have
// expired.
//
// Retained messages whose expiry interval passed are not delivered, and are
// removed from the store on the way.
func (r *retainStore) match(filter string, now int64, fn func(m *Message, source TopicAccess)) {
	var expired []*Message
	r.names.MatchFilter(filter, func(_ string, e retained) bool {
		if e.msg.expiresAt != 0 && now >= e.msg.expiresAt {
			expired = append(expired, e.msg)
		} else {
			fn(e.msg, e.source)
		}
		return true
	})
	for _, m := range expired {
		if r.names.DeleteFunc(m.Topic, func(cur retained) bool { return cur.msg == m }) {
			r.bytes.Add(-m.retainedCost())
		}
	}
}

// identity is who published a message, as its client was given to the
// Authorizer: what a Store keeps with a retained message so that a
// restarted broker can ask for the publisher's access again, for
// check_retain_source (Mosquitto keeps source_id and source_username with
// each stored message).
type identity struct {
	clientID, username string
	hasUsername        bool
}

// restoredSource is the access to check m, a retained message or will
// restored from the Store, against: that of its recorded publisher, which
// the broker-wide Authorizer gives again for the client identifier and
// user name alone (what else its connection had, such as its listener, is
// not recorded). It is nil, and the message goes out unchecked, when the
// record names no publisher (a store written before publishers were kept:
// Mosquitto too skips the check for a message without a source), when
// there is no Authorizer or it allows the publisher everything, and when
// the check is off. known holds the publishers met so far in this restore,
// so that their messages share one identity and one access each.
func (s *Server) restoredSource(m *Message, known map[identity]restoredPublisher) TopicAccess {
	if m.source == nil {
		return nil
	}
	p, ok := known[*m.source]
	if !ok {
		p.who = m.source
		if a := s.o().Authorizer; a != nil && !s.o().NoRetainSourceCheck {
			p.access = a.Access(ConnectInfo{ClientID: p.who.clientID, Username: p.who.username, HasUsername: p.who.hasUsername})
		}
		known[*m.source] = p
	}
	m.source = p.who
	return p.access
}

// restoredPublisher is a publisher of restored messages and its access.
type restoredPublisher struct {
	who    *identity
	access TopicAccess
}
