package topic

import "sync"

// Names indexes topic names, one value per name; the retained message store
// uses it. MatchFilter answers a topic filter with cost in proportion to the
// size of the answer: it walks the names by the filter's levels, a '+' fans
// out over one level's children and a '#' takes a whole subtree.
//
// Names are read as Match reads them and are not validated: call ValidName
// first. A Names is safe for concurrent use. Use NewNames; the zero value is
// not usable.
type Names[V any] struct {
	mu   sync.RWMutex
	root *nameNode[V] // guarded by mu; never nil and never set
}

// nameNode is one level of the names in a Names. A name's value lives at the
// node of its last level.
type nameNode[V any] struct {
	// The children, by level: a node with one child keeps it in one and
	// oneLevel, since a map costs a few hundred bytes and most nodes near
	// the leaves of a large store have a single child; from the second
	// child on all of them are in children and one is nil. Walks visit one
	// and then the map.
	one      *nameNode[V]
	oneLevel string
	children map[string]*nameNode[V]
	name     string // the whole name, when set
	value    V
	// count is the number of names at or below this node; a node other
	// than the root is pruned when it drops to 0. It sizes the answer to a
	// filter ending in '#' ahead of time.
	count int32
	set   bool
}

// NewNames returns an empty Names.
func NewNames[V any]() *Names[V] {
	return &Names[V]{root: &nameNode[V]{}}
}

// Set stores v as the value of name.
func (n *Names[V]) Set(name string, v V) { n.Swap(name, v) }

// Swap stores v as the value of name and returns the value it replaces, if
// any, in one step.
func (n *Names[V]) Swap(name string, v V) (old V, replaced bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	node := n.root
	for rest := name; ; {
		level, next, last := nextLevel(rest)
		child := node.child(level)
		if child == nil {
			child = &nameNode[V]{}
			node.addChild(level, child)
		}
		node = child
		if last {
			break
		}
		rest = next
	}
	if !node.set {
		n.root.addCount(name)
	}
	old, replaced = node.value, node.set
	node.name, node.value, node.set = name, v, true
	return old, replaced
}

// child returns the child for level, or nil.
func (node *nameNode[V]) child(level string) *nameNode[V] {
	if node.children != nil {
		return node.children[level]
	}
	if node.one != nil && node.oneLevel == level {
		return node.one
	}
	return nil
}

// addChild adds c as the child for level, which node does not have.
func (node *nameNode[V]) addChild(level string, c *nameNode[V]) {
	switch {
	case node.children != nil:
		node.children[level] = c
	case node.one == nil:
		node.one, node.oneLevel = c, level
	default:
		node.children = map[string]*nameNode[V]{node.oneLevel: node.one, level: c}
		node.one, node.oneLevel = nil, ""
	}
}

// removeChild removes the child for level; a last child left in the map
// moves back out of it.
func (node *nameNode[V]) removeChild(level string) {
	if node.children == nil {
		if node.oneLevel == level {
			node.one, node.oneLevel = nil, ""
		}
		return
	}
	delete(node.children, level)
	if len(node.children) == 1 {
		for l, c := range node.children {
			node.one, node.oneLevel = c, l
		}
		node.children = nil
	}
}

// addCount adds one to the count of node and of every node on the path of
// name below it, which must exist.
func (node *nameNode[V]) addCount(name string) {
	node.count++
	for rest := name; ; {
		level, next, last := nextLevel(rest)
		node = node.child(level)
		node.count++
		if last {
			return
		}
		rest = next
	}
}

// Delete removes name, pruning nodes left empty, and reports whether it was
// there.
func (n *Names[V]) Delete(name string) (deleted bool) {
	_, deleted = n.Remove(name)
	return deleted
}

// Remove removes name, as Delete does, and returns the value it had.
func (n *Names[V]) Remove(name string) (old V, removed bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.root.delete(name)
}

// delete removes name, the levels below node, takes one from the counts on
// its path and prunes the child it went through if that child is left
// empty; it returns the value name had. It recurses once per level of name.
func (node *nameNode[V]) delete(name string) (old V, deleted bool) {
	level, rest, last := nextLevel(name)
	child := node.child(level)
	if child == nil {
		return old, false
	}
	if last {
		if !child.set {
			return old, false
		}
		var zero V
		old = child.value
		child.name, child.value, child.set = "", zero, false
		child.count--
	} else if old, deleted = child.delete(rest); !deleted {
		return old, false
	}
	node.count--
	if child.count == 0 {
		node.removeChild(level)
	}
	return old, true
}

