package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"

	"github.com/midge-mqtt/midge/internal/auth"
)

// passwdUsage is mosquitto_passwd's usage text, for midge passwd.
const passwdUsage = `midge passwd is a tool for managing password files for midge and mosquitto.

Usage: midge passwd [-H sha512 | -H sha512-pbkdf2] [-I iterations] [-c | -D] passwordfile username
       midge passwd [-H sha512 | -H sha512-pbkdf2] [-I iterations] [-c] -b passwordfile username password
       midge passwd [-H sha512 | -H sha512-pbkdf2] [-I iterations] -U passwordfile
 -b : run in batch mode to allow passing passwords on the command line.
 -c : create a new password file. This will overwrite existing files.
      "-c -" writes the new file to standard output.
 -D : delete the username rather than adding/updating its password.
 -H : specify the hashing algorithm. Defaults to sha512-pbkdf2, which is recommended.
      Mosquitto 1.6 and earlier read only sha512.
 -I : the number of PBKDF2 iterations (default 101, as mosquitto_passwd 2.0 writes).
 -U : update a plain text password file to use hashed passwords.
      Lines already hashed are left as they are.
`

// maxPasswdField is the longest user name or password mosquitto_passwd
// accepts.
const maxPasswdField = 65535

// Exit statuses of midge passwd beyond 0 and 1, as mosquitto_passwd's.
const (
	passwdMismatch    = 2   // "Passwords do not match."
	passwdInterrupted = 130 // interrupted at a prompt (mosquitto_passwd exits 0)
)

// passwdOptions is a parsed midge passwd command line.
type passwdOptions struct {
	kind       auth.HashKind
	iterations int
	batch      bool // -b: the password is the last argument
	create     bool // -c
	remove     bool // -D
	update     bool // -U
	file       string
	username   string
	password   string // with -b
}

// Passwd is midge passwd, a drop-in for mosquitto_passwd: it adds, changes
// or deletes a user in a Mosquitto password file, creates one, or hashes
// a plain-text one in place (-U). It writes $7$ (PBKDF2-SHA512, 101
// iterations, 12-byte salt) lines that Mosquitto 2.0 and later read, or $6$
// with -H sha512. Other lines and comments keep their order; the file is
// replaced by a new one written beside it and renamed, so a reader never
// sees half a file, and keeps its permissions (0600 for a new file).
//
// Unlike mosquitto_passwd, -U leaves lines that are already hashed as they
// are (mosquitto_passwd hashes the hash) and keeps comments and blank
// lines (mosquitto_passwd refuses them as corrupt), and extra arguments
// are a usage error.
func Passwd(ctx context.Context, args []string, stdio Stdio) int {
	opts, status, ok := parsePasswdArgs(args, stdio)
	if !ok {
		return status
	}
	switch {
	case opts.create:
		return passwdCreate(ctx, opts, stdio)
	case opts.remove:
		return passwdDelete(opts, stdio)
	case opts.update:
		return passwdUpdate(opts, stdio)
	}
	return passwdSet(ctx, opts, stdio)
}

// passwdArgNames names the arguments after the options, for want of them.
func passwdArgNames(want int) []string {
	return []string{"password file", "user name", "password"}[:want]
}

// passwdError writes "Error: MESSAGE." to stdio.Err and returns 1.
func passwdError(stdio Stdio, format string, args ...any) int {
	fmt.Fprintf(stdio.Err, "Error: "+format+"\n", args...)
	return 1
}

