package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/internal/auth"
	"github.com/midge-mqtt/midge/internal/mosquittotest"
	"github.com/midge-mqtt/midge/packets"
)

// passwdTimeout bounds each network step of the tests against mosquitto.
const passwdTimeout = 10 * time.Second

// passwdRun is what one midge passwd run left.
type passwdRun struct {
	status      int
	out, errOut string
}

// runPasswd runs midge passwd with stdin and args.
func runPasswd(t *testing.T, stdin string, args ...string) passwdRun {
	t.Helper()
	var out, errOut bytes.Buffer
	status := Passwd(context.Background(), args, Stdio{In: strings.NewReader(stdin), Out: &out, Err: &errOut})
	return passwdRun{status, out.String(), errOut.String()}
}

// mustPasswd runs midge passwd and fails the test unless it succeeds.
func mustPasswd(t *testing.T, stdin string, args ...string) passwdRun {
	t.Helper()
	r := runPasswd(t, stdin, args...)
	if r.status != 0 {
		t.Fatalf("midge passwd %q: status %d, stderr %q", args, r.status, r.errOut)
	}
	return r
}

// readText returns the content of path.
func readText(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// checkLogins loads the password file at path and checks each user name
// against its password (which must be accepted) and a wrong one.
func checkLogins(t *testing.T, path string, logins map[string]string) {
	t.Helper()
	p, err := auth.LoadPasswords(path)
	if err != nil {
		t.Fatalf("auth.LoadPasswords: %v\n%s", err, readText(t, path))
	}
	for user, password := range logins {
		if !p.Check(user, []byte(password)) {
			t.Errorf("user %q: right password refused", user)
		}
		if p.Check(user, []byte(password+"x")) {
			t.Errorf("user %q: wrong password accepted", user)
		}
	}
	if p.Len() != len(logins) {
		t.Errorf("file has %d users, want %d:\n%s", p.Len(), len(logins), readText(t, path))
	}
}

func TestPasswdArguments(t *testing.T) {
	for _, c := range []struct {
		args   []string
		status int
		out    string // in stdout, when not empty
		err    string // in stderr, when not empty
	}{
		{nil, 1, "Usage: midge passwd", ""},
		{[]string{"-h"}, 0, "Usage: midge passwd", ""},
		{[]string{"-c", "-D", "f", "u"}, 1, "", "Error: -c and -D cannot be used together.\n"},
		{[]string{"-c", "-U", "f"}, 1, "", "Error: -c and -U cannot be used together.\n"},
		{[]string{"-D", "-U", "f"}, 1, "", "Error: -D and -U cannot be used together.\n"},
		{[]string{"-b", "-D", "f", "u"}, 1, "", "Error: -b and -D cannot be used together.\n"},
		{[]string{"-H"}, 1, "", "Error: -H argument given but not enough other arguments.\n"},
		{[]string{"-H", "md5", "f", "u"}, 1, "", "Error: Unknown hash type 'md5'\n"},
		{[]string{"-I", "0", "-b", "f", "u", "p"}, 1, "", "Error: Number of iterations must be > 0.\n"},
		{[]string{"-I", "x", "-b", "f", "u", "p"}, 1, "", "Error: Number of iterations must be > 0.\n"},
		{[]string{"-I"}, 1, "", "Error: -I argument given but not enough other arguments.\n"},
		{[]string{"-c", "-b", "f", "u"}, 1, "", "Error: -c argument given but the password is missing.\n"},
		{[]string{"-c", "-b"}, 1, "", "Error: -c argument given but the password file and the user name and the password are missing.\n"},
		{[]string{"-c", "f"}, 1, "", "Error: -c argument given but the user name is missing.\n"},
		{[]string{"-D", "f"}, 1, "", "Error: -D argument given but the user name is missing.\n"},
		{[]string{"-U"}, 1, "", "Error: -U argument given but the password file is missing.\n"},
		{[]string{"-U", "f", "extra"}, 1, "", "Error: Too many arguments: 'extra' after the password file.\n"},
		{[]string{"-b", "f", "u"}, 1, "Usage: midge passwd", "Error: the password is missing.\n\n"},
		{[]string{"f"}, 1, "Usage: midge passwd", "Error: the user name is missing.\n\n"},
		{[]string{"f", "u", "extra"}, 1, "", "Error: Too many arguments: 'extra' after the user name.\n"},
		{[]string{"-X", "f", "u"}, 1, "Usage: midge passwd", "Error: Unknown option '-X'.\n\n"},
		{[]string{"-b", "-", "u", "p"}, 1, "", "Error: The password file '-' (standard output) is only for -c.\n"},
		{[]string{"-b", "f", "a:b", "p"}, 1, "", "Error: Username must not contain the ':' character.\n"},
		{[]string{"-b", "f", "a\tb", "p"}, 1, "", "Error: Username must not contain control characters.\n"},
		{[]string{"-b", "f", " a", "p"}, 1, "", "Error: Username must not start or end with a space.\n"},
		{[]string{"-b", "f", strings.Repeat("u", 65536), "p"}, 1, "", "Error: Username must be less than 65536 characters long.\n"},
		{[]string{"-b", "f", "u", ""}, 1, "", "Error: Empty password.\n"},
		{[]string{"-b", "f", "u", strings.Repeat("p", 65536)}, 1, "", "Error: Password must be less than 65536 characters long.\n"},
	} {
		t.Run(passwdCaseName(c.args), func(t *testing.T) {
			r := runPasswd(t, "", c.args...)
			if r.status != c.status {
				t.Errorf("status %d, want %d", r.status, c.status)
			}
			if !strings.Contains(r.out, c.out) || c.out == "" && r.out != "" {
				t.Errorf("stdout %q, want it to contain %q", r.out, c.out)
			}
			if c.err != r.errOut {
				t.Errorf("stderr %q, want %q", r.errOut, c.err)
			}
		})
	}
}

// passwdCaseName names a subtest after its arguments, shortening long ones.
func passwdCaseName(args []string) string {
	short := make([]string, len(args))
	for i, arg := range args {
		if len(arg) > 12 {
			arg = fmt.Sprintf("%.8s...(%d)", arg, len(arg))
		}
		short[i] = arg
	}
	return strings.Join(short, " ")
}

func TestPasswdCreateAndEdit(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "passwd")
	mustPasswd(t, "", "-c", "-b", path, "alice", "wonderland")
	if got := readText(t, path); !strings.HasPrefix(got, "alice:$7$101$") || strings.Count(got, "\n") != 1 {
		t.Errorf("new file %q, want one alice:$7$101$ line", got)
	}
	if runtime.GOOS != "windows" {
		if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("new file mode %v (%v), want 0600", info.Mode().Perm(), err)
		}
	}

	// Comments, blank lines and other users keep their place.
	bob, err := auth.Hash(auth.SHA512, []byte("builder"), 0)
	if err != nil {
		t.Fatal(err)
	}
	text := "# users\n" + readText(t, path) + "\n  # bob is next\nbob : " + bob + "\n"
	if err := os.WriteFile(path, []byte(text), 0o640); err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, 0o640)
	mustPasswd(t, "", "-b", path, "alice", "changed")
	mustPasswd(t, "", "-H", "sha512", "-b", path, "carol", "singer")
	mustPasswd(t, "", "-I", "7", "-b", path, "dave", "diver")
	lines := strings.Split(readText(t, path), "\n")
	want := []string{"# users", "alice:$7$101$", "", "  # bob is next", "bob : " + bob, "carol:$6$", "dave:$7$7$", ""}
	if len(lines) != len(want) {
		t.Fatalf("file is %q, want lines like %q", lines, want)
	}
	for i := range want {
		if !strings.HasPrefix(lines[i], want[i]) || want[i] == "" && lines[i] != "" {
			t.Errorf("line %d is %q, want it to start with %q", i+1, lines[i], want[i])
		}
	}
	checkLogins(t, path, map[string]string{"alice": "changed", "bob": "builder", "carol": "singer", "dave": "diver"})
	if runtime.GOOS != "windows" {
		if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o640 {
			t.Errorf("mode after editing %v (%v), want 0640 kept", info.Mode().Perm(), err)
		}
	}

	// -D removes the user; a missing one is a warning and status 1.
	mustPasswd(t, "", "-D", path, "bob")
	checkLogins(t, path, map[string]string{"alice": "changed", "carol": "singer", "dave": "diver"})
	before := readText(t, path)
	r := runPasswd(t, "", "-D", path, "bob")
	if r.status != 1 || r.errOut != "Warning: User bob not found in password file.\n" {
		t.Errorf("deleting a missing user: status %d, stderr %q", r.status, r.errOut)
	}
	if readText(t, path) != before {
		t.Error("deleting a missing user changed the file")
	}

	// -c replaces the whole file.
	mustPasswd(t, "", "-c", "-b", path, "erin", "e")
	checkLogins(t, path, map[string]string{"erin": "e"})

	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Errorf("directory holds %v (%v); want the password file only, no temporary files", entries, err)
	}
}

