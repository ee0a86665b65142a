package auth

import (
	"strings"
	"sync"
	"sync/atomic"

	"github.com/midge-mqtt/midge/topic"
)

// ClientACL is one client's view of an ACL file, compiled when the client
// connects: its section's topic rules and every pattern, with %c and %u
// already replaced. Its methods are safe for concurrent use, and do not
// allocate unless the file was reloaded since the last check, when the
// view recompiles itself once.
//
// A request is judged as Mosquitto 2.0 does, with the differences marked
// (midge):
//
//   - The rules are the client's section (the anonymous section for a
//     client without a user name; none for a user name without a section)
//     and all pattern rules. An empty file denies everything.
//   - If any deny rule matches, the request is refused. (midge: deny rules
//     of both kinds come first; Mosquitto checks a section's topic rules,
//     denies first, before the patterns, so a topic allow could win over a
//     pattern deny.)
//   - Otherwise the request is allowed if any rule granting its access
//     matches, and refused if none does.
//   - A rule matches a topic name as a subscription filter would
//     (topic.Match); a name starting with '$' is matched only by rules
//     whose filter, as written, starts with '$' (midge: patterns too, so
//     that a client id "$SYS" cannot turn "pattern read %c/#" into a grant
//     on $SYS).
//   - In a pattern, a level "%c" is replaced by the client id and "%u" by
//     the user name; patterns with %u do not apply to clients without a
//     user name.
//   - If the file has any pattern rules and the client id or user name
//     contains '+' or '#', no pattern grants that client anything
//     (CVE-2017-7650); its topic rules and deny patterns still apply.
//   - (midge) A pattern grant does not apply when the identity it
//     substitutes contains '/': user "a/b" would otherwise read
//     users/a/b/#, which is inside user "a"'s users/a/#. Mosquitto 1.4.12
//     to 1.6 refused such clients outright; 2.0 substitutes the '/'.
//     Deny patterns are still substituted, and only refuse more.
//
// acl_file does not restrict SUBSCRIBE in Mosquitto 2.0 (every filter is
// allowed, and each message is checked for reading at delivery). (midge)
// CanSubscribe refuses a filter through which no message could pass
// CanRead, as Mosquitto's dynamic-security plugin does; messages through
// the filters it grants are still checked at delivery.
type ClientACL struct {
	source      *ACLFile // nil for a fixed *ACL
	clientID    string
	username    string
	hasUsername bool
	rules       atomic.Pointer[clientRules]
}

// clientRules is a compiled view, for one version of the file.
type clientRules struct {
	version *aclVersion // the ACLFile version it was compiled from; nil for a fixed ACL
	deny    []compiledRule
	read    []compiledRule
	write   []compiledRule
}

// compiledRule is a rule's filter after substitution.
type compiledRule struct {
	filter string
	system bool // the filter as written starts with '$'
}

// ForClient compiles the view of a client with the given id and user name
// (hasUsername false for a client that sent none).
func (a *ACL) ForClient(clientID, username string, hasUsername bool) *ClientACL {
	c := &ClientACL{clientID: clientID, username: username, hasUsername: hasUsername}
	c.rules.Store(c.compile(a, nil))
	return c
}

// CanRead reports whether the client may receive a message published to
// the topic name.
func (c *ClientACL) CanRead(name string) bool {
	r := c.current()
	return r.allows(r.read, name)
}

// CanWrite reports whether the client may publish to the topic name.
func (c *ClientACL) CanWrite(name string) bool {
	r := c.current()
	return r.allows(r.write, name)
}

// current returns the compiled rules for the version of the file in use,
// recompiling them if the file was reloaded since.
func (c *ClientACL) current() *clientRules {
	r := c.rules.Load()
	if c.source == nil {
		return r
	}
	v := c.source.current.Load()
	if r.version == v {
		return r
	}
	fresh := c.compile(v.acl, v)
	c.rules.CompareAndSwap(r, fresh) // a racing recompile of a newer version wins
	return fresh
}

// allows reports whether name matches no deny rule and one of grants.
func (r *clientRules) allows(grants []compiledRule, name string) bool {
	for i := range r.deny {
		if r.deny[i].matches(name) {
			return false
		}
	}
	for i := range grants {
		if grants[i].matches(name) {
			return true
		}
	}
	return false
}

