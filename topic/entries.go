package topic

// indexThreshold is the number of entries above which an entry set keeps a
// map from key to position; at or below it a linear scan of the keys is
// cheaper than hashing.
const indexThreshold = 16

// entries is the set of subscriptions that end at one place in a Tree, one
// value per key. Keys and values are kept in parallel slices so that matching
// copies the values with a single append; the order of entries is not kept
// (removal moves the last entry into the hole). The zero value is empty.
type entries[V any] struct {
	keys   []string
	values []V
	// index maps a key to its position in keys and values; nil while
	// len(keys) <= indexThreshold.
	index map[string]int
}

func (e *entries[V]) len() int { return len(e.keys) }

// find returns the position of key, or -1.
func (e *entries[V]) find(key string) int {
	if e.index != nil {
		if i, ok := e.index[key]; ok {
			return i
		}
		return -1
	}
	for i, k := range e.keys {
		if k == key {
			return i
		}
	}
	return -1
}

// get returns the value of key.
func (e *entries[V]) get(key string) (V, bool) {
	if i := e.find(key); i >= 0 {
		return e.values[i], true
	}
	var zero V
	return zero, false
}

// set stores v under key and reports whether it replaced a value.
func (e *entries[V]) set(key string, v V) (replaced bool) {
	if i := e.find(key); i >= 0 {
		e.values[i] = v
		return true
	}
	e.keys = append(e.keys, key)
	e.values = append(e.values, v)
	switch {
	case e.index != nil:
		e.index[key] = len(e.keys) - 1
	case len(e.keys) > indexThreshold:
		e.index = make(map[string]int, len(e.keys))
		for i, k := range e.keys {
			e.index[k] = i
		}
	}
	return false
}

// remove deletes key and reports whether it was there.
func (e *entries[V]) remove(key string) (removed bool) {
	i := e.find(key)
	if i < 0 {
		return false
	}
	last := len(e.keys) - 1
	if i != last {
		e.keys[i] = e.keys[last]
		e.values[i] = e.values[last]
		if e.index != nil {
			e.index[e.keys[i]] = i
		}
	}
	var zero V
	e.keys[last] = ""
	e.values[last] = zero // let the value be collected
	e.keys = e.keys[:last]
	e.values = e.values[:last]
	if e.index != nil {
		delete(e.index, key)
		if len(e.keys) <= indexThreshold/2 {
			e.index = nil
		}
	}
	if last == 0 {
		e.keys, e.values = nil, nil
	} else if cap(e.keys) >= 64 && len(e.keys) < cap(e.keys)/4 {
		e.shrink()
	}
	return true
}

// shrink reallocates the slices at twice their length so that a set that
// was once large does not hold its peak memory.
func (e *entries[V]) shrink() {
	keys := make([]string, len(e.keys), 2*len(e.keys))
	copy(keys, e.keys)
	values := make([]V, len(e.values), 2*len(e.values))
	copy(values, e.values)
	e.keys, e.values = keys, values
}
