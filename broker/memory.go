package broker

import (
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"time"

	"github.com/midge-mqtt/midge/packets"
)

// What memory_limit counts, and why.
//
// Mosquitto counts every malloc and free as it happens. Go can't do that:
// the heap learns what is free only when the garbage collector runs, and
// heap figures (objects, RSS) stay high after data is dropped, and then
// stay high for good if the refused clients stop allocating and so no
// collection comes. midge therefore counts two things:
//
//   - the live heap the last collection marked (/gc/heap/live:bytes):
//     everything the broker holds, sessions, queues, subscriptions and
//     buffers included, but only as fresh as the last collection;
//   - corrected by the retained messages stored and deleted since, at
//     retainedCost each, which the retained store adds up as it changes.
//
// The watcher rebases the count at each collection it sees (base is the
// live heap less the retained bytes at that moment), so deleting retained
// messages lowers the count at once and a collection later settles what
// they really held. While over the limit the watcher also runs a
// collection itself now and then, so memory freed elsewhere (queues that
// drained, sessions that ended) is seen although refused clients no longer
// allocate.
//
// The check on the publish path is one atomic load (over) for a message
// without RETAIN; a retained message, the one kind a client can pile up
// for good, is weighed against the limit itself, so the client that drives
// memory over is the one refused, not whoever publishes next.

// memorySampleInterval is how often the watcher recounts the memory in use.
const memorySampleInterval = 100 * time.Millisecond

// memoryCollectInterval: while over the limit, the watcher runs the garbage
// collector when none has run for this long.
const memoryCollectInterval = 2 * time.Second

// memoryResumePercent is the hysteresis: once over the limit, publishing
// that adds memory stays refused until the count is below this share of
// the limit, so the broker does not flap at the limit.
const memoryResumePercent = 90

// retainedOverhead is what a retained message holds besides its topic and
// payload bytes: the Message, its encoding's header and size-class
// rounding, the store's nodes. Measured in the live heap after a
// collection, 20,000 messages of 2 kB took 2,642 bytes each on topics r/N
// and 2,811 on a/N/b/N; the next collection corrects the difference.
const retainedOverhead = 600

const (
	liveHeapMetric    = "/gc/heap/live:bytes"
	heapObjectsMetric = "/memory/classes/heap/objects:bytes" // before the first collection
	gcCyclesMetric    = "/gc/cycles/total:gc-cycles"
)

// retainedCost is what memory_limit counts for a retained message.
func retainedCost(topicLen, payloadLen int) int64 {
	return int64(topicLen + payloadLen + retainedOverhead)
}

func (m *Message) retainedCost() int64 { return retainedCost(len(m.Topic), len(m.Payload)) }

// memoryGuard is the state of Options.MemoryLimit. The watcher writes it
// and publishing connections read it.
type memoryGuard struct {
	// over: a PUBLISH that adds memory is refused. Set when the count goes
	// over the limit (by the watcher, or by the retained PUBLISH that would
	// take it over); cleared by the watcher when the count is below
	// memoryResumePercent of the limit.
	over atomic.Bool
	// base is the memory in use other than the retained messages' cost:
	// the live heap at the last collection the watcher saw, less
	// retainStore.bytes then. The count is base + retainStore.bytes.
	base atomic.Int64
	// source, when set (tests), replaces the live heap; each sample of it
	// counts as a collection.
	source atomic.Pointer[func() uint64]
}

// memoryUsed is memory_limit's count: see the top of this file.
func (s *Server) memoryUsed() int64 { return s.memory.base.Load() + s.retained.bytes.Load() }

// refusesForMemory reports whether p, whose topic is whole (mounted), is
// refused for memory. A PUBLISH that frees memory never is: a retained one
// with an empty payload (it deletes the topic's retained message), or one
// no larger than the retained message it replaces, so that a client can
// always clear what fills the broker. A retained PUBLISH that would take
// the count over the limit is refused, and turns the refusal on for every
// publisher; any other is refused while it is on.
func (s *Server) refusesForMemory(p *packets.Publish) bool {
	if !p.Retain {
		return s.memory.over.Load() // small enough to inline on the hot path
	}
	return s.refusesRetained(p)
}

