package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// A SCRAM-SHA-512 vector computed with Python's hashlib and hmac (whose
// code for the same formulas reproduces RFC 7677's SCRAM-SHA-256 example),
// from RFC 7677's user, password and client nonce, a 12-byte salt, 4096
// iterations, and a server nonce of the bytes 0 to 23.
const (
	vectorEntry       = "$7$4096$W22ZaJ0SNY7soEsU$jG3WGyw2hHb69tb9mzU9gXcu+WIf1Qt+b56WqiwMqXshmQel5pvTNI+m4aSXTrNHWNQBPTxy4w/fSpvf8JqHWg=="
	vectorClientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
	vectorServerFirst = "r=rOprNGfwEbeRWgbNEkqOAAECAwQFBgcICQoLDA0ODxAREhMUFRYX,s=W22ZaJ0SNY7soEsU,i=4096"
	vectorClientFinal = "c=biws,r=rOprNGfwEbeRWgbNEkqOAAECAwQFBgcICQoLDA0ODxAREhMUFRYX,p=E9vEtupImqW05clcukJ0JcNb5T8S0QMEf1qP7ydgOa7yDgQ0CoCAfiBGZzCinWhZLr1CysIcxTLIx53GsVaEZg=="
	vectorServerFinal = "v=k0xXCSiRwaw4PJNkPHxcw3KlnTw3zH0ulMcgrik4d+RwoPcVMA/NFnsSmZfw9FiO4h51VKUVuwVVQl8IP6tpzQ=="
)

// counting returns the bytes 0, 1, 2, ... n-1: a predictable nonce source.
func counting(n int) *bytes.Reader {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return bytes.NewReader(b)
}

func mustParse(t testing.TB, file string) *Passwords {
	t.Helper()
	p, err := ParsePasswords("passwd", strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func fixed(p *Passwords) func() *Passwords { return func() *Passwords { return p } }

func TestSCRAMVector(t *testing.T) {
	scram := NewSCRAM(fixed(mustParse(t, "user:"+vectorEntry+"\n")))
	ex := scram.NewExchange()
	ex.random = counting(scramNonceSize)
	out, done, err := ex.Step([]byte(vectorClientFirst))
	if err != nil || done || string(out) != vectorServerFirst {
		t.Fatalf("step 1 = %q, %v, %v; want %q", out, done, err, vectorServerFirst)
	}
	if ex.Username() != "" {
		t.Errorf("Username before done = %q", ex.Username())
	}
	out, done, err = ex.Step([]byte(vectorClientFinal))
	if err != nil || !done || string(out) != vectorServerFinal {
		t.Fatalf("step 2 = %q, %v, %v; want %q", out, done, err, vectorServerFinal)
	}
	if ex.Username() != "user" {
		t.Errorf("Username = %q", ex.Username())
	}
	if _, _, err := ex.Step([]byte(vectorClientFinal)); !errors.Is(err, ErrSCRAMMalformed) {
		t.Errorf("step after done = %v", err)
	}
}

// rfcClient is a SCRAM-SHA-512 client written from RFC 5802 section 3's
// formulas, apart from scram.go, so that a shared misreading shows.
type rfcClient struct {
	gs2, bare string
}

func newRFCClient(gs2, escapedUser, nonce string) *rfcClient {
	return &rfcClient{gs2: gs2, bare: "n=" + escapedUser + ",r=" + nonce}
}

func (c *rfcClient) first() []byte { return []byte(c.gs2 + c.bare) }

// final returns client-final-message for serverFirst and password, and the
// server-final-message the server must answer.
func (c *rfcClient) final(t testing.TB, serverFirst, password string) (clientFinal, serverFinal []byte) {
	t.Helper()
	m := regexp.MustCompile(`^r=([^,]+),s=([^,]+),i=([0-9]+)$`).FindStringSubmatch(serverFirst)
	if m == nil {
		t.Fatalf("server-first-message %q", serverFirst)
	}
	salt, _ := base64.StdEncoding.DecodeString(m[2])
	iterations, _ := strconv.Atoi(m[3])
	hmacOf := func(key []byte, s string) []byte {
		h := hmac.New(sha512.New, key)
		h.Write([]byte(s))
		return h.Sum(nil)
	}
	saltedPassword, err := pbkdf2.Key(sha512.New, password, salt, iterations, 64)
	if err != nil {
		t.Fatal(err)
	}
	clientKey := hmacOf(saltedPassword, "Client Key")
	storedKey := sha512.Sum512(clientKey)
	withoutProof := "c=" + base64.StdEncoding.EncodeToString([]byte(c.gs2)) + ",r=" + m[1]
	authMessage := c.bare + "," + serverFirst + "," + withoutProof
	clientSignature := hmacOf(storedKey[:], authMessage)
	proof := make([]byte, len(clientKey))
	for i := range proof {
		proof[i] = clientKey[i] ^ clientSignature[i]
	}
	serverSignature := hmacOf(hmacOf(saltedPassword, "Server Key"), authMessage)
	return []byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)),
		[]byte("v=" + base64.StdEncoding.EncodeToString(serverSignature))
}

