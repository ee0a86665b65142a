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
func (r *retainStore) match(filter string, fn func(m *Message)) {
	r.names.MatchFilter(filter, func(_ string, m *Message) bool {
		if !m.expired() { // an expired one is dropped at the next set of its topic
			fn(m)
		}
		return true
	})
}
