package auth

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/topic"
)

// subscribeCase asks whether who may subscribe to filter.
type subscribeCase struct {
	who    client
	filter string
	want   bool
}

func checkSubscribe(t *testing.T, file string, cases []subscribeCase) {
	t.Helper()
	acl, err := ParseACL("acl", strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		view := acl.ForClient(c.who.id, c.who.user, c.who.hasUsername)
		if got := view.CanSubscribe(c.filter); got != c.want {
			t.Errorf("client %+v: CanSubscribe(%q) = %v, want %v\nACL:\n%s", c.who, c.filter, got, c.want, file)
		}
	}
}

func TestACLCanSubscribe(t *testing.T) {
	t.Run("read rules", func(t *testing.T) {
		checkSubscribe(t, "user alice\ntopic read public/#\ntopic write out/#\ntopic sensors/+/temp\n", []subscribeCase{
			{alice, "alice/#", false}, // the case
			{alice, "public/#", true},
			{alice, "public", true}, // public/# matches public
			{alice, "public/a/b", true},
			{alice, "+/x", true}, // public/x
			{alice, "#", true},
			{alice, "+", true}, // "public"
			{alice, "+/+/+/+", true},
			{alice, "out/#", false}, // write only
			{alice, "out/x", false},
			{alice, "sensors/+/temp", true}, // topic without an access word: readwrite
			{alice, "sensors/kitchen/temp", true},
			{alice, "sensors/kitchen/humidity", false},
			{alice, "sensors/#", true},
			{alice, "sensors", false},
			{alice, "sensors/+", false},
			{alice, "sensors/+/temp/x", false},
			{alice, "+/+/temp", true},
			{alice, "+/+/+/+/#", true}, // public/a/b/c
			{alice, "publi/#", false},
			{bob, "public/#", false}, // no section
			{anonymous, "#", false},
		})
	})
	t.Run("deny rules", func(t *testing.T) {
		checkSubscribe(t, "user alice\ntopic read a/#\ntopic deny a/b\ntopic deny a/c/#\ntopic read x/y/#\ntopic deny x/#\n"+
			"topic read m/+\ntopic deny m/+\ntopic read n/#\ntopic deny n/+/#\n", []subscribeCase{
			{alice, "a/b", false},
			{alice, "a/+", true}, // a/d
			{alice, "a/#", true},
			{alice, "a", true},
			{alice, "a/b/#", true}, // a/b/x is not denied: deny a/b is exact
			{alice, "a/b/x", true},
			{alice, "a/c", false},
			{alice, "a/c/#", false},
			{alice, "a/c/+/+", false},
			{alice, "a/+/z", true},  // a/b/z
			{alice, "x/y/#", false}, // deny x/# covers read x/y/# entirely
			{alice, "x/#", false},
			{alice, "x/y", false},
			{alice, "m/+", false},
			{alice, "m/z", false},
			{alice, "n/#", true}, // n itself
			{alice, "n", true},
			{alice, "n/+", false},
			{alice, "n/z/#", false},
			{alice, "+/#", true},
			{alice, "#", true},
		})
	})
	t.Run("depth past every deny", func(t *testing.T) {
		checkSubscribe(t, "topic read a/#\ntopic deny a\ntopic deny a/+\ntopic deny a/+/+\n", []subscribeCase{
			{anonymous, "a/#", true}, // a/x/y/z
			{anonymous, "a/+/+/+", true},
			{anonymous, "a/+/+", false},
			{anonymous, "a/+", false},
			{anonymous, "a", false},
		})
		checkSubscribe(t, "topic read a/#\ntopic deny a\ntopic deny a/+/#\n", []subscribeCase{
			{anonymous, "a/#", false},
			{anonymous, "+/#", false},
			{anonymous, "#", false},
		})
	})
	t.Run("MQTT-4.7.2-1", func(t *testing.T) {
		checkSubscribe(t, "topic read #\ntopic read $SYS/broker/#\ntopic deny $SYS/broker/secret\n", []subscribeCase{
			{anonymous, "#", true},
			{anonymous, "$SYS/#", true},
			{anonymous, "$SYS/broker/secret", false},
			{anonymous, "$SYS/broker/+", true},
			{anonymous, "$SYS/other", false}, // read # does not reach $ names
			{anonymous, "$other/#", false},
			{anonymous, "+/broker/#", true}, // not a $ name: x/broker
		})
		checkSubscribe(t, "topic read +/#\n", []subscribeCase{
			{anonymous, "$SYS/#", false},
			{anonymous, "$SYS", false},
			{anonymous, "a/#", true},
		})
		checkSubscribe(t, "topic read $SYS/#\n", []subscribeCase{
			{anonymous, "#", false}, // '#' matches no $ name
			{anonymous, "+/#", false},
			{anonymous, "$SYS/+", true},
		})
		// A deny without a '$' first does not deny $ names.
		checkSubscribe(t, "topic read $SYS/#\ntopic deny #\ntopic deny +/#\n", []subscribeCase{
			{anonymous, "$SYS/x", true},
			{anonymous, "a", false},
		})
	})
	t.Run("patterns", func(t *testing.T) {
		file := "pattern read devices/%c/#\npattern readwrite users/%u/+\npattern deny devices/%c/secret\n"
		checkSubscribe(t, file, []subscribeCase{
			{alice, "devices/c1/#", true},
			{alice, "devices/+/x", true}, // devices/c1/x
			{alice, "devices/c2/#", false},
			{alice, "devices/c1/secret", false},
			{alice, "devices/c1/+", true},
			{alice, "users/alice/x", true},
			{alice, "users/bob/x", false},
			{alice, "users/+/+", true},
			{alice, "users/alice", false},
			{bob, "devices/c1/#", false},
			{bob, "users/bob/#", true},
			{anonymous, "users/#", false}, // %u needs a user name
			{anonymous, "devices/anon/x", true},
		})
		// A '$' client id does not open $ topics (as CanRead).
		checkSubscribe(t, "pattern read %c/#\n", []subscribeCase{
			{client{id: "$SYS"}, "$SYS/#", false},
			{client{id: "x"}, "x/#", true},
			{client{id: "a+"}, "a+/#", false},                                 // CVE-2017-7650: no pattern grants
			{client{id: "a/b", user: "u", hasUsername: true}, "a/b/#", false}, // '/' in the identity
		})
		// A deny pattern with a '#' client id denies everything under it.
		checkSubscribe(t, "topic read x/#\npattern deny x/%c\n", []subscribeCase{
			{client{id: "#"}, "x/#", false},
			{client{id: "+"}, "x/#", true}, // x itself
			{client{id: "+"}, "x/+", false},
			{client{id: "c"}, "x/+", true},
		})
	})
	t.Run("empty file", func(t *testing.T) {
		checkSubscribe(t, "# nothing\n", []subscribeCase{
			{anonymous, "#", false},
			{alice, "a", false},
			{alice, "$SYS/#", false},
		})
	})
}

