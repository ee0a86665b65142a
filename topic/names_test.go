package topic

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// matchedNames returns the names that names.MatchFilter(filter) reports, sorted.
func matchedNames[V any](names *Names[V], filter string) []string {
	var got []string
	names.MatchFilter(filter, func(name string, _ V) bool {
		got = append(got, name)
		return true
	})
	slices.Sort(got)
	return got
}

func TestNamesMatchCases(t *testing.T) {
	for _, tt := range matchCases {
		t.Run(tt.name, func(t *testing.T) {
			names := NewNames[int]()
			names.Set(tt.topic, 1)
			got := matchedNames(names, tt.filter)
			if (len(got) == 1) != tt.want || len(got) > 1 {
				t.Errorf("Names{%q}.MatchFilter(%q) = %q, want match %v", tt.topic, tt.filter, got, tt.want)
			}
		})
	}
}

func TestNamesSetGetDelete(t *testing.T) {
	names := NewNames[int]()
	names.Set("a/b", 1)
	names.Set("a/b", 2)
	names.Set("a", 3)
	names.Set("a/b/c", 4)
	if got := names.Len(); got != 3 {
		t.Errorf("Len = %d, want 3", got)
	}
	if v, ok := names.Get("a/b"); !ok || v != 2 {
		t.Errorf("Get(a/b) = %v, %v; want 2, true", v, ok)
	}
	for _, missing := range []string{"a/b/c/d", "b", "a/", ""} {
		if _, ok := names.Get(missing); ok {
			t.Errorf("Get(%q) reported found", missing)
		}
		if names.Delete(missing) {
			t.Errorf("Delete(%q) reported deleted", missing)
		}
	}
	if !names.Delete("a/b") || names.Delete("a/b") {
		t.Error("Delete(a/b) twice did not report true then false")
	}
	if v, ok := names.Get("a/b/c"); !ok || v != 4 {
		t.Errorf("Get(a/b/c) after Delete(a/b) = %v, %v", v, ok)
	}
	if got, want := matchedNames(names, "#"), []string{"a", "a/b/c"}; !slices.Equal(got, want) {
		t.Errorf("MatchFilter(#) = %q, want %q", got, want)
	}
	names.Delete("a/b/c")
	names.Delete("a")
	if names.Len() != 0 || len(names.root.children) != 0 || names.root.one != nil {
		t.Errorf("Len = %d, root children = %d (one %v) after deleting all", names.Len(), len(names.root.children), names.root.one)
	}
}

// Swap and Remove hand back the value they replace or remove.
func TestNamesSwapRemove(t *testing.T) {
	names := NewNames[int]()
	if old, ok := names.Swap("a/b", 1); ok || old != 0 {
		t.Errorf("Swap on a new name = %v, %v; want 0, false", old, ok)
	}
	if old, ok := names.Swap("a/b", 2); !ok || old != 1 {
		t.Errorf("Swap = %v, %v; want 1, true", old, ok)
	}
	if old, ok := names.Remove("a"); ok || old != 0 {
		t.Errorf("Remove(a), never set = %v, %v; want 0, false", old, ok)
	}
	if old, ok := names.Remove("a/b"); !ok || old != 2 {
		t.Errorf("Remove(a/b) = %v, %v; want 2, true", old, ok)
	}
	if _, ok := names.Remove("a/b"); ok || names.Len() != 0 {
		t.Errorf("Remove(a/b) again reported removed, or Len = %d", names.Len())
	}
}

