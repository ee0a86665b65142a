package auth

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// client is who asks, in the ACL tables.
type client struct {
	id, user    string
	hasUsername bool
}

var (
	anonymous = client{id: "anon"}
	alice     = client{id: "c1", user: "alice", hasUsername: true}
	bob       = client{id: "c2", user: "bob", hasUsername: true}
)

// aclCase is a question and its answer: may who read and write name.
type aclCase struct {
	who         client
	name        string
	read, write bool
}

// checkACL loads file and checks each case through both a fixed ACL and
// an ACLFile.
func checkACL(t *testing.T, file string, cases []aclCase) {
	t.Helper()
	acl, err := ParseACL("acl", strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "acl")
	writeFile(t, path, file)
	reloadable, err := OpenACLFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		for _, view := range []*ClientACL{
			acl.ForClient(c.who.id, c.who.user, c.who.hasUsername),
			reloadable.ForClient(c.who.id, c.who.user, c.who.hasUsername),
		} {
			if got := view.CanRead(c.name); got != c.read {
				t.Errorf("client %+v: CanRead(%q) = %v, want %v", c.who, c.name, got, c.read)
			}
			if got := view.CanWrite(c.name); got != c.write {
				t.Errorf("client %+v: CanWrite(%q) = %v, want %v", c.who, c.name, got, c.write)
			}
		}
	}
}

func TestACLSections(t *testing.T) {
	file := `# anonymous section: topic lines before the first user line
topic read public/#
topic write anon/in

user alice
topic readwrite alice/#
topic read shared/+/status

user bob
topic bob/#
topic write shared/bob/status

user alice
topic write extra
`
	checkACL(t, file, []aclCase{
		{anonymous, "public/news", true, false},
		{anonymous, "public", true, false},
		{anonymous, "anon/in", false, true},
		{anonymous, "alice/x", false, false},
		{alice, "public/news", false, false}, // the anonymous section is not for users
		{alice, "alice", true, true},
		{alice, "alice/a/b", true, true},
		{alice, "shared/bob/status", true, false},
		{alice, "shared/bob/status/x", false, false},
		{alice, "extra", false, true}, // a second "user alice" section adds up
		{bob, "bob/x", true, true},    // no access word: readwrite
		{bob, "shared/bob/status", false, true},
		{bob, "alice/x", false, false},
		{client{id: "c3", user: "carol", hasUsername: true}, "public/news", false, false}, // no section
		{client{id: "c4", user: "", hasUsername: true}, "public/news", false, false},      // empty name is a user
	})
}

func TestACLWildcardSubscriberSeesOnlyReadable(t *testing.T) {
	// The broker checks Read on each topic name a "#" subscription would
	// deliver; only readable names may pass.
	file := "user alice\ntopic read a/b/+\ntopic read x/#\ntopic write a/b/c/d\n"
	checkACL(t, file, []aclCase{
		{alice, "a/b/c", true, false},
		{alice, "a/b", false, false},
		{alice, "a/b/c/d", false, true},
		{alice, "a/bc/c", false, false},
		{alice, "x", true, false},
		{alice, "x/y/z", true, false},
		{alice, "y", false, false},
	})
}

func TestACLDenyFirst(t *testing.T) {
	file := `topic readwrite #
topic deny secret/#
user alice
topic readwrite #
topic read secret/open
topic deny secret/#
pattern deny private/%u/#
pattern readwrite private/#
`
	checkACL(t, file, []aclCase{
		{anonymous, "secret/x", false, false}, // deny after the grant still wins
		{anonymous, "secret", false, false},
		{anonymous, "other", true, true},
		{alice, "secret/open", false, false},
		{alice, "open", true, true},
		{alice, "private/alice/diary", false, false}, // pattern deny beats a topic grant (Mosquitto: the topic grant wins)
		{alice, "private/bob/diary", true, true},
		{bob, "private/bob/diary", false, false},
		{bob, "private/alice/diary", true, true},
		{bob, "open", false, false},
	})
}

