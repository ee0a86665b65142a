package config

import (
	"fmt"
	"strings"
)

// Status says what midge does with an option.
type Status int

const (
	// Implemented options are parsed into a typed Config field, which the
	// broker command applies.
	Implemented Status = iota + 1
	// Warn options are accepted and ignored, with a Warning in
	// Config.Warnings that gives the reason.
	Warn
	// Refuse options fail the parse with an *Error, because ignoring them
	// would be unsafe (a plugin's checks skipped, a bridge silently missing).
	Refuse
)

// String returns the word docs/configuration.md uses for s.
func (s Status) String() string {
	switch s {
	case Implemented:
		return "implemented"
	case Warn:
		return "warning"
	case Refuse:
		return "refused"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Scope says what an option configures.
type Scope int

const (
	// ScopeGlobal options configure the whole broker wherever they appear.
	ScopeGlobal Scope = iota + 1
	// ScopeListener options belong to the listener declared above them, or
	// to the default listener before any `listener` line of a file.
	ScopeListener
	// ScopeDefaultListener options (the deprecated port and bind_address)
	// always configure the default listener.
	ScopeDefaultListener
	// ScopeSecurity options are global, or with per_listener_settings true
	// belong to the listener above them.
	ScopeSecurity
	// ScopeBridge options belong to a bridge `connection` section.
	ScopeBridge
)

// String returns the word docs/configuration.md uses for s.
func (s Scope) String() string {
	switch s {
	case ScopeGlobal:
		return "global"
	case ScopeListener:
		return "listener"
	case ScopeDefaultListener:
		return "default listener"
	case ScopeSecurity:
		return "security"
	case ScopeBridge:
		return "bridge"
	}
	return fmt.Sprintf("Scope(%d)", int(s))
}

// Option describes one mosquitto.conf option and what midge does with it.
type Option struct {
	// Name is the option as written in mosquitto.conf. A name ending in
	// "*" stands for every option with that prefix (plugin_opt_*).
	Name   string
	Scope  Scope
	Status Status
	// Default is Mosquitto's default, as its documentation gives it.
	Default string
	// Note says, for an implemented option, the field it sets; for the
	// others, the one-line reason reported in the Warning or Error.
	Note string

	set func(*target, *value) error // Implemented options but include_dir
}

// target is what an option line may change: the Config through the parser,
// and the listener or security set that the line belongs to.
type target struct {
	p      *parser
	at     position
	option *Option
}

// listener returns the listener the line belongs to: for ScopeListener the
// one declared above it in the same file, else the default listener.
// It records the line in the listener, for Listener.At.
func (t *target) listener() *Listener {
	var l *Listener
	if t.option.Scope == ScopeDefaultListener {
		l = t.p.defaultListener(t.at, t.option.Name)
	} else {
		l = t.p.listener(t.at, t.option.Name)
	}
	if l.lines == nil {
		l.lines = make(map[string]position)
	}
	l.lines[t.option.Name] = t.at
	return l
}

// security returns where a security option goes: the broker-wide set, or
// with per_listener_settings true the listener's.
func (t *target) security() *Security { return t.p.security(t.at, t.option.Name) }

// Options returns every option of the registry, in the order of
// docs/configuration.md.
func Options() []Option { return append([]Option(nil), registry...) }

// Lookup returns the registry's entry for an option name as written in a
// configuration file (plugin_opt_db_file finds plugin_opt_*).
func Lookup(name string) (Option, bool) {
	o, ok := lookup(name)
	if !ok {
		return Option{}, false
	}
	return *o, true
}

func lookup(name string) (*Option, bool) {
	if i, ok := registryIndex[name]; ok {
		return &registry[i], true
	}
	for _, prefix := range []string{"plugin_opt_", "auth_opt_"} {
		if strings.HasPrefix(name, prefix) && len(name) > len(prefix) {
			return &registry[registryIndex[prefix+"*"]], true
		}
	}
	return nil, false
}

// registryIndex maps each option name to its place in registry.
var registryIndex = indexRegistry()

func indexRegistry() map[string]int {
	index := make(map[string]int, len(registry))
	for i, o := range registry {
		index[o.Name] = i
	}
	return index
}

// The setters below build the set functions of the registry.

func configBool(field func(*Config) **bool) func(*target, *value) error {
	return func(t *target, v *value) error {
		b, err := v.boolean()
		if err == nil {
			*field(t.p.cfg) = &b
		}
		return err
	}
}

func configInt(field func(*Config) **int, lo, hi int64, accepted string) func(*target, *value) error {
	return func(t *target, v *value) error {
		n, err := v.integer(lo, hi, accepted)
		if err == nil {
			i := int(n)
			*field(t.p.cfg) = &i
		}
		return err
	}
}

// configBytes reads a byte count; below zero reads as 0 when clamp is set,
// as Mosquitto does for its "0 is unlimited" limits.
func configBytes(field func(*Config) **int64, lo, hi int64, clamp bool, accepted string) func(*target, *value) error {
	if clamp {
		lo = -1 << 62
	}
	return func(t *target, v *value) error {
		n, err := v.integer(lo, hi, accepted)
		if err == nil {
			n = max(n, 0)
			*field(t.p.cfg) = &n
		}
		return err
	}
}

// configText reads a string that Mosquitto allows once: a second line is
// an error there too.
func configText(field func(*Config) *string, accepted string) func(*target, *value) error {
	return func(t *target, v *value) error {
		return setOnce(field(t.p.cfg), v, accepted, "")
	}
}

func listenerText(field func(*Listener) *string, accepted string) func(*target, *value) error {
	return func(t *target, v *value) error {
		return setOnce(field(t.listener()), v, accepted, " for this listener")
	}
}

func listenerBool(field func(*Listener) *bool) func(*target, *value) error {
	return func(t *target, v *value) error {
		b, err := v.boolean()
		if err == nil {
			*field(t.listener()) = b
		}
		return err
	}
}

func listenerWord(field func(*Listener) *string, values ...string) func(*target, *value) error {
	return func(t *target, v *value) error {
		w, err := v.oneOf(values...)
		if err == nil {
			*field(t.listener()) = w
		}
		return err
	}
}

func listenerInt(field func(*Listener) *int, lo, hi int64, accepted string) func(*target, *value) error {
	return func(t *target, v *value) error {
		n, err := v.integer(lo, hi, accepted)
		if err == nil {
			*field(t.listener()) = int(n)
		}
		return err
	}
}

func securityText(field func(*Security) *string, accepted string) func(*target, *value) error {
	return func(t *target, v *value) error {
		return setOnce(field(t.security()), v, accepted, scopeWords(t))
	}
}

func securityBool(field func(*Security) **bool) func(*target, *value) error {
	return func(t *target, v *value) error {
		b, err := v.boolean()
		if err == nil {
			*field(t.security()) = &b
		}
		return err
	}
}

func scopeWords(t *target) string {
	if t.p.cfg.PerListenerSettings {
		return " for this listener"
	}
	return ""
}

func setOnce(field *string, v *value, accepted, scope string) error {
	s, err := v.text(accepted)
	if err != nil {
		return err
	}
	return setOnceTo(field, s, v, scope)
}

// setOnceTo sets field to s, the value read from v, unless an earlier line
// set it.
func setOnceTo(field *string, s string, v *value, scope string) error {
	if *field != "" {
		return fmt.Errorf("%s: set twice%s (accepted: one %s line%s, as in Mosquitto)", v.option, scope, v.option, scope)
	}
	*field = s
	return nil
}
