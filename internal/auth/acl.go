package auth

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/midge-mqtt/midge/topic"
)

// access is what an ACL rule grants: reading a topic (receiving messages
// published to it) and writing it (publishing to it). A rule whose access is
// zero is a "deny" rule.
type access uint8

// The accesses a rule can grant.
const (
	accessRead access = 1 << iota
	accessWrite
	accessReadWrite = accessRead | accessWrite
)

// rule is one topic or pattern line of an ACL file.
type rule struct {
	filter string // as written
	grant  access // zero for deny
	// usesClientID and usesUsername say whether a pattern has a level
	// that is exactly "%c" or "%u".
	usesClientID, usesUsername bool
}

// ACL is a loaded Mosquitto ACL file (acl_file). It is immutable and safe
// for concurrent use; ForClient gives the view a broker checks.
//
// The file's syntax, as Mosquitto 2.0 reads it:
//
//	# a comment                      ('#' first; midge also allows blanks before it)
//	topic [read|write|readwrite|deny] FILTER
//	user NAME                        (the rest of the line, trimmed)
//	pattern [read|write|readwrite|deny] FILTER
//
// Without an access word a rule grants readwrite, and the filter is the one
// word after the keyword ("topic read" grants readwrite on the topic
// "read", as in Mosquitto); with one, the filter is the rest of the line
// and may hold spaces. A second word that is not an access word is an
// error. topic lines before the first user line are the anonymous section
// (clients without a user name); later ones belong to the latest user
// (sections of the same name add up). pattern lines apply to every client,
// wherever they stand. Words are separated by spaces or tabs (Mosquitto:
// spaces only). An unknown keyword, a filter that topic.ValidFilter
// refuses, and a pattern where "%c" or "%u" is only part of a level are
// errors (*FileError).
//
// How a client's request is judged is described at ClientACL.
type ACL struct {
	anonymous []rule            // topic lines before the first user line
	users     map[string][]rule // topic lines by user section
	patterns  []rule            // pattern lines, in file order
}

// LoadACL reads the ACL file at path. An empty file (or one of comments
// only) loads, and denies everything (CVE-2018-12550).
func LoadACL(path string) (*ACL, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("auth: ACL file: %w", err)
	}
	defer f.Close()
	return ParseACL(path, f)
}

// ParseACL is LoadACL reading r; name is the file name its errors carry.
func ParseACL(name string, r io.Reader) (*ACL, error) {
	acl := &ACL{users: make(map[string][]rule)}
	user, inUser := "", false
	err := scanLines(name, r, func(number int, line string) error {
		line = strings.TrimRight(line, " \t\r\n\v\f")
		line = strings.TrimLeft(line, " \t")
		if line == "" || line[0] == '#' {
			return nil
		}
		keyword, rest := cutWord(line)
		switch keyword {
		case "user":
			if rest == "" {
				return &FileError{name, number, "user without a name"}
			}
			user, inUser = rest, true
			return nil
		case "topic", "pattern":
			rl, msg := parseRule(keyword, rest)
			if msg != "" {
				return &FileError{name, number, msg}
			}
			switch {
			case keyword == "pattern":
				acl.patterns = append(acl.patterns, rl)
			case inUser:
				acl.users[user] = append(acl.users[user], rl)
			default:
				acl.anonymous = append(acl.anonymous, rl)
			}
			return nil
		}
		return &FileError{name, number, fmt.Sprintf("unknown keyword %q; want topic, pattern or user", keyword)}
	})
	if err != nil {
		return nil, err
	}
	return acl, nil
}

// cutWord splits the first word off s (which has no leading blank) and
// returns it and the rest with blanks trimmed from both ends.
func cutWord(s string) (word, rest string) {
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.Trim(s[i:], " \t")
}

// parseRule parses what follows "topic" or "pattern". It returns the rule,
// or a message saying what is wrong.
func parseRule(keyword, rest string) (rule, string) {
	if rest == "" {
		return rule{}, keyword + " without a filter"
	}
	rl := rule{grant: accessReadWrite}
	first, filter := cutWord(rest)
	if filter == "" {
		rl.filter = first // the only word is the filter, even "read"
	} else {
		switch first {
		case "read":
			rl.grant = accessRead
		case "write":
			rl.grant = accessWrite
		case "readwrite":
			rl.grant = accessReadWrite
		case "deny":
			rl.grant = 0
		default:
			return rule{}, fmt.Sprintf("access %q is not read, write, readwrite or deny", first)
		}
		rl.filter = filter
	}
	if err := topic.ValidFilter(rl.filter); err != nil {
		return rule{}, fmt.Sprintf("filter %q: %v", rl.filter, err)
	}
	if keyword == "pattern" {
		for level := range strings.SplitSeq(rl.filter, "/") {
			switch {
			case level == "%c":
				rl.usesClientID = true
			case level == "%u":
				rl.usesUsername = true
			case strings.Contains(level, "%c") || strings.Contains(level, "%u"):
				return rule{}, fmt.Sprintf("pattern %q: %%c and %%u must be a whole level, as in devices/%%c/#", rl.filter)
			}
		}
	}
	return rl, ""
}