func TestPasswdMissingOrCorruptFile(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "none")
	r := runPasswd(t, "", "-b", missing, "u", "p")
	if r.status != 1 || r.errOut != fmt.Sprintf("Error: Unable to open password file %s. No such file or directory.\n", missing) {
		t.Errorf("missing file: status %d, stderr %q", r.status, r.errOut)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Error("a missing file was created without -c")
	}
	corrupt := filepath.Join(dir, "corrupt")
	const text = "# fine\na:b\nno colon here\n"
	if err := os.WriteFile(corrupt, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"-b", corrupt, "u", "p"}, {"-D", corrupt, "a"}, {"-U", corrupt}} {
		r := runPasswd(t, "", args...)
		if r.status != 1 || r.errOut != "Error: Corrupt password file at line 3.\n" {
			t.Errorf("%q: status %d, stderr %q", args, r.status, r.errOut)
		}
	}
	if readText(t, corrupt) != text {
		t.Error("a corrupt file was changed")
	}
}

func TestPasswdInteractive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passwd")
	r := mustPasswd(t, "secret\r\nsecret\n", "-c", path, "alice")
	if r.out != "Password: \nReenter password: \n" {
		t.Errorf("stdout %q, want the two prompts", r.out)
	}
	checkLogins(t, path, map[string]string{"alice": "secret"})
	mustPasswd(t, "other\nother", "-H", "sha512", path, "bob") // no final newline
	checkLogins(t, path, map[string]string{"alice": "secret", "bob": "other"})

	before := readText(t, path)
	for _, c := range []struct {
		stdin, err string
		status     int
	}{
		{"one\ntwo\n", "Error: Passwords do not match.\n", 2},
		{"\n\n", "Error: Empty password.\n", 1},
		{"only once\n", "Error: Empty password.\n", 1},
		{"", "Error: Empty password.\n", 1},
	} {
		r := runPasswd(t, c.stdin, path, "alice")
		if r.status != c.status || r.errOut != c.err {
			t.Errorf("stdin %q: status %d, stderr %q; want %d, %q", c.stdin, r.status, r.errOut, c.status, c.err)
		}
	}
	if readText(t, path) != before {
		t.Error("a failed prompt changed the file")
	}
}

