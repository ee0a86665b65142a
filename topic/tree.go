package topic

import "sync"

// Tree indexes subscriptions: each entry is a topic filter, a key (the
// client identifier) and a value, with at most one entry per (filter, key).
// Finding the entries whose filters match a topic name costs time in
// proportion to the name's depth and the number of wildcard branches that
// match, not to the number of entries.
//
// Filters are read as Match reads them and are not validated: call
// ValidFilter first. Tree gives "$share/..." no special meaning; the broker
// strips "$share/GROUP/" and indexes a shared subscription in the same Tree
// under the filter that follows, with a key that names the group.
//
// A Tree is safe for concurrent use. Use NewTree; the zero value is not
// usable.
type Tree[V any] struct {
	mu   sync.RWMutex
	root *treeNode[V] // guarded by mu; never nil
	size int          // guarded by mu; number of entries
}

// treeNode is one level of the filters in a Tree. A filter's entries live in
// exact at the node of its last level; a filter ending in "/#" keeps them in
// hash at the node of the level before the '#' (the filter "#" at the root).
type treeNode[V any] struct {
	children map[string]*treeNode[V] // literal levels; nil when none
	plus     *treeNode[V]            // the level "+"; nil when none
	exact    entries[V]
	hash     entries[V]
}

func (n *treeNode[V]) empty() bool {
	return len(n.children) == 0 && n.plus == nil && n.exact.len() == 0 && n.hash.len() == 0
}

// child returns the child for level, or nil.
func (n *treeNode[V]) child(level string) *treeNode[V] {
	if level == "+" {
		return n.plus
	}
	return n.children[level]
}

// childOrNew returns the child for level, adding it when missing.
func (n *treeNode[V]) childOrNew(level string) *treeNode[V] {
	if c := n.child(level); c != nil {
		return c
	}
	c := &treeNode[V]{}
	if level == "+" {
		n.plus = c
		return c
	}
	if n.children == nil {
		n.children = make(map[string]*treeNode[V])
	}
	n.children[level] = c
	return c
}

func (n *treeNode[V]) deleteChild(level string) {
	if level == "+" {
		n.plus = nil
		return
	}
	delete(n.children, level)
	if len(n.children) == 0 {
		n.children = nil
	}
}

// NewTree returns an empty Tree.
func NewTree[V any]() *Tree[V] {
	return &Tree[V]{root: &treeNode[V]{}}
}

// find returns the entry set that holds the entries of filter, creating the
// nodes on its way when create is true; it returns nil when it does not
// exist and create is false.
func (n *treeNode[V]) find(filter string, create bool) *entries[V] {
	for {
		level, rest, last := nextLevel(filter)
		if last && level == "#" {
			return &n.hash
		}
		next := n.child(level)
		if next == nil {
			if !create {
				return nil
			}
			next = n.childOrNew(level)
		}
		n = next
		if last {
			return &n.exact
		}
		filter = rest
	}
}

// Add stores v as the entry for (filter, key) and reports whether it
// replaced an earlier value.
func (t *Tree[V]) Add(filter, key string, v V) (replaced bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	replaced = t.root.find(filter, true).set(key, v)
	if !replaced {
		t.size++
	}
	return replaced
}

// Remove deletes the entry for (filter, key), pruning nodes left empty, and
// reports whether there was one.
func (t *Tree[V]) Remove(filter, key string) (removed bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	removed = t.root.remove(filter, key)
	if removed {
		t.size--
	}
	return removed
}

// remove deletes the entry for (filter, key) below n and prunes the child
// it went through if that child is left empty. It recurses once per level
// of filter.
func (n *treeNode[V]) remove(filter, key string) bool {
	level, rest, last := nextLevel(filter)
	if last && level == "#" {
		return n.hash.remove(key)
	}
	c := n.child(level)
	if c == nil {
		return false
	}
	var removed bool
	if last {
		removed = c.exact.remove(key)
	} else {
		removed = c.remove(rest, key)
	}
	if removed && c.empty() {
		n.deleteChild(level)
	}
	return removed
}

