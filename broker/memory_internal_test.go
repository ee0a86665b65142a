package broker

import (
	"testing"

	"github.com/midge-mqtt/midge/packets"
)

// BenchmarkMemoryCheck measures memory_limit's check on a PUBLISH with and
// without RETAIN (the retained one looks up the message it would replace).
func BenchmarkMemoryCheck(b *testing.B) {
	s := New(Options{MemoryLimit: 1 << 40})
	s.retained.set(&Message{Topic: "bench/retained", Payload: make([]byte, 64), Retain: true}, nil)
	for _, p := range []*packets.Publish{
		{Topic: "bench/plain", Payload: make([]byte, 64)},
		{Topic: "bench/retained", Payload: make([]byte, 128), Retain: true},
	} {
		b.Run("retain="+map[bool]string{false: "0", true: "1"}[p.Retain], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if s.refusesForMemory(p) {
					b.Fatal("refused under the limit")
				}
			}
		})
	}
}

// TestMemoryCheckAllocatesNothing holds memory_limit's check on the publish
// path to zero allocations.
func TestMemoryCheckAllocatesNothing(t *testing.T) {
	s := New(Options{MemoryLimit: 1 << 40})
	s.retained.set(&Message{Topic: "a/b", Payload: []byte("x"), Retain: true}, nil)
	plain := &packets.Publish{Topic: "a/b", Payload: []byte("x")}
	retained := &packets.Publish{Topic: "a/b", Payload: []byte("xyz"), Retain: true}
	if allocs := testing.AllocsPerRun(1000, func() {
		s.refusesForMemory(plain)
		s.refusesForMemory(retained)
	}); allocs != 0 {
		t.Fatalf("the memory check allocates %.1f times per PUBLISH, want 0", allocs)
	}
}