// A node's children move from the inline slot to a map at the second and
// back at the last but one; every step keeps every name findable.
func TestNamesChildrenGrowAndShrink(t *testing.T) {
	names := NewNames[int]()
	want := map[string]int{}
	check := func(step string) {
		t.Helper()
		for name, v := range want {
			if got, ok := names.Get(name); !ok || got != v {
				t.Errorf("%s: Get(%s) = %d, %v; want %d", step, name, got, ok, v)
			}
		}
		var all []string
		for name := range want {
			all = append(all, name)
		}
		slices.Sort(all)
		if got := matchedNames(names, "s/+"); !slices.Equal(got, all) || names.Len() != len(want) {
			t.Errorf("%s: MatchFilter(s/+) = %q (Len %d), want %q", step, got, names.Len(), all)
		}
	}
	for i, level := range []string{"a", "b", "c"} {
		names.Set("s/"+level, i)
		want["s/"+level] = i
		check("set s/" + level)
	}
	for _, level := range []string{"b", "a", "c"} {
		names.Delete("s/" + level)
		delete(want, "s/"+level)
		check("delete s/" + level)
		if len(want) == 1 && names.root.one.children != nil {
			t.Errorf("one child left in a map after deleting s/%s", level)
		}
	}
	names.Set("s/d", 9)
	want["s/d"] = 9
	check("set s/d after emptying s")
}

func TestNamesMatchFilterCallback(t *testing.T) {
	names := NewNames[int]()
	for i := range 10 {
		names.Set(fmt.Sprint("a/", i), i)
	}
	calls := 0
	names.MatchFilter("a/+", func(name string, _ int) bool {
		calls++
		// fn is called without the lock: calling back in must not deadlock.
		names.Delete(name)
		return calls < 3
	})
	if calls != 3 || names.Len() != 7 {
		t.Errorf("fn called %d times, Len = %d; want 3 and 7", calls, names.Len())
	}
}

func TestNamesAgreesWithMatch(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for round := range 20 {
		levels, namePool := filterLevels, nameLevels
		if round%4 == 3 {
			levels, namePool = messyLevels, messyLevels
		}
		names := NewNames[string]()
		all := map[string]bool{}
		for range 300 {
			name := randomTopic(r, namePool, false)
			names.Set(name, name)
			all[name] = true
		}
		for name := range all {
			if r.IntN(3) == 0 {
				names.Delete(name)
				delete(all, name)
			}
		}
		if names.Len() != len(all) {
			t.Fatalf("Len = %d, want %d", names.Len(), len(all))
		}
		for range 200 {
			filter := randomTopic(r, levels, true)
			var got, want []string
			names.MatchFilter(filter, func(name, v string) bool {
				if name != v {
					t.Errorf("MatchFilter gave name %q with the value of %q", name, v)
				}
				got = append(got, name)
				return true
			})
			for name := range all {
				if Match(filter, name) {
					want = append(want, name)
				}
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("round %d: MatchFilter(%q) = %q, want %q", round, filter, got, want)
			}
		}
	}
}

func TestNamesConcurrent(t *testing.T) {
	names := NewNames[int]()
	const workers, rounds = 8, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 9))
			for i := range rounds {
				name := randomTopic(r, nameLevels, false)
				names.Set(name, i)
				names.Get(name)
				names.MatchFilter(randomTopic(r, filterLevels, true), func(string, int) bool { return true })
				if i%3 == 0 {
					names.Delete(name)
				}
				names.Len()
			}
		}()
	}
	wg.Wait()
	count := 0
	names.MatchFilter("#", func(string, int) bool { count++; return true })
	names.MatchFilter("$SYS/#", func(string, int) bool { count++; return true })
	names.MatchFilter("$x/#", func(string, int) bool { count++; return true })
	if count != names.Len() {
		t.Errorf("MatchFilter saw %d names, Len = %d", count, names.Len())
	}
}

func TestNamesDeleteFunc(t *testing.T) {
	n := NewNames[int]()
	n.Set("a/b", 1)
	if n.DeleteFunc("a/b", func(v int) bool { return v == 2 }) {
		t.Fatal("deleted a value drop refused")
	}
	if !n.DeleteFunc("a/b", func(v int) bool { return v == 1 }) || n.Len() != 0 {
		t.Fatalf("not deleted; Len = %d", n.Len())
	}
	if n.DeleteFunc("a/missing", func(int) bool { return true }) {
		t.Fatal("deleted a name never set")
	}
}
