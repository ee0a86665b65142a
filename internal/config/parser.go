package config

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// position is one line of one file.
type position struct {
	file string
	line int
}

// parser holds the state of one Parse: the Config being filled and what
// Mosquitto's parser tracks beside it.
type parser struct {
	cfg *Config
	// global and listenerSecurity (parallel to cfg.Listeners) collect the
	// security options; finish copies them into their fields.
	global           Security
	listenerSecurity []Security
	// current is the index of the listener that listener options belong to,
	// or -1 for the default listener. Each file starts at -1, as in
	// Mosquitto, where the current listener is local to the file's reader.
	current int
	// currentBridge is the index of the bridge that bridge options belong
	// to, or -1; like current, local to a file.
	currentBridge int
	def           defaultListener
	// securityAt is the first security option read, for the rule that
	// per_listener_settings comes before them.
	securityAt *position
}

// defaultListener is the listener that Mosquitto builds from `port`,
// `bind_address` and listener options read before any `listener` line.
type defaultListener struct {
	listener Listener
	security Security
	// touched are the lines that configured it, in order.
	touched []Warning
}

func newParser() *parser {
	return &parser{
		cfg:           &Config{},
		current:       -1,
		currentBridge: -1,
		def:           defaultListener{listener: newListener(0, "", position{})},
	}
}

// newListener returns a listener with Mosquitto's defaults.
func newListener(port int, address string, at position) Listener {
	return Listener{Port: port, Address: address, File: at.file, Line: at.line,
		MaxConnections: -1, MaxQoS: 2, MaxTopicAlias: 10, MaxTopicAliasBroker: 10}
}

// parseFile reads one file; level is 0 for the main file, 1 for a file
// named by include_dir.
func (p *parser) parseFile(r io.Reader, name string, level int) error {
	p.cfg.Files = append(p.cfg.Files, name)
	saved, savedBridge := p.current, p.currentBridge
	p.current, p.currentBridge = -1, -1
	defer func() { p.current, p.currentBridge = saved, savedBridge }()

	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimRight(sc.Text(), " \t\r")
		if text == "" || text[0] == '#' { // a comment only when '#' comes first
			continue
		}
		if err := p.parseLine(position{name, line}, text, level); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("config: reading %s: %w", name, err)
	}
	return nil
}

// parseLine applies one option line.
func (p *parser) parseLine(at position, text string, level int) error {
	text = strings.TrimLeft(text, " \t")
	name := text
	if i := strings.IndexAny(text, " \t"); i >= 0 {
		name = text[:i]
	}
	v := newValue(name, strings.TrimSpace(text[len(name):]))
	opt, ok := lookup(name)
	if !ok {
		hint := "`midge broker --options` lists every option"
		if near := suggest(name); near != "" {
			hint = "did you mean " + near + "? " + hint
		}
		return &Error{at.file, at.line, fmt.Sprintf("unknown option %q (%s)", name, hint)}
	}
	switch {
	case opt.Status == Warn:
		p.warn(at, name, opt.Note)
		return nil
	case opt.Status == Refuse:
		return &Error{at.file, at.line, fmt.Sprintf("%s: refused: %s", name, opt.Note)}
	case name == "include_dir":
		return p.includeDir(at, v, level)
	}
	t := target{p: p, at: at, option: opt}
	if err := opt.set(&t, v); err != nil {
		return &Error{at.file, at.line, err.Error()}
	}
	return nil
}

func (p *parser) warn(at position, option, reason string) {
	p.cfg.Warnings = append(p.cfg.Warnings, Warning{at.file, at.line, option, reason})
}

// listener returns the listener that a listener option at `at` belongs to.
func (p *parser) listener(at position, option string) *Listener {
	if p.current >= 0 {
		return &p.cfg.Listeners[p.current]
	}
	return p.defaultListener(at, option)
}

func (p *parser) defaultListener(at position, option string) *Listener {
	p.def.touched = append(p.def.touched, Warning{File: at.file, Line: at.line, Option: option})
	return &p.def.listener
}

// security returns where a security option at `at` goes: the broker-wide
// set, or with per_listener_settings true the current listener's.
func (p *parser) security(at position, option string) *Security {
	if p.securityAt == nil {
		p.securityAt = &at
	}
	if !p.cfg.PerListenerSettings {
		return &p.global
	}
	if p.current >= 0 {
		return &p.listenerSecurity[p.current]
	}
	p.def.touched = append(p.def.touched, Warning{File: at.file, Line: at.line, Option: option})
	return &p.def.security
}