func TestPasswdCreateToStdout(t *testing.T) {
	r := mustPasswd(t, "", "-c", "-b", "-", "alice", "secret")
	user, hash, ok := strings.Cut(strings.TrimSuffix(r.out, "\n"), ":")
	if !ok || user != "alice" {
		t.Fatalf("stdout %q, want one alice line", r.out)
	}
	if ok, err := auth.CompareHash(hash, []byte("secret")); !ok || err != nil {
		t.Errorf("CompareHash = %v, %v", ok, err)
	}
}

func TestPasswdUpdate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passwd")
	hashed, err := auth.Hash(auth.PBKDF2SHA512, []byte("kept"), 5)
	if err != nil {
		t.Fatal(err)
	}
	text := "# plain-text users\nalice:wonderland\n\nbob: builder \nkept:" + hashed + "\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	r := mustPasswd(t, "", "-U", path)
	if r.out != "User kept: password already hashed, left as it is.\n" {
		t.Errorf("stdout %q", r.out)
	}
	lines := strings.Split(readText(t, path), "\n")
	if len(lines) != 6 || lines[0] != "# plain-text users" || lines[2] != "" || lines[4] != "kept:"+hashed {
		t.Errorf("file after -U: %q", lines)
	}
	checkLogins(t, path, map[string]string{"alice": "wonderland", "bob": "builder", "kept": "kept"})

	// A line that looks hashed but is not stops -U before anything changes.
	bad := "carol:plain\ndave:$7$101$short$hash\n"
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	r = runPasswd(t, "", "-U", path)
	if r.status != 1 || !strings.HasPrefix(r.errOut, "Error: Invalid password hash for user dave at line 2") {
		t.Errorf("status %d, stderr %q", r.status, r.errOut)
	}
	if readText(t, path) != bad {
		t.Error("a failed -U changed the file")
	}
}