// DeleteFunc removes name if it is set and drop reports true for its
// value, in one step: a value set again meanwhile is judged, not the one
// the caller saw. It reports whether name was removed.
func (n *Names[V]) DeleteFunc(name string, drop func(V) bool) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	v, ok := n.getLocked(name)
	if !ok || !drop(v) {
		return false
	}
	_, deleted := n.root.delete(name)
	return deleted
}

// Get returns the value of name.
func (n *Names[V]) Get(name string) (V, bool) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.getLocked(name)
}

func (n *Names[V]) getLocked(name string) (V, bool) {
	node := n.root
	for rest := name; node != nil; {
		level, next, last := nextLevel(rest)
		node = node.child(level)
		if last {
			break
		}
		rest = next
	}
	if node == nil || !node.set {
		var zero V
		return zero, false
	}
	return node.value, true
}

// Len returns the number of names.
func (n *Names[V]) Len() int {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return int(n.root.count)
}

// MatchFilter calls fn for every name that filter matches, with the '$' rule
// of Match [MQTT-4.7.2-1], in no particular order, until fn returns false.
// It copies the matches under the read lock and calls fn without the lock,
// so fn may call any method of n (a retained message handed to a slow
// session holds no one up) and sees the names as they were when MatchFilter
// began. The copy allocates in proportion to the number of matches.
func (n *Names[V]) MatchFilter(filter string, fn func(name string, v V) bool) {
	n.mu.RLock()
	found := make([]nameEntry[V], 0, n.root.sizeHint(filter))
	found = n.root.matchFilter(filter, true, found)
	n.mu.RUnlock()
	for _, m := range found {
		if !fn(m.name, m.value) {
			return
		}
	}
}

// sizeHint returns an upper bound of the number of names below node that
// filter matches when that is cheap to know: for a filter of literal levels
// and for one of literal levels and a last '#'. Otherwise it returns 0.
func (node *nameNode[V]) sizeHint(filter string) int {
	for rest := filter; ; {
		level, next, last := nextLevel(rest)
		switch {
		case last && level == "#":
			return int(node.count)
		case level == "+":
			return 0
		}
		if node = node.child(level); node == nil {
			return 0
		}
		if last {
			return 1
		}
		rest = next
	}
}

type nameEntry[V any] struct {
	name  string
	value V
}

// matchFilter appends the names below node that match filter, the levels of
// the filter that remain below node; root reports that node is the root,
// where wildcards skip levels starting with '$' [MQTT-4.7.2-1].
func (node *nameNode[V]) matchFilter(filter string, root bool, found []nameEntry[V]) []nameEntry[V] {
	level, rest, last := nextLevel(filter)
	switch {
	case last && level == "#":
		if node.set {
			found = append(found, nameEntry[V]{node.name, node.value}) // "sport/#" matches "sport"
		}
		if node.one != nil && (!root || !IsSystem(node.oneLevel)) {
			found = node.one.appendAll(found)
		}
		for childLevel, child := range node.children {
			if !root || !IsSystem(childLevel) {
				found = child.appendAll(found)
			}
		}
	case level == "+":
		if node.one != nil && (!root || !IsSystem(node.oneLevel)) {
			found = node.one.matchRest(rest, last, found)
		}
		for childLevel, child := range node.children {
			if !root || !IsSystem(childLevel) {
				found = child.matchRest(rest, last, found)
			}
		}
	default:
		if child := node.child(level); child != nil {
			found = child.matchRest(rest, last, found)
		}
	}
	return found
}

// matchRest appends the names at or below node, which matched a level of
// the filter, that match the levels in rest; last reports that the filter has
// no levels left.
func (node *nameNode[V]) matchRest(rest string, last bool, found []nameEntry[V]) []nameEntry[V] {
	if !last {
		return node.matchFilter(rest, false, found)
	}
	if node.set {
		found = append(found, nameEntry[V]{node.name, node.value})
	}
	return found
}

// appendAll appends node's name and every name below it.
func (node *nameNode[V]) appendAll(found []nameEntry[V]) []nameEntry[V] {
	if node.set {
		found = append(found, nameEntry[V]{node.name, node.value})
	}
	if node.one != nil {
		found = node.one.appendAll(found)
	}
	for _, child := range node.children {
		found = child.appendAll(found)
	}
	return found
}