// addListener starts a `listener` section.
func (p *parser) addListener(l Listener) {
	p.cfg.Listeners = append(p.cfg.Listeners, l)
	p.listenerSecurity = append(p.listenerSecurity, Security{})
	p.current = len(p.cfg.Listeners) - 1
}

// includeDir reads the *.conf files of a directory in Mosquitto's order.
// Like Mosquitto, only the main file may include; an include_dir line in an
// included file is ignored, here with a warning.
func (p *parser) includeDir(at position, v *value, level int) error {
	dir, err := v.text("a directory")
	if err != nil {
		return &Error{at.file, at.line, err.Error()}
	}
	if level > 0 {
		p.warn(at, v.option, "ignored in an included file: Mosquitto reads include_dir only in the main configuration file")
		return nil
	}
	files, err := confFiles(dir)
	if err != nil {
		return &Error{at.file, at.line, fmt.Sprintf("include_dir: %v", err)}
	}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return &Error{at.file, at.line, fmt.Sprintf("include_dir: %v", err)}
		}
		err = p.parseFile(f, name, 1)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// confFiles lists the files of dir whose names end in ".conf" (and are
// longer than that), sorted as Mosquitto sorts them.
func confFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		name := e.Name()
		if len(name) <= len(".conf") || !strings.HasSuffix(name, ".conf") {
			continue
		}
		path := filepath.Join(dir, name)
		if info, err := os.Stat(path); err != nil || info.IsDir() {
			continue
		}
		names = append(names, name)
	}
	slices.SortFunc(names, compareIncludeNames)
	for i, name := range names {
		names[i] = filepath.Join(dir, name)
	}
	return names, nil
}

// compareIncludeNames orders file names as Mosquitto's include_dir does:
// byte by byte ignoring ASCII case first, and where only case differs the
// uppercase letter first, so "A.conf" < "a.conf" < "B.conf".
func compareIncludeNames(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if d := int(upperASCII(a[i])) - int(upperASCII(b[i])); d != 0 {
			return d
		}
		if d := int(a[i]) - int(b[i]); d != 0 {
			return d
		}
	}
	return len(a) - len(b)
}

func upperASCII(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

// finish adds the default listener when Mosquitto would, warns about lines
// that configured it when it would not, and stores the security options.
func (p *parser) finish() *Config {
	if p.def.needed() {
		l := p.def.listener
		l.Implicit = true
		if l.Port == 0 {
			l.Port = 1883
		}
		l.File, l.Line = p.def.touched[0].File, p.def.touched[0].Line
		p.cfg.Listeners = append(p.cfg.Listeners, l)
		p.listenerSecurity = append(p.listenerSecurity, p.def.security)
	} else {
		for _, w := range p.def.touched {
			w.Reason = "ignored: it comes before any `listener` line in its file, so it configures Mosquitto's default listener, " +
				"which nothing else there asks for (port, bind_address, TLS files, limits); move it below the `listener` line it is meant for"
			p.cfg.Warnings = append(p.cfg.Warnings, w)
		}
	}
	c := p.cfg
	c.AllowAnonymous, c.PasswordFile, c.ACLFile = p.global.AllowAnonymous, p.global.PasswordFile, p.global.ACLFile
	c.AllowZeroLengthClientID, c.AutoIDPrefix = p.global.AllowZeroLengthClientID, p.global.AutoIDPrefix
	for i, s := range p.listenerSecurity {
		l := &c.Listeners[i]
		l.AllowAnonymous, l.PasswordFile, l.ACLFile = s.AllowAnonymous, s.PasswordFile, s.ACLFile
		l.AllowZeroLengthClientID, l.AutoIDPrefix = s.AllowZeroLengthClientID, s.AutoIDPrefix
	}
	return c
}

// needed applies Mosquitto's rule for creating the default listener: any of
// these set to other than its default.
func (d *defaultListener) needed() bool {
	l, s := &d.listener, &d.security
	return l.Port != 0 || l.Address != "" ||
		l.CAFile != "" || l.CAPath != "" || l.CertFile != "" || l.KeyFile != "" || l.CRLFile != "" ||
		l.Ciphers != "" || l.Ciphers13 != "" ||
		l.RequireCertificate || l.UseIdentityAsUsername || l.UseSubjectAsUsername || l.UseUsernameAsClientID ||
		l.MaxConnections != -1 || l.MaxQoS != 2 ||
		(l.Protocol != "" && l.Protocol != "mqtt") || l.SocketDomain != "" || l.BindInterface != "" || l.MountPoint != "" ||
		s.PasswordFile != "" || (s.AllowZeroLengthClientID != nil && !*s.AllowZeroLengthClientID)
}
