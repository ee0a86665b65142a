// Package store keeps the broker's state across restarts: it implements
// broker.Store (keys and values of the broker's choosing, written in
// batches) in memory, for tests and for persistence off, and on disk.
package store

import (
	"slices"
	"strings"
	"sync"
)

// Memory is a Store that keeps everything in a map: it survives a broker
// restart within one process (what tests need), not a process restart.
// The zero value is empty and ready.
type Memory struct {
	mu     sync.Mutex
	m      map[string][]byte
	closed bool
}

// Write applies the batch at once; done is called before Write returns.
func (s *Memory) Write(keys, values [][]byte, _ bool, done func(error)) {
	s.mu.Lock()
	if s.m == nil {
		s.m = make(map[string][]byte)
	}
	err := error(nil)
	if s.closed {
		err = ErrClosed
	} else {
		for i, k := range keys {
			if values[i] == nil {
				delete(s.m, string(k))
			} else {
				s.m[string(k)] = values[i]
			}
		}
	}
	s.mu.Unlock()
	if done != nil {
		done(err)
	}
}

// Load calls fn with every key and value in key order.
func (s *Memory) Load(fn func(key, value []byte) error) error {
	s.mu.Lock()
	keys := make([]string, 0, len(s.m))
	for k := range s.m {
		keys = append(keys, k)
	}
	values := make(map[string][]byte, len(s.m))
	for _, k := range keys {
		values[k] = s.m[k]
	}
	s.mu.Unlock()
	slices.SortFunc(keys, strings.Compare)
	for _, k := range keys {
		if err := fn([]byte(k), values[k]); err != nil {
			return err
		}
	}
	return nil
}

// Close marks the store closed; its contents stay for a later Reopen.
func (s *Memory) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}

// Reopen makes a closed store writable again, as a broker restarted in the
// same process would find it.
func (s *Memory) Reopen() *Memory {
	s.mu.Lock()
	s.closed = false
	s.mu.Unlock()
	return s
}

// Len is the number of keys held.
func (s *Memory) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}
