package bench

import (
	"math"
	"math/bits"
	"time"
)

// The histogram's buckets are log-linear, as in HdrHistogram: values below
// 2*histSub nanoseconds have a bucket each, and every power of two above
// is split into histSub buckets, so a bucket is never wider than 1/128 of
// its values (under 0.8% error). Values from 2^(histMaxShift+8) ns (about
// 275 s) on share the last bucket; the exact maximum is kept beside.
const (
	histSubBits  = 7
	histSub      = 1 << histSubBits
	histMaxShift = 30
	histBuckets  = (histMaxShift + 2) * histSub
)

// Histogram counts durations in fixed log-linear buckets. Record never
// allocates; a Histogram is about 32 KiB and is not safe for concurrent
// use: give each goroutine its own and Merge them.
type Histogram struct {
	counts   [histBuckets]uint64
	total    uint64
	sum      uint64 // nanoseconds, for the mean
	min, max int64
}

// bucketOf returns the bucket index of v nanoseconds (negative counts as 0).
func bucketOf(v int64) int {
	if v < 0 {
		v = 0
	}
	u := uint64(v)
	if u < 2*histSub {
		return int(u)
	}
	shift := bits.Len64(u) - (histSubBits + 1)
	if shift > histMaxShift {
		return histBuckets - 1
	}
	return shift*histSub + int(u>>shift)
}

// bucketRange returns the smallest and largest value of bucket i.
func bucketRange(i int) (low, high int64) {
	if i < 2*histSub {
		return int64(i), int64(i)
	}
	shift := i/histSub - 1
	top := int64(i - shift*histSub)
	return top << shift, (top+1)<<shift - 1
}

// Record counts one duration of v nanoseconds. A negative duration, which
// clocks that step back can produce, counts as 0.
func (h *Histogram) Record(v int64) {
	if v < 0 {
		v = 0
	}
	h.counts[bucketOf(v)]++
	if h.total == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.total++
	h.sum += uint64(v)
}

// Merge adds the counts of other to h.
func (h *Histogram) Merge(other *Histogram) {
	if other.total == 0 {
		return
	}
	for i, c := range other.counts {
		h.counts[i] += c
	}
	if h.total == 0 || other.min < h.min {
		h.min = other.min
	}
	h.max = max(h.max, other.max)
	h.total += other.total
	h.sum += other.sum
}

// Count returns the number of recorded values.
func (h *Histogram) Count() uint64 { return h.total }

// Max returns the largest recorded value, exactly.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Min returns the smallest recorded value, exactly.
func (h *Histogram) Min() time.Duration { return time.Duration(h.min) }

// Mean returns the mean of the recorded values.
func (h *Histogram) Mean() time.Duration {
	if h.total == 0 {
		return 0
	}
	return time.Duration(h.sum / h.total)
}

// Quantile returns the value below or at which the fraction q (0 to 1) of
// the recorded values lie: the middle of the bucket holding the value of
// rank ceil(q*count), kept between the exact minimum and maximum. It is 0
// for an empty histogram.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	if q >= 1 {
		return time.Duration(h.max)
	}
	rank := uint64(math.Ceil(q * float64(h.total)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			low, high := bucketRange(i)
			mid := low + (high-low)/2
			return time.Duration(min(max(mid, h.min), h.max))
		}
	}
	return time.Duration(h.max)
}