// Get returns the value of the entry for (filter, key).
func (t *Tree[V]) Get(filter, key string) (V, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if e := t.root.find(filter, false); e != nil {
		return e.get(key)
	}
	var zero V
	return zero, false
}

// Len returns the number of entries.
func (t *Tree[V]) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.size
}

// MatchAppend appends to dst the value of every entry whose filter matches
// the topic name name, with the '$' rule of Match [MQTT-4.7.2-1], and returns
// the extended slice. A key with several matching filters contributes one
// value per filter; the order is unspecified. It does not allocate when dst
// has room for the values. It holds the read lock, so matches run in
// parallel with each other but not with Add or Remove.
func (t *Tree[V]) MatchAppend(name string, dst []V) []V {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if !IsSystem(name) {
		return t.root.match(name, dst)
	}
	// The first level of a name starting with '$' is matched by literal
	// levels only: not by "#" nor by a first level of "+" [MQTT-4.7.2-1].
	level, rest, last := nextLevel(name)
	if c := t.root.children[level]; c != nil {
		dst = c.matchRest(rest, last, dst)
	}
	return dst
}

// match appends the values of the entries below n that match name, the
// levels of the topic name that remain below n (at least one).
func (n *treeNode[V]) match(name string, dst []V) []V {
	dst = append(dst, n.hash.values...) // "#" matches one level or more
	level, rest, last := nextLevel(name)
	if c := n.children[level]; c != nil {
		dst = c.matchRest(rest, last, dst)
	}
	if c := n.plus; c != nil {
		dst = c.matchRest(rest, last, dst)
	}
	return dst
}

// matchRest appends the values of the entries at or below n, the node that
// matched a level of the name, that match the levels in rest; last reports
// that the name has no levels left.
func (n *treeNode[V]) matchRest(rest string, last bool, dst []V) []V {
	if !last {
		return n.match(rest, dst)
	}
	dst = append(dst, n.exact.values...)
	return append(dst, n.hash.values...) // "sport/#" matches "sport"
}

// Walk calls fn for every entry, in no particular order, until fn returns
// false. It copies the entries under the read lock and calls fn without the
// lock, so fn may call any method of t, and sees the entries as they were
// when Walk began. The copy costs memory in proportion to Len.
func (t *Tree[V]) Walk(fn func(filter, key string, v V) bool) {
	t.mu.RLock()
	var all []treeEntry[V]
	if t.size > 0 {
		all = make([]treeEntry[V], 0, t.size)
		all = t.root.collect(nil, true, all)
	}
	t.mu.RUnlock()
	for _, e := range all {
		if !fn(e.filter, e.key, e.value) {
			return
		}
	}
}

type treeEntry[V any] struct {
	filter, key string
	value       V
}

// collect appends every entry at or below n; path is the filter of n, with
// root true for the root (which has no filter of its own).
func (n *treeNode[V]) collect(path []byte, root bool, all []treeEntry[V]) []treeEntry[V] {
	if n.exact.len() > 0 {
		all = appendEntries(all, string(path), &n.exact)
	}
	if n.hash.len() > 0 {
		filter := "#"
		if !root {
			filter = string(path) + "/#"
		}
		all = appendEntries(all, filter, &n.hash)
	}
	if !root {
		path = append(path, '/')
	}
	for level, c := range n.children {
		all = c.collect(append(path, level...), false, all)
	}
	if n.plus != nil {
		all = n.plus.collect(append(path, '+'), false, all)
	}
	return all
}

func appendEntries[V any](all []treeEntry[V], filter string, e *entries[V]) []treeEntry[V] {
	for i, key := range e.keys {
		all = append(all, treeEntry[V]{filter: filter, key: key, value: e.values[i]})
	}
	return all
}
