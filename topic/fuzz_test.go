package topic

import (
	"strings"
	"testing"
)

func FuzzValidFilter(f *testing.F) {
	for _, seed := range []string{
		"", "#", "+", "/", "a/#/b", "a#", "#/", "a+", "+a/b", "sport+", "sport/tennis/+/#",
		"$share/", "$share//t", "$share/g", "$share/g+/t", "$share/g#/t", "$share/g/a/b", "$share",
		"$SYS/#", "a\x00", "A\U0002A6D4", strings.Repeat("/", 300),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, filter string) {
		err := ValidFilter(filter)
		if err == nil && (filter == "" || len(filter) > MaxLength || strings.IndexByte(filter, 0) >= 0) {
			t.Fatalf("ValidFilter(%q) = nil", filter)
		}
		// A valid topic name is a valid filter, unless it has the shape of
		// a shared subscription.
		if ValidName(filter) == nil && err != nil && !strings.HasPrefix(filter, "$share") {
			t.Fatalf("ValidName(%q) = nil but ValidFilter = %v", filter, err)
		}
		group, inner, ok := ParseShared(filter)
		if !ok {
			if group != "" || inner != filter {
				t.Fatalf("ParseShared(%q) = %q, %q, false", filter, group, inner)
			}
			return
		}
		if filter != "$share/"+group+"/"+inner {
			t.Fatalf("ParseShared(%q) = %q, %q does not rebuild the filter", filter, group, inner)
		}
		if err == nil && (group == "" || inner == "" || strings.ContainsAny(group, "/+#") || validFilterLevels(inner, MaxLevels-2) != nil) {
			t.Fatalf("ValidFilter(%q) = nil with group %q, inner %q", filter, group, inner)
		}
	})
}

func FuzzMatch(f *testing.F) {
	for _, c := range matchCases {
		f.Add(c.filter, c.topic)
	}
	f.Add("a/#/b", "a/#/b")
	f.Add("#", "")
	f.Add("+/+", "$/")
	f.Fuzz(func(t *testing.T, filter, name string) {
		want := Match(filter, name)

		tree := NewTree[int]()
		tree.Add(filter, "k", 1)
		if got := tree.MatchAppend(name, nil); len(got) != 1 && want || len(got) != 0 && !want {
			t.Fatalf("Match(%q, %q) = %v but Tree.MatchAppend = %v", filter, name, want, got)
		}
		if !tree.Remove(filter, "k") || !tree.root.empty() {
			t.Fatalf("Tree.Remove(%q) did not remove and prune", filter)
		}

		names := NewNames[int]()
		names.Set(name, 1)
		calls := 0
		names.MatchFilter(filter, func(string, int) bool { calls++; return true })
		if calls != 1 && want || calls != 0 && !want {
			t.Fatalf("Match(%q, %q) = %v but Names.MatchFilter called fn %d times", filter, name, want, calls)
		}

		if ValidName(name) == nil && ValidFilter(filter) == nil && !strings.ContainsAny(filter, "+#") && want != (filter == name) {
			t.Fatalf("Match(%q, %q) = %v for a filter without wildcards", filter, name, want)
		}
	})
}
