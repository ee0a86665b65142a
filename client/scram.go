package client

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ErrSCRAMServerSignature means the server's last SCRAM message did not
// prove that it holds the password's keys: it may be an impostor, and the
// connection should not be trusted.
var ErrSCRAMServerSignature = errors.New("client: SCRAM server signature does not verify")

// SCRAM is an AuthMethod.
var _ AuthMethod = (*SCRAM)(nil)

// scramMethod is the MQTT 5 Authentication Method SCRAM runs under.
const scramMethod = "SCRAM-SHA-512"

// Bounds on what a server sends, so that a hostile one cannot make the
// client hash for minutes or hold megabytes.
const (
	maxSCRAMIterations = 1 << 22 // a few seconds of PBKDF2-HMAC-SHA512
	maxSCRAMSalt       = 1024    // bytes, decoded
	maxSCRAMMessage    = 4096    // a server-first or server-final message
	scramNonceSize     = 24      // random bytes in the client's nonce
)

// scramState is where a SCRAM is in its exchange.
type scramState int

const (
	scramIdle scramState = iota
	scramSentFirst
	scramSentFinal
)

// SCRAM is the client's side of SCRAM-SHA-512 (RFC 5802 with SHA-512),
// the MQTT 5 enhanced authentication method "SCRAM-SHA-512". The exchange
// is Start (client-first-message, sent in CONNECT or in AUTH 0x19 to
// re-authenticate), Next (server-first-message in, client-final-message
// out) and Finish (server-final-message in: it checks that the server knows
// the password's keys). Start begins a new exchange each time it is called.
// A SCRAM is not safe for concurrent use.
//
// The password is used as its bytes, without SASLprep, because that is how
// midge passwd and mosquitto_passwd hash it; the user name must be
// printable ASCII, on which SASLprep changes nothing.
type SCRAM struct {
	username string
	password []byte
	random   io.Reader // the client nonce's source

	state           scramState
	clientNonce     string
	clientFirstBare string
	serverSignature []byte // expected in server-final-message

	// The last SaltedPassword and what it was computed from, so that a
	// re-authentication against the same entry skips PBKDF2.
	saltedSalt       []byte
	saltedIterations int
	saltedPassword   []byte
}

// SCRAMSHA512 returns the SCRAM-SHA-512 authentication method for username
// and password. password is copied.
func SCRAMSHA512(username string, password []byte) *SCRAM {
	return &SCRAM{username: username, password: append([]byte(nil), password...), random: rand.Reader}
}

// Name returns "SCRAM-SHA-512", the Authentication Method property.
func (s *SCRAM) Name() string { return scramMethod }

// Start returns client-first-message with a fresh nonce, beginning a new
// exchange. It fails, wrapping ErrInvalidOptions, when the user name is
// empty or not printable ASCII.
func (s *SCRAM) Start() ([]byte, error) {
	s.state = scramIdle
	escaped, err := escapeSASLName(s.username)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, scramNonceSize)
	if _, err := io.ReadFull(s.random, nonce); err != nil {
		return nil, fmt.Errorf("client: SCRAM nonce: %w", err)
	}
	s.clientNonce = base64.StdEncoding.EncodeToString(nonce)
	s.clientFirstBare = "n=" + escaped + ",r=" + s.clientNonce
	s.state = scramSentFirst
	return []byte("n,," + s.clientFirstBare), nil
}

// Next takes server-first-message and returns client-final-message, whose
// proof shows the password. A malformed message, a nonce that does not
// extend the client's, or an iteration count over 2^22 is an error
// wrapping ErrProtocol.
func (s *SCRAM) Next(serverData []byte) ([]byte, error) {
	if s.state != scramSentFirst {
		return nil, fmt.Errorf("%w: SCRAM server-first-message out of turn", ErrProtocol)
	}
	s.state = scramIdle // until this message is accepted
	serverFirst := string(serverData)
	nonce, salt, iterations, err := s.parseServerFirst(serverFirst)
	if err != nil {
		return nil, err
	}
	salted, err := s.salt(salt, iterations)
	if err != nil {
		return nil, err
	}
	withoutProof := "c=biws,r=" + nonce // biws is base64 of "n,,"
	authMessage := s.clientFirstBare + "," + serverFirst + "," + withoutProof
	clientKey := hmacSHA512(salted, "Client Key")
	storedKey := sha512.Sum512(clientKey)
	proof := hmacSHA512(storedKey[:], authMessage) // ClientSignature
	subtle.XORBytes(proof, proof, clientKey)
	s.serverSignature = hmacSHA512(hmacSHA512(salted, "Server Key"), authMessage)
	s.state = scramSentFinal
	return []byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)), nil
}