// exchange runs a whole exchange for escapedUser and password; it returns
// server-first-message and the second Step's results.
func exchange(t *testing.T, s *SCRAM, gs2, escapedUser, password string) (serverFirst string, final []byte, done bool, err error) {
	t.Helper()
	c := newRFCClient(gs2, escapedUser, "fyko+d2lbbFgONRv9qkxdawL")
	ex := s.NewExchange()
	out, done, err := ex.Step(c.first())
	if err != nil || done {
		t.Fatalf("step 1 = %v, %v", done, err)
	}
	clientFinal, want := c.final(t, string(out), password)
	final, done, err = ex.Step(clientFinal)
	if err == nil && (!bytes.Equal(final, want) || !done) {
		t.Errorf("server-final = %q, %v; want %q", final, done, want)
	}
	return string(out), final, done, err
}

func hashed(t testing.TB, password string, iterations int) string {
	t.Helper()
	h, err := Hash(PBKDF2SHA512, []byte(password), iterations)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestSCRAMRoundTrip(t *testing.T) {
	alice, weird := hashed(t, "secret", 1000), hashed(t, "p,=w", 7)
	s := NewSCRAM(fixed(mustParse(t, "alice:"+alice+"\na,b=c:"+weird+"\n")))
	for _, c := range []struct {
		user, escaped, password, entry string
	}{
		{"alice", "alice", "secret", alice},
		{"a,b=c", "a=2Cb=3Dc", "p,=w", weird},
	} {
		t.Run(c.user, func(t *testing.T) {
			ex := s.NewExchange()
			client := newRFCClient("n,,", c.escaped, "abc")
			out, _, err := ex.Step(client.first())
			if err != nil {
				t.Fatal(err)
			}
			// The salt and iteration count are the entry's.
			entry, _ := parseHash(c.entry)
			wantTail := ",s=" + base64.StdEncoding.EncodeToString(entry.salt) + ",i=" + strconv.Itoa(entry.iterations)
			if !strings.HasPrefix(string(out), "r=abc") || !strings.HasSuffix(string(out), wantTail) {
				t.Errorf("server-first = %q; want r=abc...%s", out, wantTail)
			}
			clientFinal, want := client.final(t, string(out), c.password)
			final, done, err := ex.Step(clientFinal)
			if err != nil || !done || !bytes.Equal(final, want) {
				t.Fatalf("step 2 = %q, %v, %v; want %q", final, done, err, want)
			}
			if ex.Username() != c.user {
				t.Errorf("Username = %q, want %q", ex.Username(), c.user)
			}
		})
	}
}

func TestSCRAMChannelBindingFlagY(t *testing.T) {
	s := NewSCRAM(fixed(mustParse(t, "alice:"+hashed(t, "secret", 10)+"\n")))
	if _, _, done, err := exchange(t, s, "y,,", "alice", "secret"); err != nil || !done {
		t.Errorf("y,, exchange = %v, %v", done, err)
	}
}

// serverFirstShape is what every server-first-message for the client nonce
// "fyko+d2lbbFgONRv9qkxdawL" looks like: a 32-character server nonce, a
// 12-byte salt, and the iteration count (group 2).
var serverFirstShape = regexp.MustCompile(`^r=fyko\+d2lbbFgONRv9qkxdawL[A-Za-z0-9+/]{32},s=([A-Za-z0-9+/]{16}),i=([0-9]+)$`)

func TestSCRAMRefusals(t *testing.T) {
	file := "alice:" + hashed(t, "secret", 1000) + "\nbob:" + hashed(t, "other", 1000) + "\nold:" + mosquittoSHA512 + "\n"
	s := NewSCRAM(fixed(mustParse(t, file)))
	for _, c := range []struct {
		name, user, password, message string
	}{
		{"wrong password", "alice", "wrong", `wrong password for user "alice"`},
		{"unknown user", "mallory", "secret", `unknown user "mallory"`},
		{"$6$ user", "old", "p3", `user "old" has a $6$ (sha512) hash, which SCRAM cannot use`},
	} {
		t.Run(c.name, func(t *testing.T) {
			serverFirst, final, done, err := exchange(t, s, "n,,", c.user, c.password)
			if !errors.Is(err, ErrSCRAMFailed) || done || final != nil {
				t.Fatalf("step 2 = %q, %v, %v; want ErrSCRAMFailed", final, done, err)
			}
			if !strings.Contains(err.Error(), c.message) {
				t.Errorf("error %q does not say %q", err, c.message)
			}
			m := serverFirstShape.FindStringSubmatch(serverFirst)
			if m == nil || m[2] != "1000" {
				t.Errorf("server-first %q does not look like a known user's (i=1000)", serverFirst)
			}
			again, _, _, _ := exchange(t, s, "n,,", c.user, c.password)
			if salt := serverFirstShape.FindStringSubmatch(again); salt == nil || salt[1] != m[1] {
				t.Errorf("second server-first %q has another salt than %q", again, serverFirst)
			}
		})
	}
	unknown1, _, _, _ := exchange(t, s, "n,,", "mallory", "x")
	unknown2, _, _, _ := exchange(t, s, "n,,", "trudy", "x")
	if serverFirstShape.FindStringSubmatch(unknown1)[1] == serverFirstShape.FindStringSubmatch(unknown2)[1] {
		t.Error("two unknown users got the same salt")
	}
}

func TestSCRAMUnknownUserShapeFollowsTheFile(t *testing.T) {
	long := "$7$1000$" + base64.StdEncoding.EncodeToString(make([]byte, 64)) + "$" + base64.StdEncoding.EncodeToString(make([]byte, 64))
	for _, c := range []struct {
		name      string
		passwords *Passwords
		salt      int
		count     string
	}{
		{"64-byte salts", mustParse(t, "a:"+long+"\nb:"+long+"\n"), 64, "1000"},
		{"$6$ file", mustParse(t, "a:"+mosquittoSHA512+"\n"), 12, strconv.Itoa(DefaultIterations)},
		{"nil", nil, 12, strconv.Itoa(DefaultIterations)},
	} {
		t.Run(c.name, func(t *testing.T) {
			ex := NewSCRAM(fixed(c.passwords)).NewExchange()
			out, _, err := ex.Step([]byte("n,,n=nobody,r=abc"))
			if err != nil {
				t.Fatal(err)
			}
			m := regexp.MustCompile(`,s=([^,]+),i=([0-9]+)$`).FindStringSubmatch(string(out))
			salt, _ := base64.StdEncoding.DecodeString(m[1])
			if len(salt) != c.salt || m[2] != c.count {
				t.Errorf("server-first %q: salt %d bytes, i=%s; want %d bytes, i=%s", out, len(salt), m[2], c.salt, c.count)
			}
		})
	}
}

func TestSCRAMNonce(t *testing.T) {
	s := NewSCRAM(fixed(mustParse(t, "alice:"+hashed(t, "secret", 10)+"\n")))
	first := newRFCClient("n,,", "alice", "abc")

	// A client-final-message from one exchange, replayed in another.
	ex1 := s.NewExchange()
	out1, _, _ := ex1.Step(first.first())
	replay, _ := first.final(t, string(out1), "secret")
	ex2 := s.NewExchange()
	out2, _, _ := ex2.Step(first.first())
	if string(out1) == string(out2) {
		t.Fatal("two exchanges got the same server nonce")
	}
	if _, _, err := ex2.Step(replay); !errors.Is(err, ErrSCRAMMalformed) {
		t.Errorf("replayed client-final = %v, want ErrSCRAMMalformed", err)
	}

	// A nonce changed in the client's server-first, signed consistently.
	ex3 := s.NewExchange()
	out3, _, _ := ex3.Step(first.first())
	altered := strings.Replace(string(out3), "r=abc", "r=abd", 1)
	final, _ := first.final(t, altered, "secret")
	if _, _, err := ex3.Step(final); !errors.Is(err, ErrSCRAMMalformed) || !strings.Contains(err.Error(), "nonce") {
		t.Errorf("altered nonce = %v, want ErrSCRAMMalformed about the nonce", err)
	}
}

func TestSCRAMMalformedClientFirst(t *testing.T) {
	s := NewSCRAM(fixed(mustParse(t, "alice:"+hashed(t, "secret", 10)+"\n")))
	for _, c := range []struct{ message, says string }{
		{"", "no gs2 header"},
		{"p=tls-unique,,n=alice,r=abc", "channel binding (p=tls-unique) is not supported"},
		{"x,,n=alice,r=abc", `flag "x"`},
		{"n,a=admin,n=alice,r=abc", "authorization identity (a=) is not supported"},
		{"n,z,n=alice,r=abc", `field "z"`},
		{"n,", "gs2 header does not end"},
		{"n,,m=ext,n=alice,r=abc", "mandatory extension (m=)"},
		{"n,,r=abc,n=alice", "does not start with n="},
		{"n,,n=,r=abc", "empty user name"},
		{"n,,n=al=ice,r=abc", "not =2C or =3D"},
		{"n,,n=al=2", "not =2C or =3D"},
		{"n,,n=al\u00e9,r=abc", "printable ASCII user names only"},
		{"n,,n=al\x01,r=abc", "byte 0x01"},
		{"n,,n=alice", "no nonce (r=)"},
		{"n,,n=alice,r=", "client nonce is 0 bytes"},
		{"n,,n=alice,r=" + strings.Repeat("a", maxSCRAMNonce+1), "client nonce is 257 bytes"},
		{"n,,n=alice,r=a b", "byte 0x20"},
		{"n,,n=alice,r=abc,bogus", `field "bogus"`},
		{"n,,n=" + strings.Repeat("a", maxSCRAMMessage), "at most 4096"},
	} {
		t.Run(c.message[:min(len(c.message), 30)], func(t *testing.T) {
			out, done, err := s.NewExchange().Step([]byte(c.message))
			if !errors.Is(err, ErrSCRAMMalformed) || out != nil || done {
				t.Fatalf("Step = %q, %v, %v; want ErrSCRAMMalformed", out, done, err)
			}
			if !strings.Contains(err.Error(), c.says) {
				t.Errorf("error %q does not say %q", err, c.says)
			}
		})
	}
	// Extensions after the nonce are allowed and ignored.
	if _, _, err := s.NewExchange().Step([]byte("n,,n=alice,r=abc,x=1")); err != nil {
		t.Errorf("extension: %v", err)
	}
}

func TestSCRAMMalformedClientFinal(t *testing.T) {
	s := NewSCRAM(fixed(mustParse(t, "alice:"+hashed(t, "secret", 10)+"\n")))
	proof := base64.StdEncoding.EncodeToString(make([]byte, 64))
	for _, c := range []struct{ message, says string }{
		{"c=biws,r=NONCE", "no proof (p=)"},
		{"c=biws,r=NONCE,p=AAAA", "not 64 bytes of base64"},
		{"c=biws,r=NONCE,p=" + proof + ",x=1", "not 64 bytes of base64"},
		{"r=NONCE,p=" + proof, "does not start with c="},
		{"c=eSws,r=NONCE,p=" + proof, "not base64 of the gs2 header"},
		{"c=biws,p=" + proof, "nonce"},
		{"c=biws,r=NONCEx,p=" + proof, "nonce"},
		{"c=biws,r=NONCE,bad,p=" + proof, `field "bad"`},
		{"c=biws,r=NONCE,p=" + strings.Repeat("A", maxSCRAMMessage), "at most 4096"},
	} {
		t.Run(c.says, func(t *testing.T) {
			ex := s.NewExchange()
			out, _, err := ex.Step([]byte("n,,n=alice,r=abc"))
			if err != nil {
				t.Fatal(err)
			}
			nonce := strings.TrimPrefix(strings.Split(string(out), ",")[0], "r=")
			final := strings.Replace(c.message, "NONCE", nonce, 1)
			out, done, err := ex.Step([]byte(final))
			if !errors.Is(err, ErrSCRAMMalformed) || out != nil || done {
				t.Fatalf("Step(%q) = %q, %v, %v; want ErrSCRAMMalformed", final, out, done, err)
			}
			if !strings.Contains(err.Error(), c.says) {
				t.Errorf("error %q does not say %q", err, c.says)
			}
			if _, _, err := ex.Step([]byte(final)); !errors.Is(err, ErrSCRAMMalformed) || !strings.Contains(err.Error(), "over") {
				t.Errorf("Step after a failure = %v", err)
			}
		})
	}
}

// An exchange keeps the file it started with; a later one sees a reload;
// an unknown user's salt survives the reload.
func TestSCRAMPasswordFileSnapshot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passwd")
	write := func(content string) {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("alice:" + hashed(t, "secret", 10) + "\n")
	file, err := OpenPasswordFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := NewSCRAM(file.Passwords)
	unknownBefore, _, _, _ := exchange(t, s, "n,,", "mallory", "x")

	c := newRFCClient("n,,", "alice", "abc")
	ex := s.NewExchange()
	out, _, _ := ex.Step(c.first())
	write("bob:" + hashed(t, "other", 10) + "\n")
	if err := file.Reload(); err != nil {
		t.Fatal(err)
	}
	final, _ := c.final(t, string(out), "secret")
	if _, done, err := ex.Step(final); err != nil || !done {
		t.Errorf("exchange across a reload = %v, %v; want success on the old file", done, err)
	}
	if _, _, _, err := exchange(t, s, "n,,", "alice", "secret"); !errors.Is(err, ErrSCRAMFailed) {
		t.Errorf("alice after the reload = %v, want ErrSCRAMFailed", err)
	}
	unknownAfter, _, _, _ := exchange(t, s, "n,,", "mallory", "x")
	if serverFirstShape.FindStringSubmatch(unknownBefore)[1] != serverFirstShape.FindStringSubmatch(unknownAfter)[1] {
		t.Errorf("unknown user's salt changed with the reload: %q, %q", unknownBefore, unknownAfter)
	}
}

// BenchmarkSCRAMExchange is the server's cost of one exchange (the
// client's PBKDF2 is done once, outside the loop).
func BenchmarkSCRAMExchange(b *testing.B) {
	s := NewSCRAM(fixed(mustParse(b, "user:"+vectorEntry+"\n")))
	salted, _ := base64.StdEncoding.DecodeString(vectorEntry[strings.LastIndex(vectorEntry, "$")+1:])
	clientKey := scramHMAC(salted, "Client Key")
	storedKey := sha512.Sum512(clientKey)
	first := []byte("n,,n=user,r=rOprNGfwEbeRWgbNEkqO")
	b.ReportAllocs()
	for b.Loop() {
		ex := s.NewExchange()
		out, _, err := ex.Step(first)
		if err != nil {
			b.Fatal(err)
		}
		withoutProof := "c=biws," + string(out[:strings.IndexByte(string(out), ',')])
		proof := scramHMAC(storedKey[:], "n=user,r=rOprNGfwEbeRWgbNEkqO,"+string(out)+","+withoutProof)
		for i := range proof {
			proof[i] ^= clientKey[i]
		}
		if _, done, err := ex.Step([]byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof))); err != nil || !done {
			b.Fatal(done, err)
		}
	}
}