func (s *Server) refusesRetained(p *packets.Publish) bool {
	g := &s.memory
	limit := s.o().MemoryLimit
	if limit <= 0 || len(p.Payload) == 0 {
		return false
	}
	growth := retainedCost(len(p.Topic), len(p.Payload))
	if old, ok := s.retained.names.Get(p.Topic); ok {
		if growth -= old.msg.retainedCost(); growth <= 0 {
			return false
		}
	}
	if g.over.Load() {
		return true
	}
	if s.memoryUsed()+growth > limit {
		g.over.Store(true)
		return true
	}
	return false
}

// memorySampler is the watcher's own state.
type memorySampler struct {
	metrics   []metrics.Sample // live heap, heap objects, GC cycles
	cycles    uint64           // GC cycles at the last rebase
	collected time.Time        // when base was last rebased
}

// watchMemory keeps s.memory up to date until done is closed.
func (s *Server) watchMemory(done <-chan struct{}) {
	ms := &memorySampler{metrics: []metrics.Sample{{Name: liveHeapMetric}, {Name: heapObjectsMetric}, {Name: gcCyclesMetric}}}
	t := s.o().Clock.NewTicker(memorySampleInterval)
	defer t.Stop()
	was := false
	for {
		limit := s.o().MemoryLimit // a Reload may change it, or turn it off
		used := int64(0)
		if limit > 0 {
			used = s.sampleMemory(ms)
		}
		g := &s.memory
		switch {
		case limit <= 0 || used < limit/100*memoryResumePercent:
			g.over.Store(false)
		case used > limit:
			g.over.Store(true)
		}
		if now := g.over.Load(); now != was {
			was = now
			s.logMemory(now, used, limit)
		}
		select {
		case <-done:
			return
		case <-t.C():
		}
	}
}

// sampleMemory rebases s.memory.base when a collection ran since the last
// sample (running one itself when over the limit and none ran for
// memoryCollectInterval) and returns the count.
func (s *Server) sampleMemory(ms *memorySampler) int64 {
	g := &s.memory
	if f := g.source.Load(); f != nil {
		g.base.Store(int64((*f)()) - s.retained.bytes.Load())
		return s.memoryUsed()
	}
	if g.over.Load() && s.o().Clock.Now().Sub(ms.collected) >= memoryCollectInterval {
		runtime.GC()
	}
	metrics.Read(ms.metrics)
	live, heap, cycles := ms.metrics[0].Value, ms.metrics[1].Value, ms.metrics[2].Value
	if cycles.Kind() != metrics.KindUint64 || live.Kind() != metrics.KindUint64 {
		return s.memoryUsed() // not this Go: only the retained messages count
	}
	n := cycles.Uint64()
	if n != ms.cycles || ms.collected.IsZero() {
		measured := live.Uint64()
		if n == 0 && heap.Kind() == metrics.KindUint64 {
			measured = heap.Uint64() // no collection yet: live and garbage
		}
		g.base.Store(int64(measured) - s.retained.bytes.Load())
		ms.cycles, ms.collected = n, s.o().Clock.Now()
	}
	return s.memoryUsed()
}

func (s *Server) logMemory(over bool, used, limit int64) {
	if over {
		s.log.Warn(fmt.Sprintf("memory_limit reached (%d of %d bytes in use): a PUBLISH that adds memory is dropped and its client "+
			"disconnected until use is back under %d%% of the limit; empty retained messages still clear what is stored.",
			used, limit, memoryResumePercent))
		return
	}
	s.log.Info(fmt.Sprintf("Memory use is back under memory_limit (%d of %d bytes): publishing resumes.", used, limit))
}
