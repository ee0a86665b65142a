package broker

// SetMemorySource makes s take the live heap that Options.MemoryLimit
// counts from f instead of the garbage collector, each call counting as a
// collection, so that tests of the limit do not depend on the runtime.
func SetMemorySource(s *Server, f func() uint64) { s.memory.source.Store(&f) }

// RetainedBytes is what memory_limit counts for s's retained messages.
func RetainedBytes(s *Server) int64 { return s.retained.bytes.Load() }

// RetainedCost is what memory_limit counts for one retained message.
func RetainedCost(topicLen, payloadLen int) int64 { return retainedCost(topicLen, payloadLen) }
