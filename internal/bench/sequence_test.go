package bench

import "testing"

func observeAll(seqs ...uint32) *SequenceTracker {
	t := new(SequenceTracker)
	for _, s := range seqs {
		t.Observe(s)
	}
	return t
}

func TestSequenceTracker(t *testing.T) {
	for _, tc := range []struct {
		name                           string
		seqs                           []uint32
		sent                           uint64
		unique, dups, reorder, missing uint64
		missingUnknownSent             uint64
	}{
		{"in order", []uint32{0, 1, 2, 3}, 4, 4, 0, 0, 0, 0},
		{"tail lost", []uint32{0, 1, 2}, 5, 3, 0, 0, 2, 0},
		{"gap", []uint32{0, 1, 4, 5}, 6, 4, 0, 0, 2, 2},
		{"duplicate", []uint32{0, 1, 1, 2, 2, 2}, 3, 3, 3, 0, 0, 0},
		{"duplicate of the highest after a gap", []uint32{0, 5, 5}, 6, 2, 1, 0, 4, 4},
		{"reordered", []uint32{0, 2, 1, 3}, 4, 4, 0, 1, 0, 0},
		{"reordered and then repeated", []uint32{1, 0, 0}, 2, 2, 1, 1, 0, 0},
		{"late start", []uint32{10, 11, 13}, 14, 3, 0, 0, 11, 1},
		{"far behind the window", []uint32{0, 5000, 3}, 5001, 3, 0, 1, 4998, 4998},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := observeAll(tc.seqs...)
			if tr.Unique() != tc.unique || tr.Duplicates() != tc.dups || tr.OutOfOrder() != tc.reorder {
				t.Errorf("unique, duplicates, out of order = %d, %d, %d; want %d, %d, %d",
					tr.Unique(), tr.Duplicates(), tr.OutOfOrder(), tc.unique, tc.dups, tc.reorder)
			}
			if got := tr.Missing(tc.sent); got != tc.missing {
				t.Errorf("Missing(%d) = %d, want %d", tc.sent, got, tc.missing)
			}
			if got := tr.Missing(0); got != tc.missingUnknownSent {
				t.Errorf("Missing(0) = %d, want %d", got, tc.missingUnknownSent)
			}
		})
	}
}

func TestSequenceTrackerWindowSlides(t *testing.T) {
	var tr SequenceTracker
	for s := uint32(0); s < 10*seqWindow; s++ {
		tr.Observe(s)
		if s >= 3 {
			tr.Observe(s - 3) // every number comes back three later
		}
	}
	if tr.Unique() != 10*seqWindow || tr.Duplicates() != 10*seqWindow-3 || tr.OutOfOrder() != 0 {
		t.Fatalf("unique %d, duplicates %d, out of order %d", tr.Unique(), tr.Duplicates(), tr.OutOfOrder())
	}
	// A number just inside the window that never came is out of order,
	// not a duplicate, even after the window has wrapped many times.
	var gap SequenceTracker
	for s := uint32(0); s < 5*seqWindow; s++ {
		if s != 4*seqWindow+10 {
			gap.Observe(s)
		}
	}
	gap.Observe(4*seqWindow + 10)
	if gap.Duplicates() != 0 || gap.OutOfOrder() != 1 || gap.Missing(5*seqWindow) != 0 {
		t.Fatalf("duplicates %d, out of order %d, missing %d", gap.Duplicates(), gap.OutOfOrder(), gap.Missing(5*seqWindow))
	}
}
