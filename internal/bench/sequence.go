package bench

// seqWindow is how many sequence numbers below the highest one seen a
// tracker remembers individually. A message older than that is counted as
// out of order and assumed new: a duplicate that late cannot be told apart.
const seqWindow = 1024

// SequenceTracker follows the sequence numbers of one publisher as one
// subscriber receives them, and counts duplicates and out-of-order
// deliveries as they arrive. Losses are what is missing at the end (see
// Missing). The zero value is ready; it never allocates.
type SequenceTracker struct {
	next    uint64 // one past the highest sequence seen; 0 before the first
	lowest  uint64 // the lowest sequence seen
	seen    [seqWindow / 64]uint64
	unique  uint64
	dups    uint64
	reorder uint64
}

// Observe records one delivery of sequence number seq.
func (t *SequenceTracker) Observe(seq uint32) {
	s := uint64(seq)
	switch {
	case t.unique == 0 && t.dups == 0:
		t.lowest = s
		t.next = s + 1
		t.mark(s)
		t.unique++
	case s >= t.next:
		t.advance(s + 1)
		t.mark(s)
		t.unique++
	case t.next-s > seqWindow:
		t.reorder++
		t.unique++
		t.lowest = min(t.lowest, s)
	case t.marked(s):
		t.dups++
	default:
		t.mark(s)
		t.reorder++
		t.unique++
		t.lowest = min(t.lowest, s)
	}
}

// advance moves the window so that next becomes n, forgetting the
// sequence numbers that leave it.
func (t *SequenceTracker) advance(n uint64) {
	if n-t.next >= seqWindow {
		t.seen = [seqWindow / 64]uint64{}
	} else {
		for s := t.next; s < n; s++ {
			t.seen[s%seqWindow/64] &^= 1 << (s % 64)
		}
	}
	t.next = n
}

func (t *SequenceTracker) mark(s uint64) { t.seen[s%seqWindow/64] |= 1 << (s % 64) }

func (t *SequenceTracker) marked(s uint64) bool {
	return t.seen[s%seqWindow/64]&(1<<(s%64)) != 0
}

// Unique returns how many distinct sequence numbers arrived.
func (t *SequenceTracker) Unique() uint64 { return t.unique }

// Duplicates returns how many deliveries repeated a sequence number.
func (t *SequenceTracker) Duplicates() uint64 { return t.dups }

// OutOfOrder returns how many deliveries came after a higher sequence
// number from the same publisher.
func (t *SequenceTracker) OutOfOrder() uint64 { return t.reorder }

// Missing returns how many of the sequence numbers 0 to sent-1 never
// arrived. With sent 0 (the count is unknown, as for a subscriber on its
// own) it counts the gaps between the lowest and the highest seen.
func (t *SequenceTracker) Missing(sent uint64) uint64 {
	span := sent
	if sent == 0 {
		if t.unique == 0 {
			return 0
		}
		span = t.next - t.lowest
	}
	if t.unique >= span {
		return 0
	}
	return span - t.unique
}