// Finish takes server-final-message and checks the server's signature. It
// returns an error wrapping ErrSCRAMServerSignature when the signature is
// wrong or missing, one wrapping ErrProtocol when the message is malformed,
// and the server's reason when it sent "e=".
func (s *SCRAM) Finish(serverData []byte) error {
	if s.state != scramSentFinal {
		return fmt.Errorf("%w: SCRAM server-final-message out of turn", ErrProtocol)
	}
	s.state = scramIdle
	if len(serverData) > maxSCRAMMessage {
		return fmt.Errorf("%w: SCRAM server-final-message is %d bytes", ErrProtocol, len(serverData))
	}
	field, _, _ := strings.Cut(string(serverData), ",") // extensions are ignored
	if reason, ok := strings.CutPrefix(field, "e="); ok {
		return fmt.Errorf("client: SCRAM refused by the server: %q", reason)
	}
	encoded, ok := strings.CutPrefix(field, "v=")
	if !ok {
		return fmt.Errorf("%w: no server signature (v=) in server-final-message", ErrSCRAMServerSignature)
	}
	signature, err := base64.StdEncoding.Strict().DecodeString(encoded)
	if err != nil {
		return fmt.Errorf("%w: SCRAM server signature is not base64", ErrProtocol)
	}
	if !hmac.Equal(signature, s.serverSignature) {
		return ErrSCRAMServerSignature
	}
	return nil
}

// parseServerFirst returns the nonce, salt and iteration count of
// server-first-message: "r=NONCE,s=SALT,i=COUNT[,extensions]".
func (s *SCRAM) parseServerFirst(msg string) (nonce string, salt []byte, iterations int, err error) {
	if len(msg) > maxSCRAMMessage {
		return "", nil, 0, fmt.Errorf("%w: SCRAM server-first-message is %d bytes", ErrProtocol, len(msg))
	}
	if strings.HasPrefix(msg, "m=") {
		return "", nil, 0, fmt.Errorf("%w: SCRAM mandatory extension (m=) is not supported", ErrProtocol)
	}
	fields := strings.SplitN(msg, ",", 4)
	if len(fields) < 3 {
		return "", nil, 0, fmt.Errorf("%w: SCRAM server-first-message is not r=,s=,i=", ErrProtocol)
	}
	nonce, okNonce := strings.CutPrefix(fields[0], "r=")
	encodedSalt, okSalt := strings.CutPrefix(fields[1], "s=")
	count, okCount := strings.CutPrefix(fields[2], "i=")
	if !okNonce || !okSalt || !okCount {
		return "", nil, 0, fmt.Errorf("%w: SCRAM server-first-message is not r=,s=,i=", ErrProtocol)
	}
	if len(nonce) <= len(s.clientNonce) || !strings.HasPrefix(nonce, s.clientNonce) || !printableNonce(nonce) {
		return "", nil, 0, fmt.Errorf("%w: SCRAM server nonce does not extend the client's with printable characters", ErrProtocol)
	}
	salt, err = base64.StdEncoding.Strict().DecodeString(encodedSalt)
	if err != nil || len(salt) == 0 || len(salt) > maxSCRAMSalt {
		return "", nil, 0, fmt.Errorf("%w: SCRAM salt is not 1 to %d bytes of base64", ErrProtocol, maxSCRAMSalt)
	}
	iterations, err = strconv.Atoi(count)
	if err != nil || iterations < 1 || iterations > maxSCRAMIterations || count[0] == '+' {
		return "", nil, 0, fmt.Errorf("%w: SCRAM iteration count %q is not from 1 to %d", ErrProtocol, count, maxSCRAMIterations)
	}
	return nonce, salt, iterations, nil
}

// salt returns SaltedPassword = PBKDF2-HMAC-SHA512(password, salt,
// iterations, 64), reusing the last one when salt and iterations are the
// same.
func (s *SCRAM) salt(salt []byte, iterations int) ([]byte, error) {
	if s.saltedPassword != nil && iterations == s.saltedIterations && string(salt) == string(s.saltedSalt) {
		return s.saltedPassword, nil
	}
	salted, err := pbkdf2.Key(sha512.New, string(s.password), salt, iterations, sha512.Size)
	if err != nil {
		return nil, fmt.Errorf("client: SCRAM: %w", err)
	}
	s.saltedSalt, s.saltedIterations, s.saltedPassword = salt, iterations, salted
	return salted, nil
}

// hmacSHA512 returns HMAC-SHA512(key, message).
func hmacSHA512(key []byte, message string) []byte {
	mac := hmac.New(sha512.New, key)
	mac.Write([]byte(message))
	return mac.Sum(nil)
}

// escapeSASLName returns username as a saslname: ',' as "=2C", '=' as
// "=3D". It accepts non-empty printable ASCII only (see SCRAM).
func escapeSASLName(username string) (string, error) {
	if username == "" {
		return "", fmt.Errorf("%w: SCRAM needs a user name", ErrInvalidOptions)
	}
	for i := 0; i < len(username); i++ {
		if c := username[i]; c < 0x20 || c > 0x7e {
			return "", fmt.Errorf("%w: SCRAM user name holds byte 0x%02x; only printable ASCII is supported", ErrInvalidOptions, c)
		}
	}
	return strings.NewReplacer("=", "=3D", ",", "=2C").Replace(username), nil
}

// printableNonce reports whether nonce is printable ASCII without ','.
func printableNonce(nonce string) bool {
	for i := 0; i < len(nonce); i++ {
		if c := nonce[i]; c < 0x21 || c > 0x7e || c == ',' {
			return false
		}
	}
	return true
}
