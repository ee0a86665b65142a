package broker

import (
	"sync"
	"sync/atomic"

	"github.com/midge-mqtt/midge/topic"
)

// Shared subscriptions ($share/GROUP/FILTER, MQTT 5, and for MQTT 3.1.1
// clients too, as Mosquitto allows): each message that matches FILTER goes
// to one member of GROUP, chosen in turn among the members that are
// connected and may read the topic; offline persistent members are chosen
// only when no member is online. Retained messages are not sent on a
// shared subscription, as in Mosquitto. A member that disconnects with QoS 1
// or 2 messages in flight keeps them in its session and receives them
// again when it resumes; if its session ends first they are lost. (The
// spec allows this; handing them to another member is a SHOULD left for
// later.)

// shareGroup is one GROUP and FILTER pair: the round-robin position its
// members share.
type shareGroup struct {
	name    string
	filter  string
	next    atomic.Uint32
	members int // guarded by shareGroups.mu
}

// shareGroups holds the groups that have members.
type shareGroups struct {
	mu sync.Mutex
	m  map[string]*shareGroup // group + "\x00" + filter
}

func (g *shareGroups) join(group, filter string) *shareGroup {
	g.mu.Lock()
	defer g.mu.Unlock()
	key := group + "\x00" + filter
	sg := g.m[key]
	if sg == nil {
		if g.m == nil {
			g.m = make(map[string]*shareGroup)
		}
		sg = &shareGroup{name: group, filter: filter}
		g.m[key] = sg
	}
	sg.members++
	return sg
}

func (g *shareGroups) leave(sg *shareGroup) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if sg.members--; sg.members == 0 {
		delete(g.m, sg.name+"\x00"+sg.filter)
	}
}

// indexEntry gives where a session's subscription to filter (as the client
// wrote it) lives in the subscription index: the filter to match and the
// key of the entry under it. A shared subscription's key names its group,
// so one session can be in several groups on the same filter.
func indexEntry(ss *session, filter string) (match, key string, group string) {
	group, inner, shared := topic.ParseShared(filter)
	if !shared {
		return filter, ss.id, ""
	}
	return inner, "\x00" + group + "\x00" + ss.id, group
}

// deliverShared picks one member for each shared group among r.shared and
// delivers m to it.
func (s *Server) deliverShared(m *Message, r *router, upgrade bool) {
	for i := 0; i < len(r.shared); i++ {
		sg := r.shared[i].sub.share
		if sg == nil {
			continue // a group handled already
		}
		members := r.members[:0]
		for j := i; j < len(r.shared); j++ {
			if r.shared[j].sub.share == sg {
				members = append(members, r.shared[j])
				r.shared[j].sub.share = nil
			}
		}
		r.members = members
		pick := pickMember(members, m, int(sg.next.Add(1)))
		sub := members[pick]
		sub.session.deliver(s, m, outQoS(m.QoS, sub.sub.qos, upgrade), sub.sub.rap && m.Retain, sub.sub.subIDs)
	}
	clear(r.shared)
	r.shared = r.shared[:0]
	clear(r.members)
}

// pickMember chooses, starting at the turn start, the first member that is
// online and may read the message; failing that, the member at start.
func pickMember(members []subscriber, m *Message, start int) int {
	n := len(members)
	for k := range n {
		i := (start + k) % n
		if ss := members[i].session; ss.online.Load() && ss.mayRead(m) {
			return i
		}
	}
	return start % n
}
