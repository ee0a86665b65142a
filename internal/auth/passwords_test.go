package auth

import (
	"crypto/pbkdf2"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Entries written by Debian's mosquitto_passwd 2.0.11, with their passwords.
const (
	// mosquitto_passwd -b f u p
	mosquittoPBKDF2 = "$7$101$+jSmeaB7o1ZwAzB8$vaaDvxO47mtDoFkisj+oqMl9yHoSy0eC+1o9WDnFfgCogr3GIB+Nmbeomd6RpjCzeVgmUv040C0Xi2jTp4/8UQ=="
	// mosquitto_passwd -H sha512 -b f u3 p3
	mosquittoSHA512 = "$6$JLU5jji6k+5V6pSR$6yg3u6pX5IhmacUa3IsbyHgdt/HgB4XUj8XuA4nhynDLWPz0KpvLKn2wj0T6g0u3KhQRMhcFLKrvDCa9CWhqtA=="
	// mosquitto_passwd -I 5 -b f i5 p
	mosquittoFiveIterations = "$7$5$lNjW9jJrI5D7mUon$KMC7JPmlU+NeCA8l/dXy69zWJGiOx5xICbs/xw5AeG4EeRPGd3b5LWoWBZ0fk8LBOckprYOpst2rVN2uJ1MwtQ=="
	// mosquitto_passwd -b f 'us er' 'p w'
	mosquittoSpaces = "$7$101$yQGP8Kd1EKL926Ww$ncM5pYsP8fdkZwtCjG9PpBh5lMB1mpMeKZAMJy3I8rr7ANzmUfgxqkNQMo7Uyoy7wtch3Fs3BFvmA78+7BQ/OQ=="
	// mosquitto_passwd -b f empty ''
	mosquittoEmpty = "$7$101$P8pJGJ5I8QyTARNb$Xt6Dh8LvMD0W1MTzj/U8H/Wf3i8k7C50LslBwOHpuRJG2kPltUIqbxhx2HPSWtZbiqYpMlI4uxXiRAKkreGTmg=="
	// mosquitto_passwd -H sha512 -b f empty6 ''
	mosquittoEmptySHA512 = "$6$MKa0Ev6ugOjErsBm$76yc5T6dlsRjdsfjH7v8h3NuI7eKfKRyDVH/MIXyELJoD2A+CGplTu/ESjivoXhtI2WGblPhiTk73fZu1WNi6A=="
)

// longSaltEntry returns a $7$ entry with a 64-byte salt, as Mosquitto 2.1
// writes them.
func longSaltEntry(t *testing.T, password string) string {
	t.Helper()
	salt := make([]byte, longSaltSize)
	for i := range salt {
		salt[i] = byte(i * 7)
	}
	key, err := pbkdf2.Key(sha512.New, password, salt, 1000, digestSize)
	if err != nil {
		t.Fatal(err)
	}
	return "$7$1000$" + base64.StdEncoding.EncodeToString(salt) + "$" + base64.StdEncoding.EncodeToString(key)
}

func TestPasswordsMosquittoEntries(t *testing.T) {
	file := strings.Join([]string{
		"# made by mosquitto_passwd",
		"",
		"u:" + mosquittoPBKDF2,
		"  u3 : " + mosquittoSHA512 + "  \r",
		"i5:" + mosquittoFiveIterations,
		"us er:" + mosquittoSpaces,
		"long:" + longSaltEntry(t, "2.1"),
		"   # an indented comment",
		"\t",
	}, "\n")
	p, err := ParsePasswords("passwd", strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if p.Len() != 5 {
		t.Errorf("Len() = %d, want 5", p.Len())
	}
	for _, c := range []struct {
		user, password string
		want           bool
	}{
		{"u", "p", true},
		{"u", "P", false},
		{"u", "", false},
		{"u", "p ", false},
		{"u3", "p3", true},
		{"u3", "p", false},
		{"i5", "p", true},
		{"i5", "q", false},
		{"us er", "p w", true},
		{"us er", "p", false},
		{"long", "2.1", true},
		{"long", "2.0", false},
		{"nobody", "p", false},
		{"U", "p", false},
		{"", "", false},
	} {
		if got := p.Check(c.user, []byte(c.password)); got != c.want {
			t.Errorf("Check(%q, %q) = %v, want %v", c.user, c.password, got, c.want)
		}
	}
}

func TestPasswordsErrors(t *testing.T) {
	good := "ok:" + mosquittoPBKDF2 + "\n# comment\n"
	salt16 := base64.StdEncoding.EncodeToString(make([]byte, 16))
	digest := base64.StdEncoding.EncodeToString(make([]byte, 64))
	salt12 := base64.StdEncoding.EncodeToString(make([]byte, 12))
	for _, c := range []struct {
		name, line, want string
	}{
		{"plain text", "bob:secret", `passwd:3: user "bob": hash is not $6$ or $7$; hash it with midge passwd -U`},
		{"unknown kind", "bob:$5$abc$def", `passwd:3: user "bob": hash is not $6$ or $7$`},
		{"argon2", "bob:$argon2id$v=19$m=47104,t=1,p=1$c2FsdA$aGFzaA", `passwd:3: user "bob": argon2 hashes`},
		{"no colon", "bob", `passwd:3: no ':' between user name and hash`},
		{"empty hash", "bob:", `passwd:3: user "bob" has no password hash`},
		{"blank hash", "bob:   ", `passwd:3: user "bob" has no password hash`},
		{"empty user", ":" + mosquittoPBKDF2, `passwd:3: empty user name`},
		{"duplicate", "ok:" + mosquittoSHA512, `passwd:3: user "ok" is already on line 1`},
		{"salt not base64", "bob:$6$!!!!$" + digest, `salt is not standard base64`},
		{"hash not base64", "bob:$6$" + salt12 + "$!!!!", `hash is not standard base64`},
		{"salt 16 bytes", "bob:$6$" + salt16 + "$" + digest, `salt is 16 bytes; want 12 or 64`},
		{"hash 32 bytes", "bob:$6$" + salt12 + "$" + base64.StdEncoding.EncodeToString(make([]byte, 32)), `hash is 32 bytes; want 64`},
		{"no hash part", "bob:$6$" + salt12, `$6$ hash is not $6$SALT$HASH`},
		{"extra part", "bob:$6$" + salt12 + "$" + digest + "$x", `$6$ hash is not $6$SALT$HASH`},
		{"no iterations", "bob:$7$", `$7$ hash has no iteration count`},
		{"zero iterations", "bob:$7$0$" + salt12 + "$" + digest, `iteration count "0"`},
		{"negative iterations", "bob:$7$-5$" + salt12 + "$" + digest, `iteration count "-5"`},
		{"plus iterations", "bob:$7$+5$" + salt12 + "$" + digest, `iteration count "+5"`},
		{"huge iterations", "bob:$7$99999999999$" + salt12 + "$" + digest, `iteration count "99999999999"`},
		{"unpadded base64", "bob:$6$" + strings.TrimRight(base64.StdEncoding.EncodeToString(make([]byte, 13)), "=") + "$" + digest, `salt is not standard base64`},
		{"long line", "bob:" + strings.Repeat("x", maxLineLength), `passwd:3: line longer than`},
		{"long user", strings.Repeat("u", maxFieldLength+1) + ":" + mosquittoPBKDF2, `passwd:3: user name longer than 65535 bytes`},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := ParsePasswords("passwd", strings.NewReader(good+c.line+"\n"))
			if err == nil {
				t.Fatalf("no error; %d users", p.Len())
			}
			if p != nil {
				t.Error("a *Passwords came back with the error")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
			var fe *FileError
			if !errors.As(err, &fe) || fe.File != "passwd" || fe.Line != 3 {
				t.Errorf("error %#v is not a *FileError for passwd:3", err)
			}
		})
	}
}

func TestLoadPasswordsMissingFile(t *testing.T) {
	_, err := LoadPasswords(filepath.Join(t.TempDir(), "none"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want one wrapping os.ErrNotExist", err)
	}
}

// TestPasswordsRefuseEmptyPassword: an entry that is the hash of the empty
// string does not admit a zero-length password, as Mosquitto refuses it
// (its client password is NULL then); the hash itself is what Mosquitto
// wrote, and CompareHash still says it matches.
func TestPasswordsRefuseEmptyPassword(t *testing.T) {
	file := "empty:" + mosquittoEmpty + "\nempty6:" + mosquittoEmptySHA512 + "\nmine:"
	mine, err := Hash(PBKDF2SHA512, nil, DefaultIterations)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePasswords("passwd", strings.NewReader(file+mine))
	if err != nil {
		t.Fatal(err)
	}
	for _, user := range []string{"empty", "empty6", "mine"} {
		for _, password := range [][]byte{nil, {}} {
			if p.Check(user, password) {
				t.Errorf("Check(%q, %q) = true, want false", user, password)
			}
		}
		if p.Check(user, []byte(" ")) {
			t.Errorf("Check(%q, \" \") = true, want false", user)
		}
	}
	if ok, err := CompareHash(mosquittoEmpty, nil); !ok || err != nil {
		t.Errorf("CompareHash(mosquitto's hash of \"\", \"\") = %v, %v; want true: the entry is the empty string's", ok, err)
	}
}

func TestHashRoundTrip(t *testing.T) {
	for _, c := range []struct {
		kind       HashKind
		iterations int
		prefix     string
	}{
		{PBKDF2SHA512, DefaultIterations, "$7$101$"},
		{PBKDF2SHA512, 7, "$7$7$"},
		{SHA512, 0, "$6$"},
	} {
		t.Run(c.kind.String(), func(t *testing.T) {
			encoded, err := Hash(c.kind, []byte("pässword"), c.iterations)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(encoded, c.prefix) {
				t.Errorf("%q does not start with %q", encoded, c.prefix)
			}
			h, err := parseHash(encoded)
			if err != nil {
				t.Fatal(err)
			}
			if len(h.salt) != saltSize { // Mosquitto 2.0 reads only 12-byte salts
				t.Errorf("salt is %d bytes, want %d", len(h.salt), saltSize)
			}
			if ok, err := CompareHash(encoded, []byte("pässword")); !ok || err != nil {
				t.Errorf("CompareHash(right) = %v, %v", ok, err)
			}
			if ok, err := CompareHash(encoded, []byte("password")); ok || err != nil {
				t.Errorf("CompareHash(wrong) = %v, %v", ok, err)
			}
			again, _ := Hash(c.kind, []byte("pässword"), c.iterations)
			if again == encoded {
				t.Error("two hashes of one password are equal: the salt is not random")
			}
		})
	}
	if _, err := Hash(PBKDF2SHA512, []byte("x"), 0); err == nil {
		t.Error("Hash with 0 iterations succeeded")
	}
	if _, err := Hash(HashKind('5'), []byte("x"), 1); err == nil {
		t.Error("Hash of an unknown kind succeeded")
	}
	if err := ValidHash("plain"); err == nil || !strings.HasPrefix(err.Error(), "auth: ") {
		t.Errorf("ValidHash(plain) = %v", err)
	}
	if err := ValidHash(mosquittoSHA512); err != nil {
		t.Errorf("ValidHash(mosquitto $6$) = %v", err)
	}
}

func TestDummyHashFollowsTheFile(t *testing.T) {
	entry := func(iterations string) string {
		return "$7$" + iterations + "$" + base64.StdEncoding.EncodeToString(make([]byte, 12)) + "$" + base64.StdEncoding.EncodeToString(make([]byte, 64))
	}
	for _, c := range []struct {
		name       string
		file       string
		kind       HashKind
		iterations int
	}{
		{"empty", "", PBKDF2SHA512, DefaultIterations},
		{"mostly 1000", "a:" + entry("1000") + "\nb:" + entry("1000") + "\nc:" + entry("101") + "\n", PBKDF2SHA512, 1000},
		{"tie takes more", "a:" + entry("50") + "\nb:" + entry("2000") + "\n", PBKDF2SHA512, 2000},
		{"sha512 only", "a:" + mosquittoSHA512 + "\n", SHA512, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := ParsePasswords("passwd", strings.NewReader(c.file))
			if err != nil {
				t.Fatal(err)
			}
			if p.dummy.kind != c.kind || p.dummy.iterations != c.iterations {
				t.Errorf("dummy is %v/%d, want %v/%d", p.dummy.kind, p.dummy.iterations, c.kind, c.iterations)
			}
			if len(p.dummy.salt) != saltSize || len(p.dummy.digest) != digestSize {
				t.Errorf("dummy salt %d bytes, digest %d bytes", len(p.dummy.salt), len(p.dummy.digest))
			}
		})
	}
}

// writeFile writes content to path, failing the test on error.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestPasswordFileReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passwd")
	writeFile(t, path, "u:"+mosquittoPBKDF2+"\n")
	f, err := OpenPasswordFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Check("u", []byte("p")) || f.Check("u3", []byte("p3")) {
		t.Fatal("first version not in use")
	}

	writeFile(t, path, "u3:"+mosquittoSHA512+"\n")
	if err := f.Reload(); err != nil {
		t.Fatal(err)
	}
	if f.Check("u", []byte("p")) || !f.Check("u3", []byte("p3")) {
		t.Error("reloaded version not in use")
	}

	writeFile(t, path, "u3:"+mosquittoSHA512+"\nu:plaintext\n")
	err = f.Reload()
	var fe *FileError
	if !errors.As(err, &fe) || fe.Line != 2 {
		t.Errorf("Reload of a bad file: %v, want a *FileError for line 2", err)
	}
	if !f.Check("u3", []byte("p3")) || f.Check("u", []byte("plaintext")) {
		t.Error("a failed reload changed the version in use")
	}
	os.Remove(path)
	if err := f.Reload(); err == nil {
		t.Error("Reload of a missing file succeeded")
	}
	if !f.Check("u3", []byte("p3")) || f.Passwords().Len() != 1 || f.Path() != path {
		t.Error("a failed reload changed the version in use")
	}
}

func TestPasswordFileConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passwd")
	writeFile(t, path, "i5:"+mosquittoFiveIterations+"\n")
	f, err := OpenPasswordFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	failures := make(chan string, 8)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if !f.Check("i5", []byte("p")) {
					failures <- "right password refused during reloads"
					return
				}
			}
		}()
	}
	for range 20 {
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

func FuzzParsePasswords(f *testing.F) {
	f.Add("u:" + mosquittoPBKDF2 + "\n")
	f.Add("u3:" + mosquittoSHA512 + "\n# c\n\n")
	f.Add("bob:$7$1$AAAA$AAAA")
	f.Fuzz(func(t *testing.T, file string) {
		p, err := ParsePasswords("fuzz", strings.NewReader(file))
		if (p == nil) == (err == nil) {
			t.Fatalf("ParsePasswords = %v, %v: want exactly one", p, err)
		}
	})
}
