package client

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/internal/auth"
)

// A SCRAM-SHA-512 vector computed with Python's hashlib and hmac (whose
// code for the same formulas reproduces RFC 7677's SCRAM-SHA-256 example):
// user "user", password "pencil", a client nonce of the bytes 0 to 23, RFC
// 7677's server nonce, a 12-byte salt and 4096 iterations.
const (
	vectorClientFirst = "n,,n=user,r=AAECAwQFBgcICQoLDA0ODxAREhMUFRYX"
	vectorServerFirst = "r=AAECAwQFBgcICQoLDA0ODxAREhMUFRYX%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsU,i=4096"
	vectorClientFinal = "c=biws,r=AAECAwQFBgcICQoLDA0ODxAREhMUFRYX%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=tLlIvZ8vXfnPi737RKlOKdy4rjinz0dmXRuuHAYxcm96vTCq//E/pi/o7uj79Qu2Gh5BC/M5gEQYivRVV9ipIw=="
	vectorServerFinal = "v=rBw7gDqxfBh3FP8kfHBR9q6anLES2glindMcRhwXsscRvhpjU3pOrSpDrhmQcllOVZtBfk/COOhFcoC8p0YIOA=="
)

// counting returns the bytes 0, 1, 2, ... n-1: a predictable nonce source.
func counting(n int) *bytes.Reader {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return bytes.NewReader(b)
}

func TestSCRAMVector(t *testing.T) {
	s := SCRAMSHA512("user", []byte("pencil"))
	s.random = counting(scramNonceSize)
	if s.Name() != "SCRAM-SHA-512" {
		t.Errorf("Name = %q", s.Name())
	}
	first, err := s.Start()
	if err != nil || string(first) != vectorClientFirst {
		t.Fatalf("Start = %q, %v; want %q", first, err, vectorClientFirst)
	}
	final, err := s.Next([]byte(vectorServerFirst))
	if err != nil || string(final) != vectorClientFinal {
		t.Fatalf("Next = %q, %v; want %q", final, err, vectorClientFinal)
	}
	if err := s.Finish([]byte(vectorServerFinal)); err != nil {
		t.Fatalf("Finish = %v", err)
	}
}

