package auth

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
)

// maxLineLength bounds a line of a password or ACL file. Mosquitto allows
// 65535 bytes for each of a user name and a hash, and for a topic filter.
const maxLineLength = 256 << 10

// maxFieldLength bounds a user name and a hash, as Mosquitto does.
const maxFieldLength = 65535

// Passwords is a loaded password file: user names and their hashes. It is
// immutable, and safe for concurrent use.
type Passwords struct {
	users map[string]*passwordHash
	// dummy is hashed for unknown users, so that refusing one costs what
	// checking a known one does: it has the kind and iteration count most
	// entries of the file have.
	dummy passwordHash
}

// LoadPasswords reads a Mosquitto password file. Each line is
// "username:hash" (both trimmed of blanks); blank lines and lines whose
// first non-blank character is '#' are skipped. Every other line must hold
// a $6$ or $7$ hash with a 12- or 64-byte salt and a 64-byte digest.
//
// Unlike Mosquitto, which skips lines without ':' and logs and drops
// entries it cannot decode, any such line is an error (a *FileError naming
// the file and line), as are an empty user name, an empty, plain-text,
// argon2 or otherwise unreadable hash, and a user name given twice: a file
// that does not load whole is not used at all (CVE-2018-12551).
func LoadPasswords(path string) (*Passwords, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("auth: password file: %w", err)
	}
	defer f.Close()
	return ParsePasswords(path, f)
}

// ParsePasswords is LoadPasswords reading r; name is the file name its
// errors carry.
func ParsePasswords(name string, r io.Reader) (*Passwords, error) {
	p := &Passwords{users: make(map[string]*passwordHash)}
	lineOf := make(map[string]int) // user name -> line, for duplicate errors
	err := scanLines(name, r, func(number int, line string) error {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			return nil
		}
		user, encoded, ok := strings.Cut(line, ":")
		if !ok {
			return &FileError{name, number, "no ':' between user name and hash"}
		}
		user, encoded = strings.TrimSpace(user), strings.TrimSpace(encoded)
		switch {
		case user == "":
			return &FileError{name, number, "empty user name"}
		case len(user) > maxFieldLength:
			return &FileError{name, number, "user name longer than 65535 bytes"}
		case lineOf[user] != 0:
			return &FileError{name, number, fmt.Sprintf("user %q is already on line %d", user, lineOf[user])}
		case encoded == "":
			return &FileError{name, number, fmt.Sprintf("user %q has no password hash", user)}
		}
		h, err := parseHash(encoded)
		if err != nil {
			return &FileError{name, number, fmt.Sprintf("user %q: %v", user, err)}
		}
		p.users[user] = &h
		lineOf[user] = number
		return nil
	})
	if err != nil {
		return nil, err
	}
	p.dummy = dummyHash(p.users)
	return p, nil
}

// scanLines calls fn with each line of r (without its '\n') and its 1-based
// number, stopping at fn's first error. A line over maxLineLength is an
// error.
func scanLines(name string, r io.Reader, fn func(number int, line string) error) error {
	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, 0, 4096), maxLineLength)
	number := 0
	for scanner.Scan() {
		number++
		if err := fn(number, scanner.Text()); err != nil {
			return err
		}
	}
	if err := scanner.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return &FileError{name, number + 1, fmt.Sprintf("line longer than %d bytes", maxLineLength)}
		}
		return fmt.Errorf("auth: reading %s: %w", name, err)
	}
	return nil
}

// dummyHash returns a hash of the kind and iteration count most of users
// have (the larger count on a tie; PBKDF2 at DefaultIterations for an empty
// file), with a random salt of the size most of those entries have (the
// longer on a tie; 12 bytes for an empty file) and a digest nothing
// matches. SCRAM's answers for unknown users take their shape from it.
func dummyHash(users map[string]*passwordHash) passwordHash {
	type shape struct {
		kind       HashKind
		iterations int
	}
	counts := make(map[shape]int)
	best, bestCount := shape{PBKDF2SHA512, DefaultIterations}, 0
	for _, h := range users {
		s := shape{h.kind, h.iterations}
		counts[s]++
		n := counts[s]
		if n > bestCount || n == bestCount && s.iterations > best.iterations {
			best, bestCount = s, n
		}
	}
	saltCounts := make(map[int]int) // salt size -> entries of the best shape
	bestSalt, bestSaltCount := saltSize, 0
	for _, h := range users {
		if h.kind != best.kind || h.iterations != best.iterations {
			continue
		}
		saltCounts[len(h.salt)]++
		n := saltCounts[len(h.salt)]
		if n > bestSaltCount || n == bestSaltCount && len(h.salt) > bestSalt {
			bestSalt, bestSaltCount = len(h.salt), n
		}
	}
	d := passwordHash{kind: best.kind, iterations: best.iterations, salt: make([]byte, bestSalt), digest: make([]byte, digestSize)}
	rand.Read(d.salt)
	rand.Read(d.digest)
	return d
}

// Check reports whether username is in the file and password matches its
// hash. The comparison takes constant time, and an unknown user name costs
// one hash of the file's most common kind before it is refused, so timing
// tells little about which user names exist. A zero-length password is
// refused, even where the entry is the hash of the empty string, as
// Mosquitto refuses it (it holds no password then); it costs a hash all the
// same. Check cannot tell an absent password from an empty one: a caller
// that must refuse a CONNECT without the password flag, as Mosquitto does,
// refuses it itself.
func (p *Passwords) Check(username string, password []byte) bool {
	h, ok := p.users[username]
	if !ok {
		h = &p.dummy
	}
	match := h.matches(password)
	return ok && match && len(password) > 0
}

// Len returns the number of users in the file.
func (p *Passwords) Len() int { return len(p.users) }

// PasswordFile is a password file that can be reloaded while it is in use.
// Its methods are safe for concurrent use.
type PasswordFile struct {
	path     string
	reloadMu sync.Mutex // serializes Reload, so the newest read is the one kept
	current  atomic.Pointer[Passwords]
}

// OpenPasswordFile loads the password file at path (see LoadPasswords).
func OpenPasswordFile(path string) (*PasswordFile, error) {
	p, err := LoadPasswords(path)
	if err != nil {
		return nil, err
	}
	f := &PasswordFile{path: path}
	f.current.Store(p)
	return f, nil
}

// Reload reads the file again and, if it loads, puts it in use for every
// later Check. If it does not, the previous content stays in use and the
// error is returned.
func (f *PasswordFile) Reload() error {
	f.reloadMu.Lock()
	defer f.reloadMu.Unlock()
	p, err := LoadPasswords(f.path)
	if err != nil {
		return err
	}
	f.current.Store(p)
	return nil
}

// Check is Passwords.Check on the content in use.
func (f *PasswordFile) Check(username string, password []byte) bool {
	return f.current.Load().Check(username, password)
}

// Passwords returns the content in use.
func (f *PasswordFile) Passwords() *Passwords { return f.current.Load() }

// Path returns the file's path.
func (f *PasswordFile) Path() string { return f.path }
