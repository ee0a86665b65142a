package topic

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchFilter returns the i-th of a family of filters shaped like
// "s12/d345/m67": mostly literal, one in ten with a '+' level and one in ten
// ending in '#', spread over levels so that n filters are mostly distinct.
func benchFilter(r *rand.Rand, width int) string {
	site, device, metric := r.IntN(width), r.IntN(width), r.IntN(width)
	switch r.IntN(10) {
	case 0:
		switch r.IntN(3) {
		case 0:
			return fmt.Sprintf("+/d%d/m%d", device, metric)
		case 1:
			return fmt.Sprintf("s%d/+/m%d", site, metric)
		default:
			return fmt.Sprintf("s%d/d%d/+", site, device)
		}
	case 1:
		if r.IntN(2) == 0 {
			return fmt.Sprintf("s%d/#", site)
		}
		return fmt.Sprintf("s%d/d%d/#", site, device)
	default:
		return fmt.Sprintf("s%d/d%d/m%d", site, device, metric)
	}
}

// benchTree returns a Tree of n filters, one client per filter.
func benchTree(n int) *Tree[int] {
	r := rand.New(rand.NewPCG(uint64(n), 1))
	width := 2
	for width*width*width < n {
		width++
	}
	tree := NewTree[int]()
	for i := range n {
		tree.Add(benchFilter(r, width), fmt.Sprint("client", i), i)
	}
	return tree
}

func BenchmarkTreeMatchAppend(b *testing.B) {
	for _, n := range []int{10, 10_000, 1_000_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			tree := benchTree(n)
			name := "s1/d1/m1"
			dst := make([]int, 0, 1024)
			matches := len(tree.MatchAppend(name, dst[:0]))
			b.ReportAllocs()
			for b.Loop() {
				dst = tree.MatchAppend(name, dst[:0])
			}
			b.ReportMetric(float64(matches), "matches/op")
		})
	}
}

func BenchmarkTreeMatchAppendParallel(b *testing.B) {
	tree := benchTree(10_000)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		dst := make([]int, 0, 1024)
		for pb.Next() {
			dst = tree.MatchAppend("s1/d1/m1", dst[:0])
		}
	})
}

func BenchmarkMatch(b *testing.B) {
	for _, c := range []struct{ name, filter, topic string }{
		{"literal", "sport/tennis/player1/ranking", "sport/tennis/player1/ranking"},
		{"plus", "sport/+/player1/+", "sport/tennis/player1/ranking"},
		{"hash", "sport/#", "sport/tennis/player1/ranking"},
		{"share", "$share/group/sport/+/player1/#", "sport/tennis/player1/ranking"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				filter := c.filter
				if _, inner, ok := ParseShared(filter); ok {
					filter = inner
				}
				if !Match(filter, c.topic) {
					b.Fatal("no match")
				}
			}
		})
	}
}

func BenchmarkValidFilter(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if ValidFilter("$share/group/sport/+/player1/#") != nil {
			b.Fatal("invalid")
		}
	}
}

// BenchmarkNamesMatchFilter answers "a/#" from 100k names, all of them under
// "a" (answer 100k) or one in a hundred (answer 1k).
func BenchmarkNamesMatchFilter(b *testing.B) {
	for _, c := range []struct {
		name  string
		every int // one name in every is under "a"
	}{{"all-under-a", 1}, {"1pct-under-a", 100}} {
		b.Run(c.name, func(b *testing.B) {
			names := NewNames[int]()
			for i := range 100_000 {
				first := "a"
				if i%c.every != 0 {
					first = fmt.Sprint("x", i%1000)
				}
				names.Set(fmt.Sprintf("%s/%d/%d", first, i/100, i%100), i)
			}
			count := 0
			names.MatchFilter("a/#", func(string, int) bool { count++; return true })
			b.ReportAllocs()
			for b.Loop() {
				names.MatchFilter("a/#", func(string, int) bool { return true })
			}
			b.ReportMetric(float64(count), "matches/op")
		})
	}
}

// BenchmarkNamesSet adds names shaped like a large retained store (site,
// sensor, value: the last two levels new for each name); B/op is about
// what the index keeps per name.
func BenchmarkNamesSet(b *testing.B) {
	names := NewNames[int]()
	topics := make([]string, 100_000)
	for i := range topics {
		topics[i] = fmt.Sprintf("site/%03d/sensor/%06d/value", i%1000, i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == len(topics) {
			b.StopTimer()
			names = NewNames[int]()
			i = 0
			b.StartTimer()
		}
		names.Set(topics[i], i)
		i++
	}
}