// parsePasswdArgs parses the command line as mosquitto_passwd does:
// options first, then the file, user name and password. When ok is false
// the command is over and status is its exit status.
func parsePasswdArgs(args []string, stdio Stdio) (opts passwdOptions, status int, ok bool) {
	opts.kind, opts.iterations = auth.PBKDF2SHA512, auth.DefaultIterations
	i := 0
options:
	for ; i < len(args); i++ {
		switch args[i] {
		case "-H", "-I":
			if i+1 == len(args) {
				return opts, passwdError(stdio, "%s argument given but not enough other arguments.", args[i]), false
			}
			i++
			if args[i-1] == "-I" {
				n, err := strconv.Atoi(args[i])
				if err != nil || n < 1 || n > 1<<31-1 {
					return opts, passwdError(stdio, "Number of iterations must be > 0."), false
				}
				opts.iterations = n
				continue
			}
			switch args[i] {
			case "sha512":
				opts.kind = auth.SHA512
			case "sha512-pbkdf2":
				opts.kind = auth.PBKDF2SHA512
			default:
				return opts, passwdError(stdio, "Unknown hash type '%s'", args[i]), false
			}
		case "-b":
			opts.batch = true
		case "-c":
			opts.create = true
		case "-D":
			opts.remove = true
		case "-U":
			opts.update = true
		case "-h", "--help":
			fmt.Fprint(stdio.Out, passwdUsage)
			return opts, 0, false
		default:
			if len(args[i]) > 1 && args[i][0] == '-' {
				fmt.Fprintf(stdio.Err, "Error: Unknown option '%s'.\n\n", args[i])
				fmt.Fprint(stdio.Out, passwdUsage)
				return opts, 1, false
			}
			break options
		}
	}
	if msg := passwdConflict(opts); msg != "" {
		return opts, passwdError(stdio, "%s", msg), false
	}
	rest := args[i:]
	want := 2 // FILE USER
	switch {
	case opts.update:
		want = 1
	case opts.batch:
		want = 3
	}
	if len(rest) > want {
		return opts, passwdError(stdio, "Too many arguments: '%s' after the %s.", rest[want], passwdArgNames(want)[want-1]), false
	}
	if len(rest) < want {
		missing := passwdArgNames(want)[len(rest):]
		what := strings.Join(missing, " and the ")
		verb := "is"
		if len(missing) > 1 {
			verb = "are"
		}
		switch {
		case opts.create:
			return opts, passwdError(stdio, "-c argument given but the %s %s missing.", what, verb), false
		case opts.remove:
			return opts, passwdError(stdio, "-D argument given but the %s %s missing.", what, verb), false
		case opts.update:
			return opts, passwdError(stdio, "-U argument given but the %s %s missing.", what, verb), false
		}
		if len(rest) > 0 { // with no arguments at all, the usage says it
			fmt.Fprintf(stdio.Err, "Error: the %s %s missing.\n\n", what, verb)
		}
		fmt.Fprint(stdio.Out, passwdUsage)
		return opts, 1, false
	}
	opts.file = rest[0]
	if want >= 2 {
		opts.username = rest[1]
		if msg := passwdCheckUsername(opts.username); msg != "" {
			return opts, passwdError(stdio, "%s", msg), false
		}
	}
	if want == 3 {
		opts.password = rest[2]
		if msg := passwdCheckPassword(opts.password); msg != "" {
			return opts, passwdError(stdio, "%s", msg), false
		}
	}
	if opts.file == "-" && !opts.create {
		return opts, passwdError(stdio, "The password file '-' (standard output) is only for -c."), false
	}
	return opts, 0, true
}

// passwdConflict returns mosquitto_passwd's message for options that
// cannot be used together, or "".
func passwdConflict(opts passwdOptions) string {
	switch {
	case opts.create && opts.remove:
		return "-c and -D cannot be used together."
	case opts.create && opts.update:
		return "-c and -U cannot be used together."
	case opts.remove && opts.update:
		return "-D and -U cannot be used together."
	case opts.batch && opts.remove:
		return "-b and -D cannot be used together."
	}
	return ""
}

// passwdCheckUsername returns why a user name cannot go in a password
// file, or "". Besides mosquitto_passwd's rules, a name may not start or
// end with a blank: brokers trim the names they read, so it could never
// log in.
func passwdCheckUsername(name string) string {
	switch {
	case len(name) > maxPasswdField:
		return "Username must be less than 65536 characters long."
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return "Username must not contain control characters."
	case strings.Contains(name, ":"):
		return "Username must not contain the ':' character."
	case strings.TrimSpace(name) != name:
		return "Username must not start or end with a space."
	}
	return ""
}

// passwdCheckPassword returns why a password cannot be used, or "".
func passwdCheckPassword(password string) string {
	switch {
	case password == "":
		return "Empty password."
	case len(password) > maxPasswdField:
		return "Password must be less than 65536 characters long."
	}
	return ""
}

// passwdLine is a line of a password file.
type passwdLine struct {
	text   string // as read, without its '\n'
	user   string // the trimmed user name; "" on a blank or comment line
	secret string // the trimmed hash, or a plain-text password
}

