package broker

import (
	"runtime/metrics"
	"time"
)

// memorySampleInterval is how often the heap is compared with
// Options.MemoryLimit.
const memorySampleInterval = 100 * time.Millisecond

// heapObjectsMetric is the bytes held by heap objects, live or not yet
// swept: what the broker has allocated and not given back.
const heapObjectsMetric = "/memory/classes/heap/objects:bytes"

// watchMemory keeps s.overMemoryLimit up to date until done is closed. A
// publishing connection reads the flag: one atomic load per PUBLISH.
func (s *Server) watchMemory(done <-chan struct{}) {
	sample := []metrics.Sample{{Name: heapObjectsMetric}}
	t := time.NewTicker(memorySampleInterval)
	defer t.Stop()
	for {
		metrics.Read(sample)
		limit := s.o().MemoryLimit // a Reload may change it, or turn it off
		over := limit > 0 && sample[0].Value.Kind() == metrics.KindUint64 && sample[0].Value.Uint64() > uint64(limit)
		if s.overMemoryLimit.Swap(over) != over {
			if over {
				s.log.Warn("memory_limit reached: publishing clients are disconnected until the heap shrinks",
					"heap_bytes", sample[0].Value.Uint64(), "memory_limit", limit)
			} else {
				s.log.Info("heap back under memory_limit", "heap_bytes", sample[0].Value.Uint64())
			}
		}
		select {
		case <-done:
			return
		case <-t.C:
		}
	}
}
