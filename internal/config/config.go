// Package config reads Mosquitto's configuration file format into a typed
// Config. It has no behaviour of its own: the broker command applies it.
// Every error names the file and line it comes from.
package config

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Config is a parsed configuration file.
type Config struct {
	Listeners []Listener
	// AllowAnonymous is nil when the file does not set allow_anonymous.
	AllowAnonymous *bool
	// MaxInflightMessages and MaxQueuedMessages are nil when not set; 0
	// means unlimited, as in Mosquitto.
	MaxInflightMessages *int
	MaxQueuedMessages   *int
	// PasswordFile and ACLFile are password_file and acl_file; empty when
	// not set.
	PasswordFile string
	ACLFile      string
}

// Listener is one `listener PORT [ADDRESS]` declaration with the options
// that follow it and belong to it.
type Listener struct {
	Port    int
	Address string // empty: every interface, IPv4 and IPv6
	File    string // where it was declared
	Line    int

	// MaxConnections is max_connections; -1 (the default) is unlimited.
	MaxConnections int

	// TLS: the listener speaks TLS when CertFile or KeyFile is set.
	CAFile, CAPath        string
	CertFile, KeyFile     string
	CRLFile               string
	RequireCertificate    bool
	UseIdentityAsUsername bool
	UseSubjectAsUsername  bool
	TLSVersion            string // tls_version: tlsv1.3, tlsv1.2 or tlsv1.1; empty for the default
	Ciphers               string // ciphers, an OpenSSL cipher list
	Ciphers13             string // ciphers_tls1.3
}

// TLS reports whether the listener is configured for TLS.
func (l *Listener) TLS() bool { return l.CertFile != "" || l.KeyFile != "" }

// Error is a problem at one line of a configuration file.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// Load reads and parses the configuration file at path.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	return Parse(f, path)
}

// Parse parses a configuration read from r; name is used in errors.
func Parse(r io.Reader, name string) (*Config, error) {
	cfg := &Config{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimRight(sc.Text(), " \t\r")
		if text == "" || text[0] == '#' { // a comment only when '#' comes first
			continue
		}
		fields := strings.Fields(text)
		if err := cfg.apply(fields[0], fields[1:]); err != nil {
			return nil, &Error{File: name, Line: line, Msg: err.Error()}
		}
		if fields[0] == "listener" {
			l := &cfg.Listeners[len(cfg.Listeners)-1]
			l.File, l.Line = name, line
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("config: reading %s: %w", name, err)
	}
	return cfg, nil
}

func (c *Config) apply(option string, args []string) error {
	switch option {
	case "listener":
		if len(args) < 1 || len(args) > 2 {
			return fmt.Errorf("listener: expected `listener PORT [ADDRESS]`")
		}
		port, err := strconv.Atoi(args[0])
		if err != nil || port < 1 || port > 65535 {
			return fmt.Errorf("listener: invalid port %q (accepted: 1 to 65535)", args[0])
		}
		l := Listener{Port: port, MaxConnections: -1}
		if len(args) == 2 {
			l.Address = args[1]
		}
		c.Listeners = append(c.Listeners, l)
		return nil
	case "allow_anonymous":
		b, err := parseBool(option, args)
		if err != nil {
			return err
		}
		c.AllowAnonymous = &b
		return nil
	case "max_inflight_messages":
		n, err := parseCount(option, args)
		if err != nil {
			return err
		}
		c.MaxInflightMessages = &n
		return nil
	case "max_queued_messages":
		n, err := parseCount(option, args)
		if err != nil {
			return err
		}
		c.MaxQueuedMessages = &n
		return nil
	case "password_file", "acl_file":
		v, err := parsePath(option, args)
		if err != nil {
			return err
		}
		if option == "password_file" {
			c.PasswordFile = v
		} else {
			c.ACLFile = v
		}
		return nil
	}
	if set, ok := listenerOptions[option]; ok {
		if len(c.Listeners) == 0 {
			return fmt.Errorf("%s: must follow the `listener` line it belongs to", option)
		}
		return set(&c.Listeners[len(c.Listeners)-1], option, args)
	}
	return fmt.Errorf("unknown or not yet supported option %q", option)
}

// listenerOptions are the options that apply to the listener declared
// above them.
var listenerOptions = map[string]func(l *Listener, option string, args []string) error{
	"max_connections": func(l *Listener, option string, args []string) error {
		if len(args) == 1 {
			if n, err := strconv.Atoi(args[0]); err == nil && n >= -1 {
				l.MaxConnections = n
				return nil
			}
		}
		return fmt.Errorf("%s: invalid value %q (accepted: -1 for unlimited, or a whole number)", option, strings.Join(args, " "))
	},
	"cafile":         pathOption(func(l *Listener) *string { return &l.CAFile }),
	"capath":         pathOption(func(l *Listener) *string { return &l.CAPath }),
	"certfile":       pathOption(func(l *Listener) *string { return &l.CertFile }),
	"keyfile":        pathOption(func(l *Listener) *string { return &l.KeyFile }),
	"crlfile":        pathOption(func(l *Listener) *string { return &l.CRLFile }),
	"ciphers":        textOption(func(l *Listener) *string { return &l.Ciphers }),
	"ciphers_tls1.3": textOption(func(l *Listener) *string { return &l.Ciphers13 }),
	"tls_version": func(l *Listener, option string, args []string) error {
		if len(args) == 1 {
			switch args[0] {
			case "tlsv1.3", "tlsv1.2", "tlsv1.1":
				l.TLSVersion = args[0]
				return nil
			}
		}
		return fmt.Errorf("%s: invalid value %q (accepted: tlsv1.3, tlsv1.2, tlsv1.1)", option, strings.Join(args, " "))
	},
	"require_certificate":      boolOption(func(l *Listener) *bool { return &l.RequireCertificate }),
	"use_identity_as_username": boolOption(func(l *Listener) *bool { return &l.UseIdentityAsUsername }),
	"use_subject_as_username":  boolOption(func(l *Listener) *bool { return &l.UseSubjectAsUsername }),
}

func pathOption(field func(*Listener) *string) func(*Listener, string, []string) error {
	return func(l *Listener, option string, args []string) error {
		v, err := parsePath(option, args)
		*field(l) = v
		return err
	}
}

func textOption(field func(*Listener) *string) func(*Listener, string, []string) error {
	return func(l *Listener, option string, args []string) error {
		if len(args) == 0 {
			return fmt.Errorf("%s: missing value", option)
		}
		*field(l) = strings.Join(args, " ")
		return nil
	}
}

func boolOption(field func(*Listener) *bool) func(*Listener, string, []string) error {
	return func(l *Listener, option string, args []string) error {
		b, err := parseBool(option, args)
		*field(l) = b
		return err
	}
}

// parsePath reads a file or directory option: the rest of the line, so a
// path may hold spaces, as in Mosquitto.
func parsePath(option string, args []string) (string, error) {
	if len(args) == 0 {
		return "", fmt.Errorf("%s: missing path", option)
	}
	return strings.Join(args, " "), nil
}

func parseBool(option string, args []string) (bool, error) {
	if len(args) == 1 {
		switch args[0] {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return false, fmt.Errorf("%s: invalid value %q (accepted: true, false)", option, strings.Join(args, " "))
}

// parseCount reads a non-negative integer option value.
func parseCount(option string, args []string) (int, error) {
	if len(args) == 1 {
		if n, err := strconv.Atoi(args[0]); err == nil && n >= 0 {
			return n, nil
		}
	}
	return 0, fmt.Errorf("%s: invalid value %q (accepted: a whole number, 0 or more)", option, strings.Join(args, " "))
}
