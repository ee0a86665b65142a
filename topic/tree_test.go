package topic

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestTreeMatchCases(t *testing.T) {
	for _, tt := range matchCases {
		t.Run(tt.name, func(t *testing.T) {
			tree := NewTree[string]()
			tree.Add(tt.filter, "client", tt.filter)
			got := tree.MatchAppend(tt.topic, nil)
			if want := tt.want; (len(got) == 1) != want || len(got) > 1 {
				t.Errorf("Tree{%q}.MatchAppend(%q) = %q, want match %v", tt.filter, tt.topic, got, want)
			}
		})
	}
}

func TestTreeAddGetRemove(t *testing.T) {
	tree := NewTree[int]()
	if tree.Add("a/+", "c1", 1) {
		t.Error("first Add reported replaced")
	}
	if !tree.Add("a/+", "c1", 2) {
		t.Error("second Add of the same (filter, key) did not report replaced")
	}
	tree.Add("a/+", "c2", 3)
	tree.Add("a/#", "c1", 4)
	tree.Add("#", "c1", 5)
	tree.Add("a", "c1", 6)
	if got := tree.Len(); got != 5 {
		t.Errorf("Len = %d, want 5", got)
	}
	if v, ok := tree.Get("a/+", "c1"); !ok || v != 2 {
		t.Errorf("Get(a/+, c1) = %v, %v; want 2, true", v, ok)
	}
	if _, ok := tree.Get("a/+", "c3"); ok {
		t.Error("Get of a missing key reported found")
	}
	if _, ok := tree.Get("a/b", "c1"); ok {
		t.Error("Get of a missing filter reported found")
	}
	got := tree.MatchAppend("a/b", nil)
	slices.Sort(got)
	if want := []int{2, 3, 4, 5}; !slices.Equal(got, want) {
		t.Errorf("MatchAppend(a/b) = %v, want %v", got, want)
	}
	if tree.Remove("a/+", "c3") || tree.Remove("x/y", "c1") || tree.Remove("a/b/#", "c1") {
		t.Error("Remove of a missing entry reported removed")
	}
	for _, e := range []struct{ filter, key string }{{"a/+", "c1"}, {"a/+", "c2"}, {"a/#", "c1"}, {"#", "c1"}, {"a", "c1"}} {
		if !tree.Remove(e.filter, e.key) {
			t.Errorf("Remove(%q, %q) = false", e.filter, e.key)
		}
	}
	if got := tree.Len(); got != 0 {
		t.Errorf("Len after removing all = %d", got)
	}
	if !tree.root.empty() {
		t.Error("empty nodes were not pruned")
	}
}

// TestTreeManyKeys crosses indexThreshold in both directions.
func TestTreeManyKeys(t *testing.T) {
	tree := NewTree[int]()
	const n = 100
	for i := range n {
		tree.Add("a/b", fmt.Sprint("c", i), i)
	}
	for i := range n {
		if v, ok := tree.Get("a/b", fmt.Sprint("c", i)); !ok || v != i {
			t.Fatalf("Get(c%d) = %v, %v", i, v, ok)
		}
	}
	for i := 0; i < n; i += 2 {
		if !tree.Remove("a/b", fmt.Sprint("c", i)) {
			t.Fatalf("Remove(c%d) = false", i)
		}
	}
	got := tree.MatchAppend("a/b", nil)
	slices.Sort(got)
	for i, v := range got {
		if v != 2*i+1 {
			t.Fatalf("after removing the even keys MatchAppend = %v", got)
		}
	}
	for i := 1; i < n; i += 2 {
		if v, ok := tree.Get("a/b", fmt.Sprint("c", i)); !ok || v != i {
			t.Fatalf("Get(c%d) = %v, %v", i, v, ok)
		}
		tree.Remove("a/b", fmt.Sprint("c", i))
	}
	if tree.Len() != 0 || !tree.root.empty() {
		t.Errorf("Len = %d, pruned = %v after removing all", tree.Len(), tree.root.empty())
	}
}

func TestTreeWalk(t *testing.T) {
	tree := NewTree[int]()
	filters := []string{"#", "+", "a", "/", "", "a/#", "/#", "+/+/#", "a/b/c", "$SYS/#", "a/#/b"}
	for i, f := range filters {
		tree.Add(f, "k", i)
		tree.Add(f, "j", -i)
	}
	seen := map[string]int{}
	tree.Walk(func(filter, key string, v int) bool {
		if key == "k" {
			seen[filter] = v
		}
		// Walk calls fn without the lock: calling back in must not deadlock.
		tree.Remove(filter, key)
		return true
	})
	if len(seen) != len(filters) {
		t.Errorf("Walk saw %d filters under key k, want %d: %v", len(seen), len(filters), seen)
	}
	for i, f := range filters {
		if v, ok := seen[f]; !ok || v != i {
			t.Errorf("Walk: filter %q gave %v, %v; want %d", f, v, ok, i)
		}
	}
	if tree.Len() != 0 {
		t.Errorf("Len = %d after removing every entry from Walk", tree.Len())
	}
	calls := 0
	tree.Add("a", "k", 1)
	tree.Add("b", "k", 2)
	tree.Walk(func(string, string, int) bool { calls++; return false })
	if calls != 1 {
		t.Errorf("Walk called fn %d times after it returned false", calls)
	}
}

