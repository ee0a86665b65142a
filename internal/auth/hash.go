package auth

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// HashKind is how a password file entry is hashed: the digit between the
// first two '$' of the entry.
type HashKind byte

// The hash kinds Mosquitto's password file holds and midge reads.
const (
	// SHA512 is "$6$SALT$HASH": SHA-512(password ‖ salt), one round.
	// Mosquitto 1.6 and earlier wrote it; mosquitto_passwd -H sha512.
	SHA512 HashKind = '6'
	// PBKDF2SHA512 is "$7$ITERATIONS$SALT$HASH": PBKDF2-HMAC-SHA512 with a
	// 64-byte output. Mosquitto 2.0's default and midge passwd's.
	PBKDF2SHA512 HashKind = '7'
)

// String returns the name mosquitto_passwd -H uses: "sha512" or
// "sha512-pbkdf2".
func (k HashKind) String() string {
	switch k {
	case SHA512:
		return "sha512"
	case PBKDF2SHA512:
		return "sha512-pbkdf2"
	}
	return fmt.Sprintf("HashKind(%q)", byte(k))
}

// DefaultIterations is the PBKDF2 iteration count midge passwd writes. It
// is Mosquitto 2.0's default (2.1 writes 1000): Debian's and Ubuntu's
// mosquitto 2.0 brokers read any count, but writing theirs keeps a file
// interchangeable with mosquitto_passwd output and its verification cost
// the same as the files users already have. Use -I for more.
const DefaultIterations = 101

// Sizes in a password file entry. Mosquitto 2.0 writes a 12-byte salt and
// drops entries whose salt is any other size; 2.1 writes 64 bytes. Both
// kinds hold a 64-byte digest.
const (
	saltSize     = 12 // what midge writes, so that Mosquitto 2.0 reads it
	longSaltSize = 64 // Mosquitto 2.1
	digestSize   = sha512.Size
)

// maxIterations bounds the iteration count of a $7$ entry, as a C int does
// for Mosquitto.
const maxIterations = 1<<31 - 1

// errNotHashed is the message for an entry that is plain text or of a kind
// midge does not read.
const errNotHashed = "hash is not $6$ or $7$; hash it with midge passwd -U"

// passwordHash is one decoded password file entry.
type passwordHash struct {
	kind       HashKind
	iterations int // PBKDF2SHA512 only
	salt       []byte
	digest     []byte
}

// parseHash decodes the hash half of a password file line. Its errors are
// messages for a FileError, without a package prefix.
func parseHash(s string) (passwordHash, error) {
	var h passwordHash
	switch {
	case strings.HasPrefix(s, "$6$"):
		h.kind = SHA512
		s = s[len("$6$"):]
	case strings.HasPrefix(s, "$7$"):
		h.kind = PBKDF2SHA512
		s = s[len("$7$"):]
		count, rest, ok := strings.Cut(s, "$")
		if !ok {
			return h, errors.New("$7$ hash has no iteration count")
		}
		n, err := strconv.Atoi(count)
		if err != nil || n < 1 || n > maxIterations || count[0] == '+' {
			return h, fmt.Errorf("$7$ iteration count %q is not a number from 1 to %d", count, maxIterations)
		}
		h.iterations, s = n, rest
	case strings.HasPrefix(s, "$argon2"):
		return h, errors.New("argon2 hashes (Mosquitto 2.1 -H argon2id) are not supported; set the password again with midge passwd")
	default:
		return h, errors.New(errNotHashed)
	}
	salt, digest, ok := strings.Cut(s, "$")
	if !ok || strings.Contains(digest, "$") {
		return h, fmt.Errorf("$%c$ hash is not $%c$SALT$HASH", h.kind, h.kind)
	}
	var err error
	if h.salt, err = base64.StdEncoding.Strict().DecodeString(salt); err != nil {
		return h, errors.New("salt is not standard base64")
	}
	if len(h.salt) != saltSize && len(h.salt) != longSaltSize {
		return h, fmt.Errorf("salt is %d bytes; want %d or %d", len(h.salt), saltSize, longSaltSize)
	}
	if h.digest, err = base64.StdEncoding.Strict().DecodeString(digest); err != nil {
		return h, errors.New("hash is not standard base64")
	}
	if len(h.digest) != digestSize {
		return h, fmt.Errorf("hash is %d bytes; want %d", len(h.digest), digestSize)
	}
	return h, nil
}

// compute returns h's digest of password.
func (h *passwordHash) compute(password []byte) []byte {
	if h.kind == SHA512 {
		d := sha512.New()
		d.Write(password)
		d.Write(h.salt)
		return d.Sum(nil)
	}
	key, err := pbkdf2.Key(sha512.New, string(password), h.salt, h.iterations, digestSize)
	if err != nil {
		return nil // only for parameters parseHash refuses; never equal
	}
	return key
}

// matches reports whether password hashes to h's digest, comparing in
// constant time.
func (h *passwordHash) matches(password []byte) bool {
	return subtle.ConstantTimeCompare(h.compute(password), h.digest) == 1
}

// encode returns the entry as a password file writes it.
func (h *passwordHash) encode() string {
	salt := base64.StdEncoding.EncodeToString(h.salt)
	digest := base64.StdEncoding.EncodeToString(h.digest)
	if h.kind == SHA512 {
		return "$6$" + salt + "$" + digest
	}
	return "$7$" + strconv.Itoa(h.iterations) + "$" + salt + "$" + digest
}

// Hash hashes password with a new random 12-byte salt and returns the hash
// half of a password file line, such as "$7$101$SALT$HASH". iterations is
// used by PBKDF2SHA512 only, and must be from 1 to 2^31-1.
func Hash(kind HashKind, password []byte, iterations int) (string, error) {
	h := passwordHash{kind: kind, iterations: iterations, salt: make([]byte, saltSize)}
	switch {
	case kind != SHA512 && kind != PBKDF2SHA512:
		return "", fmt.Errorf("auth: unknown hash kind %v", kind)
	case kind == PBKDF2SHA512 && (iterations < 1 || iterations > maxIterations):
		return "", fmt.Errorf("auth: iteration count %d is not from 1 to %d", iterations, maxIterations)
	}
	rand.Read(h.salt) // never returns an error
	h.digest = h.compute(password)
	if len(h.digest) != digestSize {
		return "", errors.New("auth: hashing failed")
	}
	return h.encode(), nil
}

// ValidHash reports whether encoded is a $6$ or $7$ hash that
// LoadPasswords accepts, returning nil or an error saying what is wrong.
func ValidHash(encoded string) error {
	if _, err := parseHash(encoded); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	return nil
}

// CompareHash reports whether password matches encoded, a $6$ or $7$ hash;
// it returns an error when encoded is not one.
func CompareHash(encoded string, password []byte) (bool, error) {
	h, err := parseHash(encoded)
	if err != nil {
		return false, fmt.Errorf("auth: %w", err)
	}
	return h.matches(password), nil
}