func TestPasswdFollowsSymlink(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links need privileges on Windows")
	}
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	link := filepath.Join(dir, "link")
	mustPasswd(t, "", "-c", "-b", real, "alice", "a")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	mustPasswd(t, "", "-b", link, "bob", "b")
	if info, err := os.Lstat(link); err != nil || info.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v, %v", info, err)
	}
	checkLogins(t, real, map[string]string{"alice": "a", "bob": "b"})
}

// TestPasswdReadsMosquittoPasswd checks that what Debian's mosquitto_passwd
// writes, in each of its forms, loads and verifies.
func TestPasswdReadsMosquittoPasswd(t *testing.T) {
	tool := mosquittotest.NeedBinary(t, "mosquitto_passwd")
	path := filepath.Join(t.TempDir(), "passwd")
	run := func(stdin string, args ...string) {
		t.Helper()
		cmd := exec.Command(tool, args...)
		cmd.Stdin = strings.NewReader(stdin)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd %q: %v\n%s", args, err, out)
		}
	}
	run("", "-c", "-b", path, "alice", "wonderland")
	run("", "-H", "sha512", "-b", path, "bob", "builder")
	run("", "-I", "5", "-b", path, "carol", "singer")
	run("", "-H", "sha512-pbkdf2", "-b", path, "dave smith", "pass word")
	run("pïn\npïn\n", path, "erin")
	checkLogins(t, path, map[string]string{
		"alice": "wonderland", "bob": "builder", "carol": "singer", "dave smith": "pass word", "erin": "pïn",
	})
	// midge passwd edits such a file, and the result still loads.
	mustPasswd(t, "", "-b", path, "frank", "f")
	mustPasswd(t, "", "-D", path, "bob")
	checkLogins(t, path, map[string]string{
		"alice": "wonderland", "carol": "singer", "dave smith": "pass word", "erin": "pïn", "frank": "f",
	})
}

// TestPasswdFileWorksInMosquitto checks that Debian's mosquitto broker
// accepts the right passwords, and refuses wrong ones, from a file written
// by midge passwd in each of its ways.
func TestPasswdFileWorksInMosquitto(t *testing.T) {
	mosquittotest.NeedBinary(t, "mosquitto")
	path := filepath.Join(t.TempDir(), "passwd")
	mustPasswd(t, "", "-c", "-b", path, "alice", "wonderland")
	mustPasswd(t, "", "-H", "sha512", "-b", path, "bob", "builder")
	mustPasswd(t, "", "-I", "1000", "-b", path, "carol", "singer")
	mustPasswd(t, "pïn\npïn\n", path, "dave")
	text := readText(t, path) + "# plain text, hashed by -U below\nerin:plain text\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	mustPasswd(t, "", "-U", path)

	// Running as root, mosquitto would switch to the user "mosquitto",
	// which cannot read the test's directory; "user root" keeps it root
	// (and is ignored when not root).
	addr := mosquittotest.Start(t, "allow_anonymous false\nuser root\npassword_file "+path)
	for user, password := range map[string]string{
		"alice": "wonderland", "bob": "builder", "carol": "singer", "dave": "pïn", "erin": "plain text",
	} {
		if code := passwordConnack(t, addr, user, password); code != 0 {
			t.Errorf("user %q, right password: CONNACK %d, want 0", user, code)
		}
		if code := passwordConnack(t, addr, user, password+"x"); code != 5 {
			t.Errorf("user %q, wrong password: CONNACK %d, want 5", user, code)
		}
	}
	if code := passwordConnack(t, addr, "nobody", "x"); code != 5 {
		t.Errorf("unknown user: CONNACK %d, want 5", code)
	}
}

// passwordConnack connects to addr over MQTT 3.1.1 with the user name and
// password and returns the CONNACK return code.
func passwordConnack(t *testing.T, addr, username, password string) packets.ReasonCode {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), passwdTimeout)
	defer cancel()
	c, err := client.Dial(ctx, client.Options{
		Addr: addr, ClientID: "passwd-test", CleanStart: true, Version: packets.V311,
		Username: username, UsernameSet: true, Password: []byte(password), PasswordSet: true,
	})
	if err == nil {
		c.Close()
		return 0
	}
	var refused *client.ConnectError
	if !errors.As(err, &refused) {
		t.Fatalf("connecting as %q: %v", username, err)
	}
	return refused.Code
}
