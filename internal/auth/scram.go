package auth

import (
	"crypto/hmac"
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

// SCRAMMethod is the MQTT 5 Authentication Method that SCRAM runs under.
const SCRAMMethod = "SCRAM-SHA-512"

// Sentinel errors of a SCRAM exchange. Compare with errors.Is: Step wraps
// them with detail meant for the broker's log, never for the peer.
var (
	// ErrSCRAMFailed means the client did not prove it knows the password:
	// a wrong password, an unknown user, or a user whose entry is a $6$
	// hash. All three look the same on the wire; the wrapped text tells
	// which for the log. The broker answers it with Bad User Name or
	// Password (0x86).
	ErrSCRAMFailed = errors.New("auth: SCRAM authentication failed")
	// ErrSCRAMMalformed means a client message breaks RFC 5802's grammar,
	// is too long, asks for something midge does not support (channel
	// binding, an authorization identity, a mandatory extension, a
	// non-ASCII user name), or came after the exchange ended.
	ErrSCRAMMalformed = errors.New("auth: malformed SCRAM message")
)

// Bounds on what a client sends. A message over maxSCRAMMessage, or a
// nonce over maxSCRAMNonce, is ErrSCRAMMalformed.
const (
	maxSCRAMMessage = 4096 // a client-first or client-final message
	maxSCRAMNonce   = 256  // the client's nonce
	scramNonceSize  = 24   // random bytes in the server's nonce
)

// SCRAM checks SCRAM-SHA-512 exchanges (RFC 5802, with SHA-512 as RFC 7677
// does SHA-256) against a password file, without knowing any password: a
// $7$ entry's digest is PBKDF2-HMAC-SHA512(password, salt, iterations, 64),
// which is SCRAM's SaltedPassword, so StoredKey and ServerKey follow from
// it. Users with a $6$ entry cannot use SCRAM.
//
// A SCRAM holds a random secret from which it derives the salt an unknown
// user is shown, so that one user name gets the same salt every time while
// the SCRAM lives: create one per broker, not per connection. It is safe
// for concurrent use.
type SCRAM struct {
	passwords func() *Passwords
	secret    [32]byte
}

// NewSCRAM returns a SCRAM that checks users against passwords(), called
// once at the start of each exchange. Pass a PasswordFile's Passwords
// method so that exchanges follow reloads, or a func returning a fixed
// *Passwords. A nil result counts as an empty file.
func NewSCRAM(passwords func() *Passwords) *SCRAM {
	s := &SCRAM{passwords: passwords}
	rand.Read(s.secret[:]) // never returns an error
	return s
}

// NewExchange starts one exchange, on a snapshot of the password file as
// it is now.
func (s *SCRAM) NewExchange() *SCRAMServer {
	return &SCRAMServer{scram: s, passwords: s.passwords(), random: rand.Reader}
}

// scramStep is where a SCRAMServer is in its exchange.
type scramStep int

const (
	awaitClientFirst scramStep = iota
	awaitClientFinal
	scramDone
	scramFailed
)

// SCRAMServer is the broker's side of one SCRAM-SHA-512 exchange: feed
// each client message to Step and send back what it returns. It is not
// safe for concurrent use. The exchange is:
//
//	client-first  "n,,n=USER,r=CNONCE"               (CONNECT or AUTH 0x19)
//	server-first  "r=CNONCE SNONCE,s=SALT,i=COUNT"   (AUTH 0x18)
//	client-final  "c=biws,r=CNONCE SNONCE,p=PROOF"   (AUTH 0x18)
//	server-final  "v=SIGNATURE"                      (CONNACK or AUTH 0x00)
//
// An unknown user, or one with a $6$ entry, is answered with a salt derived
// from the user name and the SCRAM's secret and the iteration count most
// of the file's entries have, and is refused at the second Step as a wrong
// password is.
type SCRAMServer struct {
	scram     *SCRAM
	passwords *Passwords // the snapshot the exchange checks against; may be nil
	random    io.Reader  // the server nonce's source

	step            scramStep
	username        string
	refusal         error  // why the proof will be refused whatever it is; nil for a $7$ user
	gs2Header       string // "n,," or "y,,", as the client sent it
	clientFirstBare string
	serverFirst     string
	nonce           string // the client's and the server's together
	storedKey       []byte
	serverKey       []byte
}

// Step takes the client's next message and returns the server's answer.
// The first call takes client-first-message and returns
// server-first-message; the second takes client-final-message and, if the
// proof is right, returns server-final-message with done true. Any error
// ends the exchange (later calls fail with ErrSCRAMMalformed) and comes
// with nil serverData; errors wrap ErrSCRAMFailed or ErrSCRAMMalformed,
// unless crypto/rand fails. Their text names the user and the reason, for
// the broker's log only: the peer must see the same reason code for a
// wrong password, an unknown user and a $6$ user.
func (s *SCRAMServer) Step(clientData []byte) (serverData []byte, done bool, err error) {
	switch s.step {
	case awaitClientFirst:
		serverData, err = s.clientFirst(clientData)
	case awaitClientFinal:
		serverData, err = s.clientFinal(clientData)
		done = err == nil
	default:
		return nil, false, fmt.Errorf("%w: the exchange is over", ErrSCRAMMalformed)
	}
	switch {
	case err != nil:
		s.step = scramFailed
		return nil, false, err
	case done:
		s.step = scramDone
	default:
		s.step = awaitClientFinal
	}
	return serverData, done, nil
}

// Username returns the authenticated user name once Step has returned done,
// and "" before or after a failure.
func (s *SCRAMServer) Username() string {
	if s.step != scramDone {
		return ""
	}
	return s.username
}

// clientFirst parses client-first-message, looks the user up and returns
// server-first-message.
func (s *SCRAMServer) clientFirst(data []byte) ([]byte, error) {
	if len(data) > maxSCRAMMessage {
		return nil, fmt.Errorf("%w: client-first-message is %d bytes; at most %d", ErrSCRAMMalformed, len(data), maxSCRAMMessage)
	}
	msg := string(data)
	header, bare, err := parseGS2Header(msg)
	if err != nil {
		return nil, err
	}
	username, clientNonce, err := parseClientFirstBare(bare)
	if err != nil {
		return nil, err
	}
	s.gs2Header, s.clientFirstBare, s.username = header, bare, username

	salt, iterations := s.lookup(username)
	serverNonce := make([]byte, scramNonceSize)
	if _, err := io.ReadFull(s.random, serverNonce); err != nil {
		return nil, fmt.Errorf("auth: SCRAM nonce: %w", err)
	}
	s.nonce = clientNonce + base64.StdEncoding.EncodeToString(serverNonce)
	s.serverFirst = "r=" + s.nonce + ",s=" + base64.StdEncoding.EncodeToString(salt) + ",i=" + strconv.Itoa(iterations)
	return []byte(s.serverFirst), nil
}

// lookup sets s's keys and refusal for username and returns the salt and
// iteration count to show the client: the entry's for a $7$ user, made-up
// ones otherwise (see SCRAMServer).
func (s *SCRAMServer) lookup(username string) (salt []byte, iterations int) {
	// Made up for every user, so that a known one costs what an unknown
	// one does.
	fakeSalt := s.scram.derive("salt", username)
	fakeSaltedPassword := s.scram.derive("salted password", username)
	var h *passwordHash
	if s.passwords != nil {
		h = s.passwords.users[username]
	}
	if h != nil && h.kind == PBKDF2SHA512 {
		s.storedKey, s.serverKey = scramKeys(h.digest)
		return h.salt, h.iterations
	}
	if h == nil {
		s.refusal = fmt.Errorf("%w: unknown user %q", ErrSCRAMFailed, username)
	} else {
		s.refusal = fmt.Errorf("%w: user %q has a $6$ (sha512) hash, which SCRAM cannot use; set the password again with midge passwd to store a $7$ hash", ErrSCRAMFailed, username)
	}
	saltLen, iterations := saltSize, DefaultIterations
	if s.passwords != nil && s.passwords.dummy.kind == PBKDF2SHA512 {
		saltLen, iterations = len(s.passwords.dummy.salt), s.passwords.dummy.iterations
	}
	// Keys from the made-up SaltedPassword, so that refusing costs what
	// checking does; the refusal stands whatever the proof is.
	s.storedKey, s.serverKey = scramKeys(fakeSaltedPassword)
	return fakeSalt[:saltLen], iterations
}

// derive returns HMAC-SHA512(secret, purpose ‖ 0 ‖ username): 64 bytes
// that are the same for the same arguments while s lives.
func (s *SCRAM) derive(purpose, username string) []byte {
	mac := hmac.New(sha512.New, s.secret[:])
	mac.Write([]byte(purpose))
	mac.Write([]byte{0})
	mac.Write([]byte(username))
	return mac.Sum(nil)
}

// scramKeys returns StoredKey = H(HMAC(SaltedPassword, "Client Key")) and
// ServerKey = HMAC(SaltedPassword, "Server Key").
func scramKeys(saltedPassword []byte) (storedKey, serverKey []byte) {
	clientKey := scramHMAC(saltedPassword, "Client Key")
	stored := sha512.Sum512(clientKey)
	return stored[:], scramHMAC(saltedPassword, "Server Key")
}

// scramHMAC returns HMAC-SHA512(key, message).
func scramHMAC(key []byte, message string) []byte {
	mac := hmac.New(sha512.New, key)
	mac.Write([]byte(message))
	return mac.Sum(nil)
}

// clientFinal parses client-final-message, checks its proof and returns
// server-final-message.
func (s *SCRAMServer) clientFinal(data []byte) ([]byte, error) {
	if len(data) > maxSCRAMMessage {
		return nil, fmt.Errorf("%w: client-final-message is %d bytes; at most %d", ErrSCRAMMalformed, len(data), maxSCRAMMessage)
	}
	msg := string(data)
	withoutProof, proof, err := s.parseClientFinal(msg)
	if err != nil {
		return nil, err
	}
	authMessage := s.clientFirstBare + "," + s.serverFirst + "," + withoutProof
	// ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage); the proof
	// holds if H(ClientKey) is StoredKey.
	clientKey := scramHMAC(s.storedKey, authMessage)
	subtle.XORBytes(clientKey, clientKey, proof)
	computed := sha512.Sum512(clientKey)
	matches := subtle.ConstantTimeCompare(computed[:], s.storedKey) == 1
	switch {
	case s.refusal != nil:
		return nil, s.refusal
	case !matches:
		return nil, fmt.Errorf("%w: wrong password for user %q", ErrSCRAMFailed, s.username)
	}
	signature := scramHMAC(s.serverKey, authMessage)
	return []byte("v=" + base64.StdEncoding.EncodeToString(signature)), nil
}

// parseClientFinal splits client-final-message into the part the
// AuthMessage holds and the decoded proof, checking the channel binding
// and the nonce.
func (s *SCRAMServer) parseClientFinal(msg string) (withoutProof string, proof []byte, err error) {
	cut := strings.LastIndex(msg, ",p=")
	if cut < 0 {
		return "", nil, fmt.Errorf("%w: client-final-message has no proof (p=) at its end", ErrSCRAMMalformed)
	}
	withoutProof = msg[:cut]
	proof, err = base64.StdEncoding.Strict().DecodeString(msg[cut+len(",p="):])
	if err != nil || len(proof) != sha512.Size {
		return "", nil, fmt.Errorf("%w: client proof is not %d bytes of base64", ErrSCRAMMalformed, sha512.Size)
	}
	binding, rest, _ := strings.Cut(withoutProof, ",")
	encoded, ok := strings.CutPrefix(binding, "c=")
	if !ok {
		return "", nil, fmt.Errorf("%w: client-final-message does not start with c=", ErrSCRAMMalformed)
	}
	header, err := base64.StdEncoding.Strict().DecodeString(encoded)
	if err != nil || string(header) != s.gs2Header {
		return "", nil, fmt.Errorf("%w: channel binding c=%q is not base64 of the gs2 header %q", ErrSCRAMMalformed, encoded, s.gs2Header)
	}
	nonce, extensions, _ := strings.Cut(rest, ",")
	if nonce != "r="+s.nonce {
		return "", nil, fmt.Errorf("%w: client-final-message nonce is not the one server-first-message sent", ErrSCRAMMalformed)
	}
	if err := checkExtensions(extensions); err != nil {
		return "", nil, err
	}
	return withoutProof, proof, nil
}

// parseGS2Header splits client-first-message into its gs2 header and the
// bare message. midge supports no channel binding, so the flag must be "n"
// or "y" (the client could bind but believes the server cannot, which is
// so; RFC 5802 section 6 has the server accept it); "p=" is refused, as is
// an authorization identity.
func parseGS2Header(msg string) (header, bare string, err error) {
	flag, rest, ok := strings.Cut(msg, ",")
	switch {
	case !ok:
		return "", "", fmt.Errorf("%w: client-first-message has no gs2 header (want \"n,,\")", ErrSCRAMMalformed)
	case strings.HasPrefix(flag, "p="):
		return "", "", fmt.Errorf("%w: channel binding (%s) is not supported; use SCRAM without -PLUS (gs2 header \"n,,\")", ErrSCRAMMalformed, flag)
	case flag != "n" && flag != "y":
		return "", "", fmt.Errorf("%w: gs2 channel binding flag %q is not n, y or p=", ErrSCRAMMalformed, flag)
	}
	authzid, bare, ok := strings.Cut(rest, ",")
	switch {
	case !ok:
		return "", "", fmt.Errorf("%w: gs2 header does not end with ','", ErrSCRAMMalformed)
	case strings.HasPrefix(authzid, "a="):
		return "", "", fmt.Errorf("%w: an authorization identity (a=) is not supported", ErrSCRAMMalformed)
	case authzid != "":
		return "", "", fmt.Errorf("%w: gs2 header field %q is not a=", ErrSCRAMMalformed, authzid)
	}
	return msg[:len(msg)-len(bare)], bare, nil
}

// parseClientFirstBare returns the user name and nonce of
// client-first-message-bare: "n=USER,r=NONCE[,extensions]".
func parseClientFirstBare(bare string) (username, nonce string, err error) {
	if strings.HasPrefix(bare, "m=") {
		return "", "", fmt.Errorf("%w: mandatory extension (m=) is not supported", ErrSCRAMMalformed)
	}
	name, rest, _ := strings.Cut(bare, ",")
	escaped, ok := strings.CutPrefix(name, "n=")
	if !ok {
		return "", "", fmt.Errorf("%w: client-first-message-bare does not start with n=", ErrSCRAMMalformed)
	}
	if username, err = unescapeSASLName(escaped); err != nil {
		return "", "", err
	}
	field, extensions, _ := strings.Cut(rest, ",")
	nonce, ok = strings.CutPrefix(field, "r=")
	switch {
	case !ok:
		return "", "", fmt.Errorf("%w: client-first-message-bare has no nonce (r=) after the user name", ErrSCRAMMalformed)
	case nonce == "" || len(nonce) > maxSCRAMNonce:
		return "", "", fmt.Errorf("%w: client nonce is %d bytes; want 1 to %d", ErrSCRAMMalformed, len(nonce), maxSCRAMNonce)
	}
	for i := 0; i < len(nonce); i++ {
		if c := nonce[i]; c < 0x21 || c > 0x7e {
			return "", "", fmt.Errorf("%w: client nonce holds byte 0x%02x; only printable ASCII is allowed", ErrSCRAMMalformed, c)
		}
	}
	if err := checkExtensions(extensions); err != nil {
		return "", "", err
	}
	return username, nonce, nil
}

// unescapeSASLName decodes a saslname: "=2C" is ',' and "=3D" is '='. midge
// does not implement SASLprep, whose mapping is the identity on printable
// ASCII, so it accepts printable ASCII only.
func unescapeSASLName(escaped string) (string, error) {
	if escaped == "" {
		return "", fmt.Errorf("%w: empty user name", ErrSCRAMMalformed)
	}
	var name strings.Builder
	name.Grow(len(escaped))
	for i := 0; i < len(escaped); i++ {
		c := escaped[i]
		switch {
		case c == '=' && strings.HasPrefix(escaped[i:], "=2C"):
			name.WriteByte(',')
			i += 2
		case c == '=' && strings.HasPrefix(escaped[i:], "=3D"):
			name.WriteByte('=')
			i += 2
		case c == '=':
			return "", fmt.Errorf("%w: '=' in the user name is not =2C or =3D", ErrSCRAMMalformed)
		case c < 0x20 || c > 0x7e:
			return "", fmt.Errorf("%w: user name holds byte 0x%02x; SCRAM here accepts printable ASCII user names only", ErrSCRAMMalformed, c)
		default:
			name.WriteByte(c)
		}
	}
	return name.String(), nil
}

// checkExtensions checks that each ','-separated field of extensions, if
// any, is an attribute: a letter, '=', and a value. Their meaning is
// ignored, as RFC 5802 asks.
func checkExtensions(extensions string) error {
	if extensions == "" {
		return nil
	}
	for field := range strings.SplitSeq(extensions, ",") {
		if len(field) < 2 || field[1] != '=' || !isLetter(field[0]) {
			return fmt.Errorf("%w: field %q is not an attribute (a letter and '=')", ErrSCRAMMalformed, field)
		}
	}
	return nil
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