func TestACLSystemTopics(t *testing.T) {
	file := `topic read #
topic read +/broker/uptime
user alice
topic read #
topic read $SYS/broker/clients/#
pattern read %c/#
pattern read %u/#
`
	checkACL(t, file, []aclCase{
		{anonymous, "a/b", true, false},
		{anonymous, "$SYS/broker/uptime", false, false},
		{alice, "$SYS/broker/uptime", false, false},
		{alice, "$SYS/broker/clients/connected", true, false},
		{alice, "$SYS", false, false},
		// A client id or user name "$SYS" does not turn a pattern into a grant on $SYS.
		{client{id: "$SYS"}, "$SYS/broker/uptime", false, false},
		{client{id: "x", user: "$SYS", hasUsername: true}, "$SYS/broker/uptime", false, false},
		{client{id: "$SYS"}, "a", true, false},
	})
	checkACL(t, "pattern read $SYS/%c/#\n", []aclCase{
		{client{id: "c9"}, "$SYS/c9/x", true, false},
		{client{id: "c9"}, "$SYS/c8/x", false, false},
	})
}

func TestACLPatterns(t *testing.T) {
	file := `pattern readwrite devices/%c/#
pattern read users/%u/#
pattern write users/%u/%c/out
`
	checkACL(t, file, []aclCase{
		{alice, "devices/c1/temp", true, true},
		{alice, "devices/c2/temp", false, false},
		{alice, "users/alice/inbox", true, false},
		{alice, "users/bob/inbox", false, false},
		{alice, "users/alice/c1/out", true, true},
		{alice, "users/alice/c2/out", true, false},
		{anonymous, "devices/anon", true, true},
		{anonymous, "users/anon/x", false, false}, // %u rules skip clients without a user name
		{anonymous, "users//x", false, false},
		{client{id: "", user: "", hasUsername: true}, "users//x", true, false},
	})
}

func TestACLDangerousIdentities(t *testing.T) {
	file := `user alice
topic read alice/own
topic read common/#
pattern readwrite users/%u/#
pattern readwrite devices/%c/#
pattern read everyone/#
pattern deny blocked/%c
`
	plusUser := client{id: "c1", user: "+", hasUsername: true}
	hashUser := client{id: "c1", user: "#", hasUsername: true}
	plusID := client{id: "+", user: "alice", hasUsername: true}
	hashID := client{id: "a#", user: "alice", hasUsername: true}
	slashUser := client{id: "c1", user: "a/b", hasUsername: true}
	slashID := client{id: "devices/c2", user: "alice", hasUsername: true}
	checkACL(t, file, []aclCase{
		// + and # in an identity: no pattern grants anything (CVE-2017-7650).
		{plusUser, "users/bob/x", false, false},
		{plusUser, "users/+/x", false, false},
		{plusUser, "everyone/x", false, false},
		{plusUser, "devices/c1/x", false, false},
		{hashUser, "users/bob/x", false, false},
		{hashUser, "users/#", false, false},
		{plusID, "devices/c9/x", false, false},
		{plusID, "users/alice/x", false, false},
		{hashID, "devices/a#/x", false, false},
		// ... but the user's topic rules still apply, as in Mosquitto.
		{plusID, "alice/own", true, false},
		{plusID, "common/x", true, false},
		// Deny patterns still apply, substituted: "blocked/+" refuses more.
		{client{id: "+", user: "x", hasUsername: true}, "blocked/anything", false, false},
		// A '/' in an identity never widens a pattern into another's subtree.
		{slashUser, "users/a/b/x", false, false},
		{slashUser, "users/a/x", false, false},
		{slashUser, "devices/c1/x", true, true}, // patterns without %u still apply
		{slashUser, "everyone/x", true, false},
		{slashID, "devices/devices/c2/x", false, false},
		{slashID, "devices/c2/x", false, false},
		{slashID, "users/alice/x", true, true},
		// The owners keep their own subtrees.
		{client{id: "c1", user: "a", hasUsername: true}, "users/a/b/x", true, true},
		{alice, "blocked/c1", false, false},
		{alice, "blocked/c2", false, false},
	})
	// Without pattern rules, such identities are not special.
	checkACL(t, "user +\ntopic read x\n", []aclCase{
		{client{id: "#", user: "+", hasUsername: true}, "x", true, false},
	})
}

