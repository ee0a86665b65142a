package broker

import "github.com/midge-mqtt/midge/topic"

// retainStore holds the last retained message of each topic name.
type retainStore struct {
	names *topic.Names[*Message]
}

func newRetainStore() retainStore {
	return retainStore{names: topic.NewNames[*Message]()}
}

// set stores m as the retained message of its topic; an empty payload
// removes the topic's retained message [MQTT-3.3.1-10], [MQTT-3.3.1-11].
func (r *retainStore) set(m *Message) {
	if len(m.Payload) == 0 {
		r.names.Delete(m.Topic)
		return
	}
	r.names.Set(m.Topic, m)
}

func (r *retainStore) count() int { return r.names.Len() }

// match calls fn with every retained message whose topic matches filter.
//
// Retained messages whose expiry interval passed are not delivered, and are
// removed from the store on the way.
func (r *retainStore) match(filter string, fn func(m *Message)) {
	var expired []*Message
	r.names.MatchFilter(filter, func(_ string, m *Message) bool {
		if m.expired() {
			expired = append(expired, m)
		} else {
			fn(m)
		}
		return true
	})
	for _, m := range expired {
		r.names.DeleteFunc(m.Topic, func(cur *Message) bool { return cur == m })
	}
}