// matches reports whether the rule matches the topic name.
func (cr *compiledRule) matches(name string) bool {
	if topic.IsSystem(name) && !cr.system {
		return false
	}
	return topic.Match(cr.filter, name)
}

// compile builds the client's rules from acl.
func (c *ClientACL) compile(acl *ACL, version *aclVersion) *clientRules {
	r := &clientRules{version: version}
	section := acl.anonymous
	if c.hasUsername {
		section = acl.users[c.username]
	}
	for _, rl := range section {
		r.add(rl, rl.filter)
	}
	dangerous := len(acl.patterns) > 0 &&
		(strings.ContainsAny(c.clientID, "+#") || c.hasUsername && strings.ContainsAny(c.username, "+#"))
	for _, rl := range acl.patterns {
		if rl.usesUsername && !c.hasUsername {
			continue
		}
		if rl.grant != 0 && (dangerous ||
			rl.usesClientID && strings.Contains(c.clientID, "/") ||
			rl.usesUsername && strings.Contains(c.username, "/")) {
			continue
		}
		r.add(rl, c.substitute(rl))
	}
	return r
}

// add files rule under filter into the lists its access calls for.
func (r *clientRules) add(rl rule, filter string) {
	cr := compiledRule{filter: filter, system: topic.IsSystem(rl.filter)}
	if rl.grant == 0 {
		r.deny = append(r.deny, cr)
	}
	if rl.grant&accessRead != 0 {
		r.read = append(r.read, cr)
	}
	if rl.grant&accessWrite != 0 {
		r.write = append(r.write, cr)
	}
}

// substitute returns a pattern's filter with its "%c" and "%u" levels
// replaced by the client's id and user name.
func (c *ClientACL) substitute(rl rule) string {
	if !rl.usesClientID && !rl.usesUsername {
		return rl.filter
	}
	levels := strings.Split(rl.filter, "/")
	for i, level := range levels {
		switch level {
		case "%c":
			levels[i] = c.clientID
		case "%u":
			levels[i] = c.username
		}
	}
	return strings.Join(levels, "/")
}

// ACLFile is an ACL file that can be reloaded while it is in use. Views
// from ForClient notice a reload at their next check and recompile
// themselves. Its methods are safe for concurrent use.
type ACLFile struct {
	path     string
	reloadMu sync.Mutex // serializes Reload, so the newest read is the one kept
	current  atomic.Pointer[aclVersion]
}

// aclVersion is one successful load of an ACLFile.
type aclVersion struct {
	acl        *ACL
	generation uint64
}

// OpenACLFile loads the ACL file at path (see LoadACL).
func OpenACLFile(path string) (*ACLFile, error) {
	acl, err := LoadACL(path)
	if err != nil {
		return nil, err
	}
	f := &ACLFile{path: path}
	f.current.Store(&aclVersion{acl: acl, generation: 1})
	return f, nil
}

// Reload reads the file again and, if it loads, puts it in use: every
// ClientACL from ForClient follows it from its next check. If it does not
// load, the previous version stays in use and the error is returned.
func (f *ACLFile) Reload() error {
	f.reloadMu.Lock()
	defer f.reloadMu.Unlock()
	acl, err := LoadACL(f.path)
	if err != nil {
		return err
	}
	f.current.Store(&aclVersion{acl: acl, generation: f.current.Load().generation + 1})
	return nil
}

// Generation counts successful loads: 1 after OpenACLFile, one more for
// each successful Reload. A broker may compare it to re-check what it
// authorized earlier (retained messages, queued and in-flight messages).
func (f *ACLFile) Generation() uint64 { return f.current.Load().generation }

// ACL returns the version in use.
func (f *ACLFile) ACL() *ACL { return f.current.Load().acl }

// Path returns the file's path.
func (f *ACLFile) Path() string { return f.path }

// ForClient returns the view of a client with the given id and user name
// (hasUsername false for a client that sent none), compiled from the
// version in use and following later reloads.
func (f *ACLFile) ForClient(clientID, username string, hasUsername bool) *ClientACL {
	c := &ClientACL{source: f, clientID: clientID, username: username, hasUsername: hasUsername}
	v := f.current.Load()
	c.rules.Store(c.compile(v.acl, v))
	return c
}