func TestACLEmptyDeniesEverything(t *testing.T) {
	for _, file := range []string{"", "\n\n", "# only a comment\n", "user alice\n"} {
		checkACL(t, file, []aclCase{
			{anonymous, "a", false, false},
			{alice, "a", false, false},
			{alice, "$SYS/broker/uptime", false, false},
		})
	}
}

func TestACLSyntax(t *testing.T) {
	file := "topic read\n" + // one word: the filter "read", readwrite (as Mosquitto)
		"topic   write    with spaces/x  \n" + // access given: the rest is the filter
		"topic\tdeny\tdenied\r\n" +
		"   # an indented comment\n" +
		"user  name with spaces  \n" +
		"topic readwrite theirs\n"
	checkACL(t, file, []aclCase{
		{anonymous, "read", true, true},
		{anonymous, "with spaces/x", false, true},
		{anonymous, "denied", false, false},
		{client{id: "c", user: "name with spaces", hasUsername: true}, "theirs", true, true},
	})
}

func TestACLErrors(t *testing.T) {
	for _, c := range []struct {
		line, want string
	}{
		{"topic", `acl:2: topic without a filter`},
		{"pattern   ", `acl:2: pattern without a filter`},
		{"topic a b", `acl:2: access "a" is not read, write, readwrite or deny`},
		{"topic Read a", `acl:2: access "Read" is not`},
		{"topic read a/#/b", `acl:2: filter "a/#/b": topic:`},
		{"topic read a+", `acl:2: filter "a+": topic:`},
		{"pattern read $share/g", `acl:2: filter "$share/g": topic:`},
		{"user", `acl:2: user without a name`},
		{"user  \t", `acl:2: user without a name`},
		{"users alice", `acl:2: unknown keyword "users"`},
		{"Topic read a", `acl:2: unknown keyword "Topic"`},
		{"pattern read devices/x%c/#", `acl:2: pattern "devices/x%c/#": %c and %u must be a whole level`},
		{"pattern read a/%u%c", `must be a whole level`},
	} {
		t.Run(c.line, func(t *testing.T) {
			acl, err := ParseACL("acl", strings.NewReader("topic read ok\n"+c.line+"\ntopic read after\n"))
			if err == nil || acl != nil {
				t.Fatalf("ParseACL = %v, %v; want only an error", acl, err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
			var fe *FileError
			if !errors.As(err, &fe) || fe.Line != 2 {
				t.Errorf("error %#v is not a *FileError for line 2", err)
			}
		})
	}
	if _, err := LoadACL(filepath.Join(t.TempDir(), "none")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadACL(missing) = %v", err)
	}
}

func TestACLFileReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "acl")
	writeFile(t, path, "user alice\ntopic read a\n")
	f, err := OpenACLFile(path)
	if err != nil {
		t.Fatal(err)
	}
	view := f.ForClient("c1", "alice", true)
	if !view.CanRead("a") || view.CanRead("b") || f.Generation() != 1 {
		t.Fatal("first version not in use")
	}

	writeFile(t, path, "user alice\ntopic read b\n")
	if err := f.Reload(); err != nil {
		t.Fatal(err)
	}
	if view.CanRead("a") || !view.CanRead("b") || f.Generation() != 2 {
		t.Error("an existing view did not follow the reload")
	}

	writeFile(t, path, "user alice\ntopic read c\nbogus\n")
	var fe *FileError
	if err := f.Reload(); !errors.As(err, &fe) || fe.Line != 3 {
		t.Errorf("Reload of a bad file: %v", err)
	}
	if !view.CanRead("b") || view.CanRead("c") || f.Generation() != 2 {
		t.Error("a failed reload changed the rules in use")
	}
	if !f.ForClient("c1", "alice", true).CanRead("b") || f.Path() != path || f.ACL() == nil {
		t.Error("a new view does not see the version in use")
	}

	writeFile(t, path, "")
	if err := f.Reload(); err != nil {
		t.Fatal(err)
	}
	if view.CanRead("b") {
		t.Error("reloading an empty file did not deny everything")
	}
}

func TestACLFileConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "acl")
	writeFile(t, path, "pattern read own/%c/#\ntopic read shared\n")
	f, err := OpenACLFile(path)
	if err != nil {
		t.Fatal(err)
	}
	view := f.ForClient("c1", "", false)
	var wg sync.WaitGroup
	failures := make(chan string, 8)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2000 {
				if !view.CanRead("own/c1/x") || view.CanWrite("own/c1/x") || view.CanRead("own/c2/x") {
					failures <- "wrong answer during reloads"
					return
				}
			}
		}()
	}
	for range 50 {
		if err := f.Reload(); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
	close(failures)
	for msg := range failures {
		t.Error(msg)
	}
}

// fiftyRules is an ACL file of about 50 rules, for the benchmarks.
func fiftyRules() string {
	var b strings.Builder
	b.WriteString("pattern deny devices/%c/secret\npattern readwrite devices/%c/#\npattern read users/%u/#\n")
	for i := range 10 {
		fmt.Fprintf(&b, "topic read public/%d/#\n", i)
	}
	b.WriteString("user alice\ntopic deny alice/private/#\n")
	for i := range 35 {
		fmt.Fprintf(&b, "topic read sensors/%d/+/temperature\n", i)
	}
	b.WriteString("topic readwrite alice/#\n")
	return b.String()
}

func TestACLChecksDoNotAllocate(t *testing.T) {
	acl, err := ParseACL("acl", strings.NewReader(fiftyRules()))
	if err != nil {
		t.Fatal(err)
	}
	view := acl.ForClient("c1", "alice", true)
	path := filepath.Join(t.TempDir(), "acl")
	writeFile(t, path, fiftyRules())
	f, err := OpenACLFile(path)
	if err != nil {
		t.Fatal(err)
	}
	reloadable := f.ForClient("c1", "alice", true)
	for _, v := range []*ClientACL{view, reloadable} {
		if n := testing.AllocsPerRun(100, func() {
			v.CanRead("sensors/34/x/temperature")
			v.CanRead("alice/private/x")
			v.CanWrite("devices/c1/x")
			v.CanRead("nothing/matches/this")
		}); n != 0 {
			t.Errorf("%v allocations per check, want 0", n)
		}
	}
}

func BenchmarkACL(b *testing.B) {
	path := filepath.Join(b.TempDir(), "acl")
	if err := os.WriteFile(path, []byte(fiftyRules()), 0o600); err != nil {
		b.Fatal(err)
	}
	f, err := OpenACLFile(path)
	if err != nil {
		b.Fatal(err)
	}
	view := f.ForClient("c1", "alice", true)
	for _, c := range []struct {
		name  string
		check func(string) bool
		topic string
	}{
		{"CanRead/last", view.CanRead, "alice/x/y"},
		{"CanRead/denied", view.CanRead, "nothing/matches/this/one"},
		{"CanRead/deny", view.CanRead, "alice/private/x"},
		{"CanWrite/pattern", view.CanWrite, "devices/c1/status"},
		{"CanWrite/denied", view.CanWrite, "sensors/1/x/temperature"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.check(c.topic)
			}
		})
	}
	b.Run("CanRead/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				view.CanRead("alice/x/y")
			}
		})
	})
}

func FuzzParseACL(f *testing.F) {
	f.Add(fiftyRules())
	f.Add("topic read\nuser x\npattern %c/%u\n")
	f.Fuzz(func(t *testing.T, file string) {
		acl, err := ParseACL("fuzz", strings.NewReader(file))
		if (acl == nil) == (err == nil) {
			t.Fatalf("ParseACL = %v, %v: want exactly one", acl, err)
		}
		if acl != nil {
			view := acl.ForClient("+/#", "a/b", true)
			view.CanRead("a/b")
			view.CanWrite("$SYS/x")
		}
	})
}