// readPasswdFile reads and splits the password file. It reports a missing
// file or a line that is neither blank, a comment nor "user:secret" in
// mosquitto_passwd's words, and returns status 1 then.
func readPasswdFile(path string, stdio Stdio) ([]passwdLine, int, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, passwdError(stdio, "Unable to open password file %s. %s.", path, describeFileError(err)), false
	}
	text := strings.TrimSuffix(string(data), "\n")
	if text == "" {
		return nil, 0, true
	}
	var lines []passwdLine
	for i, t := range strings.Split(text, "\n") {
		line := passwdLine{text: t}
		trimmed := strings.TrimSpace(t)
		if trimmed != "" && trimmed[0] != '#' {
			user, secret, _ := strings.Cut(trimmed, ":")
			line.user, line.secret = strings.TrimSpace(user), strings.TrimSpace(secret)
			if line.user == "" || line.secret == "" {
				return nil, passwdError(stdio, "Corrupt password file at line %d.", i+1), false
			}
		}
		lines = append(lines, line)
	}
	return lines, 0, true
}

// describeFileError returns the operating system's description of err,
// capitalized as strerror's are ("No such file or directory").
func describeFileError(err error) string {
	var pathErr *os.PathError
	if errors.As(err, &pathErr) {
		err = pathErr.Err
	}
	s := err.Error()
	if s != "" {
		s = strings.ToUpper(s[:1]) + s[1:]
	}
	return s
}

// passwdEntry hashes password and returns the file line for username.
func passwdEntry(opts passwdOptions, username, password string, stdio Stdio) (string, int, bool) {
	hash, err := auth.Hash(opts.kind, []byte(password), opts.iterations)
	if err != nil {
		return "", passwdError(stdio, "Unable to hash password."), false
	}
	return username + ":" + hash, 0, true
}

// passwdCreate is -c: a new file holding one user.
func passwdCreate(ctx context.Context, opts passwdOptions, stdio Stdio) int {
	password := opts.password
	if !opts.batch {
		var status int
		if password, status = readNewPassword(ctx, stdio); status != 0 {
			return status
		}
	}
	entry, status, ok := passwdEntry(opts, opts.username, password, stdio)
	if !ok {
		return status
	}
	if opts.file == "-" {
		fmt.Fprintln(stdio.Out, entry)
		return 0
	}
	return writePasswdLines(opts.file, []passwdLine{{text: entry}}, stdio)
}

// passwdSet adds a user to the file or changes its password.
func passwdSet(ctx context.Context, opts passwdOptions, stdio Stdio) int {
	lines, status, ok := readPasswdFile(opts.file, stdio)
	if !ok {
		return status
	}
	password := opts.password
	if !opts.batch {
		if password, status = readNewPassword(ctx, stdio); status != 0 {
			return status
		}
	}
	entry, status, ok := passwdEntry(opts, opts.username, password, stdio)
	if !ok {
		return status
	}
	out := make([]passwdLine, 0, len(lines)+1)
	found := false
	for _, line := range lines {
		switch {
		case line.user != opts.username:
			out = append(out, line)
		case !found: // the user's first line is replaced, any later ones dropped
			out = append(out, passwdLine{text: entry, user: opts.username})
			found = true
		}
	}
	if !found {
		out = append(out, passwdLine{text: entry, user: opts.username})
	}
	return writePasswdLines(opts.file, out, stdio)
}

// passwdDelete is -D: every line of the user is removed.
func passwdDelete(opts passwdOptions, stdio Stdio) int {
	lines, status, ok := readPasswdFile(opts.file, stdio)
	if !ok {
		return status
	}
	out := make([]passwdLine, 0, len(lines))
	for _, line := range lines {
		if line.user != opts.username {
			out = append(out, line)
		}
	}
	if len(out) == len(lines) {
		fmt.Fprintf(stdio.Err, "Warning: User %s not found in password file.\n", opts.username)
		return 1
	}
	return writePasswdLines(opts.file, out, stdio)
}