// TestACLCanSubscribeAgreesWithCanRead checks CanSubscribe against its
// definition on random files and filters: true exactly when some topic name
// the filter matches is one CanRead allows. Rules and filters use the levels
// a, b, $s and wildcards, at most three deep, so names over a, b, $s and a
// level no rule holds, at most four deep, are every case there is.
func TestACLCanSubscribeAgreesWithCanRead(t *testing.T) {
	levels := []string{"a", "b", "$s"}
	names := enumerateNames([]string{"a", "b", "$s", "fresh"}, 4)
	rng := rand.New(rand.NewPCG(12, 7))
	randomFilter := func() string {
		n := 1 + rng.IntN(3)
		var parts []string
		for i := range n {
			switch k := rng.IntN(6); {
			case k == 0:
				parts = append(parts, "+")
			case k == 1 && i == n-1:
				parts = append(parts, "#")
			default:
				parts = append(parts, levels[rng.IntN(len(levels))])
			}
		}
		return strings.Join(parts, "/")
	}
	accesses := []string{"read", "deny", "readwrite", "write"}
	granted := 0
	for round := range 400 {
		var file strings.Builder
		for range rng.IntN(5) {
			keyword, filter := "topic", randomFilter()
			if rng.IntN(3) == 0 { // a pattern, %c being "a"
				keyword, filter = "pattern", strings.Replace(filter, "a", "%c", 1)
			}
			fmt.Fprintf(&file, "%s %s %s\n", keyword, accesses[rng.IntN(len(accesses))], filter)
		}
		acl, err := ParseACL("acl", strings.NewReader(file.String()))
		if err != nil {
			t.Fatal(err)
		}
		view := acl.ForClient("a", "", false)
		for range 30 {
			filter := randomFilter()
			want := false
			for _, name := range names {
				if topic.Match(filter, name) && view.CanRead(name) {
					want = true
					break
				}
			}
			if got := view.CanSubscribe(filter); got != want {
				t.Fatalf("round %d: CanSubscribe(%q) = %v, want %v\nACL:\n%s", round, filter, got, want, file.String())
			}
			if want {
				granted++
			}
		}
	}
	if granted < 1000 || granted > 11000 {
		t.Errorf("%d of 12000 filters granted: the cases are lopsided", granted)
	}
	t.Logf("%d of 12000 filters granted", granted)
}

// enumerateNames returns every topic name of 1 to depth levels over alphabet.
func enumerateNames(alphabet []string, depth int) []string {
	var all []string
	current := []string{""}
	for d := 1; d <= depth; d++ {
		var next []string
		for _, prefix := range current {
			for _, level := range alphabet {
				name := level
				if d > 1 {
					name = prefix + "/" + level
				}
				next = append(next, name)
			}
		}
		all = append(all, next...)
		current = next
	}
	return all
}

func BenchmarkACLCanSubscribe(b *testing.B) {
	acl, err := ParseACL("acl", strings.NewReader(fiftyRules()))
	if err != nil {
		b.Fatal(err)
	}
	view := acl.ForClient("c1", "alice", true)
	b.ReportAllocs()
	for b.Loop() {
		view.CanSubscribe("alice/#")
	}
}
