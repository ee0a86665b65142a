package bench

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func TestBucketRangeHoldsItsValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	values := []int64{0, 1, 255, 256, 257, 511, 512, 1 << 20, 1<<38 - 1, 1 << 38, math.MaxInt64}
	for range 10000 {
		values = append(values, rng.Int64N(1<<40))
	}
	for _, v := range values {
		i := bucketOf(v)
		if i < 0 || i >= histBuckets {
			t.Fatalf("bucketOf(%d) = %d, outside [0, %d)", v, i, histBuckets)
		}
		low, high := bucketRange(i)
		if i == histBuckets-1 {
			high = math.MaxInt64
		}
		if v < low || v > high {
			t.Fatalf("bucketOf(%d) = %d, whose range is [%d, %d]", v, i, low, high)
		}
		if v >= 256 && i < histBuckets-1 && float64(high-low) > float64(low)/histSub {
			t.Fatalf("bucket %d [%d, %d] is wider than 1/%d of its values", i, low, high, histSub)
		}
	}
	for i := 1; i < histBuckets; i++ { // contiguous, no gaps or overlaps
		_, prevHigh := bucketRange(i - 1)
		low, _ := bucketRange(i)
		if low != prevHigh+1 {
			t.Fatalf("bucket %d starts at %d, bucket %d ends at %d", i, low, i-1, prevHigh)
		}
	}
}

func TestQuantilesOfUniformValues(t *testing.T) {
	var h Histogram
	// 1 µs to 100 ms in steps of 1 µs, shuffled.
	const n = 100000
	rng := rand.New(rand.NewPCG(3, 4))
	for _, i := range rng.Perm(n) {
		h.Record(int64(i+1) * 1000)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{
		{0.50, 50 * time.Millisecond},
		{0.90, 90 * time.Millisecond},
		{0.99, 99 * time.Millisecond},
		{0.999, 99900 * time.Microsecond},
	} {
		got := h.Quantile(tc.q)
		if rel := math.Abs(float64(got-tc.want)) / float64(tc.want); rel > 0.01 {
			t.Errorf("Quantile(%v) = %v, want %v within 1%%", tc.q, got, tc.want)
		}
	}
	if h.Quantile(1) != 100*time.Millisecond || h.Max() != 100*time.Millisecond {
		t.Errorf("max = %v, Quantile(1) = %v; want 100ms exactly", h.Max(), h.Quantile(1))
	}
	if h.Min() != time.Microsecond {
		t.Errorf("min = %v, want 1µs", h.Min())
	}
	if mean := h.Mean(); mean != 50000500*time.Nanosecond {
		t.Errorf("mean = %v, want 50.0005ms", mean)
	}
}

func TestQuantileSmallCounts(t *testing.T) {
	var h Histogram
	if h.Quantile(0.5) != 0 || h.Count() != 0 {
		t.Fatal("an empty histogram should report 0")
	}
	h.Record(100) // exact below 256 ns
	h.Record(200)
	h.Record(-5) // a clock step: counts as 0
	if got := h.Quantile(0.5); got != 100 {
		t.Errorf("median of 0, 100, 200 = %v, want 100ns", got)
	}
	if got := h.Quantile(0.01); got != 0 {
		t.Errorf("Quantile(0.01) = %v, want 0", got)
	}
}

func TestMerge(t *testing.T) {
	var a, b, all Histogram
	for i := int64(1); i <= 1000; i++ {
		v := i * i * 37
		all.Record(v)
		if i%2 == 0 {
			a.Record(v)
		} else {
			b.Record(v)
		}
	}
	var merged Histogram
	merged.Merge(&a)
	merged.Merge(&b)
	merged.Merge(new(Histogram))
	if merged != all {
		t.Fatal("merging two halves differs from recording the whole")
	}
}