// serverFor returns a SCRAM server over a password file holding username
// with password, hashed as midge passwd does.
func serverFor(t testing.TB, username, password string, iterations int) *auth.SCRAM {
	t.Helper()
	entry, err := auth.Hash(auth.PBKDF2SHA512, []byte(password), iterations)
	if err != nil {
		t.Fatal(err)
	}
	p, err := auth.ParsePasswords("passwd", strings.NewReader(username+":"+entry+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	return auth.NewSCRAM(func() *auth.Passwords { return p })
}

// run runs one exchange between s and a new exchange of server, returning
// the first error and which side's step gave it.
func run(s *SCRAM, server *auth.SCRAM) (string, error) {
	ex := server.NewExchange()
	first, err := s.Start()
	if err != nil {
		return "client Start", err
	}
	serverFirst, _, err := ex.Step(first)
	if err != nil {
		return "server step 1", err
	}
	final, err := s.Next(serverFirst)
	if err != nil {
		return "client Next", err
	}
	serverFinal, done, err := ex.Step(final)
	if err != nil {
		return "server step 2", err
	}
	if !done {
		return "server step 2", errors.New("not done")
	}
	if err := s.Finish(serverFinal); err != nil {
		return "client Finish", err
	}
	if ex.Username() != s.username {
		return "server Username", errors.New(ex.Username())
	}
	return "", nil
}

func TestSCRAMAgainstServer(t *testing.T) {
	for _, user := range []string{"alice", "a,b=c d"} {
		t.Run(user, func(t *testing.T) {
			server := serverFor(t, user, "s3cret,=", auth.DefaultIterations)
			password := []byte("s3cret,=")
			s := SCRAMSHA512(user, password)
			password[0] = 'X' // the method keeps its own copy
			if step, err := run(s, server); err != nil {
				t.Fatalf("%s: %v", step, err)
			}
			// Re-authentication: a new nonce, the cached SaltedPassword.
			nonce, salted := s.clientNonce, &s.saltedPassword[0]
			if step, err := run(s, server); err != nil {
				t.Fatalf("re-authentication: %s: %v", step, err)
			}
			if s.clientNonce == nonce || &s.saltedPassword[0] != salted {
				t.Error("re-authentication reused the nonce or recomputed SaltedPassword")
			}
		})
	}
}

func TestSCRAMWrongPassword(t *testing.T) {
	server := serverFor(t, "alice", "secret", 10)
	step, err := run(SCRAMSHA512("alice", []byte("wrong")), server)
	if step != "server step 2" || !errors.Is(err, auth.ErrSCRAMFailed) {
		t.Errorf("%s: %v; want server step 2 failing with ErrSCRAMFailed", step, err)
	}
}

// exchangeTo returns s after Next on a valid server-first-message, and
// the server-final-message the server would send.
func exchangeTo(t *testing.T) (*SCRAM, []byte) {
	t.Helper()
	s := SCRAMSHA512("alice", []byte("secret"))
	ex := serverFor(t, "alice", "secret", 10).NewExchange()
	first, _ := s.Start()
	serverFirst, _, err := ex.Step(first)
	if err != nil {
		t.Fatal(err)
	}
	final, err := s.Next(serverFirst)
	if err != nil {
		t.Fatal(err)
	}
	serverFinal, _, err := ex.Step(final)
	if err != nil {
		t.Fatal(err)
	}
	return s, serverFinal
}

func TestSCRAMFinishRefuses(t *testing.T) {
	_, good := exchangeTo(t)
	for _, c := range []struct {
		name, message string
		want          error
		says          string
	}{
		{"other server's signature", string(good), ErrSCRAMServerSignature, ""},
		{"no signature", "", ErrSCRAMServerSignature, "no server signature"},
		{"not base64", "v=!!", ErrProtocol, "not base64"},
		{"server error", "e=invalid-proof", nil, `"invalid-proof"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, _ := exchangeTo(t) // another exchange: good is not its signature
			err := s.Finish([]byte(c.message))
			if err == nil || c.want != nil && !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) {
				t.Errorf("Finish(%q) = %v; want %v saying %q", c.message, err, c.want, c.says)
			}
		})
	}
}

func TestSCRAMMalformedServerFirst(t *testing.T) {
	for _, c := range []struct{ message, says string }{
		{"", "not r=,s=,i="},
		{"r=CNONCEx,s=W22ZaJ0SNY7soEsU", "not r=,s=,i="},
		{"s=W22ZaJ0SNY7soEsU,r=CNONCEx,i=10", "not r=,s=,i="},
		{"m=x,r=CNONCEx,s=W22ZaJ0SNY7soEsU,i=10", "mandatory extension"},
		{"r=CNONCE,s=W22ZaJ0SNY7soEsU,i=10", "does not extend"},
		{"r=other,s=W22ZaJ0SNY7soEsU,i=10", "does not extend"},
		{"r=CNONCE x,s=W22ZaJ0SNY7soEsU,i=10", "does not extend"},
		{"r=CNONCEx,s=!!,i=10", "salt"},
		{"r=CNONCEx,s=,i=10", "salt"},
		{"r=CNONCEx,s=W22ZaJ0SNY7soEsU,i=0", "iteration count"},
		{"r=CNONCEx,s=W22ZaJ0SNY7soEsU,i=+5", "iteration count"},
		{"r=CNONCEx,s=W22ZaJ0SNY7soEsU,i=4194305", "iteration count"},
		{"r=CNONCEx,s=W22ZaJ0SNY7soEsU,i=ten", "iteration count"},
		{"r=CNONCEx,s=W22ZaJ0SNY7soEsU,i=10" + strings.Repeat(",x=y", 1024), "bytes"},
	} {
		t.Run(c.says, func(t *testing.T) {
			s := SCRAMSHA512("alice", []byte("secret"))
			if _, err := s.Start(); err != nil {
				t.Fatal(err)
			}
			message := strings.Replace(c.message, "CNONCE", s.clientNonce, 1)
			final, err := s.Next([]byte(message))
			if !errors.Is(err, ErrProtocol) || final != nil || !strings.Contains(err.Error(), c.says) {
				t.Errorf("Next(%q) = %q, %v; want ErrProtocol saying %q", message, final, err, c.says)
			}
			if err := s.Finish([]byte("v=AAAA")); !errors.Is(err, ErrProtocol) {
				t.Errorf("Finish after a failed Next = %v, want ErrProtocol", err)
			}
		})
	}
}

func TestSCRAMOutOfTurn(t *testing.T) {
	s := SCRAMSHA512("alice", []byte("secret"))
	if _, err := s.Next([]byte("r=x,s=W22ZaJ0SNY7soEsU,i=1")); !errors.Is(err, ErrProtocol) {
		t.Errorf("Next before Start = %v", err)
	}
	s.Start()
	if err := s.Finish([]byte("v=AAAA")); !errors.Is(err, ErrProtocol) {
		t.Errorf("Finish before Next = %v", err)
	}
}

func TestSCRAMUserName(t *testing.T) {
	first, err := SCRAMSHA512("a,b=c", nil).Start()
	if err != nil || !strings.HasPrefix(string(first), "n,,n=a=2Cb=3Dc,r=") {
		t.Errorf("Start = %q, %v", first, err)
	}
	for _, name := range []string{"", "al\u00e9", "tab\there"} {
		if _, err := SCRAMSHA512(name, nil).Start(); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("Start for %q = %v, want ErrInvalidOptions", name, err)
		}
	}
}

// BenchmarkSCRAMExchange is one whole exchange, client and server: "first"
// with a new method each time (PBKDF2 at the default 101 iterations),
// "reauth" with the SaltedPassword cached.
func BenchmarkSCRAMExchange(b *testing.B) {
	server := serverFor(b, "alice", "secret", auth.DefaultIterations)
	b.Run("first", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if step, err := run(SCRAMSHA512("alice", []byte("secret")), server); err != nil {
				b.Fatal(step, err)
			}
		}
	})
	b.Run("reauth", func(b *testing.B) {
		s := SCRAMSHA512("alice", []byte("secret"))
		b.ReportAllocs()
		for b.Loop() {
			if step, err := run(s, server); err != nil {
				b.Fatal(step, err)
			}
		}
	})
}
