package store

import (
	"errors"
	"slices"
	"testing"
)

func TestMemoryWriteLoad(t *testing.T) {
	var s Memory
	var done []error
	record := func(err error) { done = append(done, err) }
	s.Write([][]byte{[]byte("b"), []byte("a"), []byte("c")}, [][]byte{[]byte("2"), []byte("1"), []byte("3")}, true, record)
	s.Write([][]byte{[]byte("c")}, [][]byte{nil}, false, record)
	var keys, values []string
	if err := s.Load(func(k, v []byte) error {
		keys, values = append(keys, string(k)), append(values, string(v))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys, []string{"a", "b"}) || !slices.Equal(values, []string{"1", "2"}) {
		t.Fatalf("Load gave %q = %q, want a, b = 1, 2 in key order with c deleted", keys, values)
	}
	if len(done) != 2 || done[0] != nil || done[1] != nil {
		t.Fatalf("done calls: %v", done)
	}

	s.Close()
	s.Write([][]byte{[]byte("d")}, [][]byte{[]byte("4")}, true, record)
	if !errors.Is(done[2], ErrClosed) || s.Len() != 2 {
		t.Fatalf("write after Close: %v, %d keys", done[2], s.Len())
	}
	s.Reopen().Write([][]byte{[]byte("d")}, [][]byte{[]byte("4")}, true, record)
	if done[3] != nil || s.Len() != 3 {
		t.Fatalf("write after Reopen: %v, %d keys", done[3], s.Len())
	}
}