// randomTopic returns a random topic of one to five levels drawn from
// levels; when filter is true the last level may be "#". The first level
// may be one that starts with '$'.
func randomTopic(r *rand.Rand, levels []string, filter bool) string {
	var b strings.Builder
	depth := 1 + r.IntN(5)
	for i := range depth {
		if i > 0 {
			b.WriteByte('/')
		}
		switch {
		case i == 0 && r.IntN(8) == 0:
			b.WriteString([]string{"$SYS", "$x"}[r.IntN(2)])
		case filter && i == depth-1 && r.IntN(4) == 0:
			b.WriteByte('#')
		default:
			b.WriteString(levels[r.IntN(len(levels))])
		}
	}
	return b.String()
}

var (
	nameLevels   = []string{"a", "b", "c", ""}
	filterLevels = []string{"a", "b", "c", "", "+", "+"}
	// messyLevels holds levels that ValidFilter rejects; Tree and Match
	// must still agree on them.
	messyLevels = []string{"a", "", "+", "#", "a+", "#b"}
)

type subscription struct{ filter, key string }

// bruteForce returns the indexes of subs whose filters match name.
func bruteForce(subs []subscription, name string) []int {
	var want []int
	for i, s := range subs {
		if Match(s.filter, name) {
			want = append(want, i)
		}
	}
	return want
}

func TestTreeAgreesWithMatch(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 20 {
		levels, namePool := filterLevels, nameLevels
		if round%4 == 3 {
			levels, namePool = messyLevels, messyLevels
		}
		tree := NewTree[int]()
		var subs []subscription
		index := map[subscription]int{}
		for range 300 {
			s := subscription{randomTopic(r, levels, true), fmt.Sprint("c", r.IntN(20))}
			if _, dup := index[s]; dup {
				continue
			}
			index[s] = len(subs)
			subs = append(subs, s)
			tree.Add(s.filter, s.key, len(subs)-1)
		}
		check := func(live func(int) bool) {
			t.Helper()
			for range 200 {
				name := randomTopic(r, namePool, false)
				got := tree.MatchAppend(name, nil)
				slices.Sort(got)
				var want []int
				for _, i := range bruteForce(subs, name) {
					if live(i) {
						want = append(want, i)
					}
				}
				if !slices.Equal(got, want) {
					t.Fatalf("round %d: MatchAppend(%q) = %v, want %v", round, name, got, want)
				}
			}
		}
		check(func(int) bool { return true })
		if tree.Len() != len(subs) {
			t.Fatalf("Len = %d, want %d", tree.Len(), len(subs))
		}
		for i := 0; i < len(subs); i += 2 {
			if !tree.Remove(subs[i].filter, subs[i].key) {
				t.Fatalf("Remove(%q, %q) = false", subs[i].filter, subs[i].key)
			}
		}
		check(func(i int) bool { return i%2 == 1 })
		walked := 0
		tree.Walk(func(filter, key string, v int) bool {
			walked++
			if v%2 == 0 || subs[v] != (subscription{filter, key}) {
				t.Errorf("Walk gave (%q, %q, %d), entry %d is %v", filter, key, v, v, subs[v])
			}
			return true
		})
		if want := len(subs) / 2; walked != want || tree.Len() != want {
			t.Fatalf("after removing half: Walk saw %d, Len = %d, want %d", walked, tree.Len(), want)
		}
	}
}

func TestTreeMatchAppendAllocations(t *testing.T) {
	tree := NewTree[int]()
	for i, f := range []string{"sport/tennis/player1", "sport/+/player1", "sport/#", "#", "+/+/+", "sport/tennis/+/#"} {
		tree.Add(f, "c", i)
		tree.Add(f, "d", i)
	}
	dst := make([]int, 0, 32)
	var got []int
	allocs := testing.AllocsPerRun(1000, func() {
		got = tree.MatchAppend("sport/tennis/player1", dst[:0])
	})
	if allocs != 0 {
		t.Errorf("MatchAppend allocates %v times per call with room in dst, want 0", allocs)
	}
	if len(got) != 12 {
		t.Errorf("MatchAppend found %d values, want 12", len(got))
	}
}

func TestTreeConcurrent(t *testing.T) {
	tree := NewTree[int]()
	const workers, rounds = 8, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			key := fmt.Sprint("c", w)
			var dst []int
			for i := range rounds {
				filter := randomTopic(r, filterLevels, true)
				tree.Add(filter, key, i)
				dst = tree.MatchAppend(randomTopic(r, nameLevels, false), dst[:0])
				tree.Get(filter, key)
				if i%3 == 0 {
					tree.Remove(filter, key)
				}
				if i%100 == 0 {
					tree.Walk(func(string, string, int) bool { return true })
					tree.Len()
				}
			}
		}()
	}
	wg.Wait()
	count := 0
	tree.Walk(func(string, string, int) bool { count++; return true })
	if count != tree.Len() {
		t.Errorf("Walk saw %d entries, Len = %d", count, tree.Len())
	}
}

// TestTreeDeepFilter adds and removes a filter far deeper than MaxLevels
// (the Tree does not validate) to show that nothing overflows.
func TestTreeDeepFilter(t *testing.T) {
	tree := NewTree[int]()
	deep := strings.Repeat("/", 65000)
	tree.Add(deep, "c", 1)
	if got := tree.MatchAppend(deep, nil); len(got) != 1 {
		t.Errorf("MatchAppend(deep) = %v", got)
	}
	if !tree.Remove(deep, "c") || !tree.root.empty() {
		t.Error("Remove(deep) did not remove and prune")
	}
}