// passwdUpdate is -U: plain-text passwords are replaced by their hashes.
// Lines already hashed ($6$, $7$ or argon2) are kept, with a note on
// standard output; a line that starts like a $6$ or $7$ hash but is not
// one is an error, as it is no more usable hashed again.
func passwdUpdate(opts passwdOptions, stdio Stdio) int {
	lines, status, ok := readPasswdFile(opts.file, stdio)
	if !ok {
		return status
	}
	for i := range lines {
		line := &lines[i]
		switch {
		case line.user == "":
			continue
		case strings.HasPrefix(line.secret, "$argon2"):
			fmt.Fprintf(stdio.Out, "User %s: password already hashed, left as it is.\n", line.user)
			continue
		case strings.HasPrefix(line.secret, "$6$") || strings.HasPrefix(line.secret, "$7$"):
			if err := auth.ValidHash(line.secret); err != nil {
				return passwdError(stdio, "Invalid password hash for user %s at line %d (%v).", line.user, i+1, err)
			}
			fmt.Fprintf(stdio.Out, "User %s: password already hashed, left as it is.\n", line.user)
			continue
		}
		entry, status, ok := passwdEntry(opts, line.user, line.secret, stdio)
		if !ok {
			return status
		}
		line.text = entry
	}
	return writePasswdLines(opts.file, lines, stdio)
}

// writePasswdLines replaces the file at path with lines.
func writePasswdLines(path string, lines []passwdLine, stdio Stdio) int {
	var b strings.Builder
	for _, line := range lines {
		b.WriteString(line.text)
		b.WriteByte('\n')
	}
	if err := replaceFile(path, []byte(b.String())); err != nil {
		return passwdError(stdio, "Unable to write password file %s: %v.", path, err)
	}
	return 0
}

// replaceFile writes data to a new file beside path and renames it over
// path, so that a reader sees the old file or the new one, never part of
// one. A symbolic link is followed, and the file it names replaced. The new
// file has the old one's permissions and, where the process may, its owner
// and group; a new file is 0600.
func replaceFile(path string, data []byte) (err error) {
	target := path
	if resolved, err := filepath.EvalSymlinks(path); err == nil {
		target = resolved
	}
	mode := os.FileMode(0o600)
	old, statErr := os.Stat(target)
	if statErr == nil {
		mode = old.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Chmod(mode); err != nil {
		return err
	}
	if statErr == nil {
		keepOwner(tmp, old)
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), target)
}

// readNewPassword asks for a password twice, as mosquitto_passwd does:
// prompts on stdio.Out, input without echo when stdio.In is a terminal,
// one line per answer otherwise. A non-zero status means it failed and
// said why.
func readNewPassword(ctx context.Context, stdio Stdio) (string, int) {
	in := bufio.NewReader(stdio.In)
	restore, terminal := disableEcho(stdio.In)
	if terminal {
		defer restore()
	}
	var answers [2]string
	for i, prompt := range []string{"Password: ", "Reenter password: "} {
		fmt.Fprint(stdio.Out, prompt)
		answer, err := readPasswordLine(ctx, in, terminal)
		fmt.Fprintln(stdio.Out)
		if err != nil && ctx.Err() != nil {
			return "", passwdInterrupted
		}
		if msg := passwdCheckPassword(answer); msg != "" {
			return "", passwdError(stdio, "%s", msg)
		}
		answers[i] = answer
	}
	if answers[0] != answers[1] {
		passwdError(stdio, "Passwords do not match.")
		return "", passwdMismatch
	}
	return answers[0], 0
}

// readPasswordLine reads one line, without its line ending; at the end of
// input it returns what there was. On a terminal the read runs on its own
// goroutine so that an interrupt (ctx) ends the prompt: that goroutine
// stays blocked on the terminal until the process, which is about to exit,
// ends.
func readPasswordLine(ctx context.Context, in *bufio.Reader, terminal bool) (string, error) {
	if !terminal {
		return readLineOf(in)
	}
	type result struct {
		line string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		line, err := readLineOf(in)
		done <- result{line, err}
	}()
	select {
	case r := <-done:
		return r.line, r.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// readLineOf reads a line from in and trims its "\n" or "\r\n"; io.EOF
// after some text is not an error.
func readLineOf(in *bufio.Reader) (string, error) {
	line, err := in.ReadString('\n')
	if err == io.EOF && line != "" {
		err = nil
	}
	line = strings.TrimSuffix(line, "\n")
	return strings.TrimSuffix(line, "\r"), err
}
