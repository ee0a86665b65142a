package broker

import "reflect"

// settings are the Options in force and the Security made from them.
type settings struct {
	Options
	security Security // for listeners without their own
}

func newSettings(opts Options) *settings {
	return &settings{Options: opts, security: Security{
		Authenticator: opts.Authenticator, EnhancedAuth: opts.EnhancedAuth, Authorizer: opts.Authorizer,
		NoEmptyClientID: opts.NoEmptyClientID, AutoIDPrefix: opts.AutoIDPrefix,
	}}
}

// o returns the settings in force: one atomic load.
func (s *Server) o() *settings { return s.cur.Load() }

// reloadable names the fields of Options that Reload applies: those a
// running broker can take without dropping a connection, as Mosquitto
// applies its configuration on SIGHUP. It is the one list; Reload and its
// tests read it.
var reloadable = []string{
	"MaxInflight", "MaxInflightBytes", "ReceiveMaximum",
	"MaxQueued", "MaxQueuedBytes", "QueueQoS0",
	"MessageSizeLimit", "MaxPacketSize", "MaxKeepAlive",
	"RetainUnavailable", "UpgradeOutgoingQoS",
	"PersistentClientExpiration", "NoRetainSourceCheck",
	"MemoryLimit", "MaxSubscriptions", "SysInterval",
	"NoEmptyClientID", "ClientIDPrefix", "AutoIDPrefix",
	"SessionTakeoverAnyUser",
}

// Reload applies the fields of opts named in reloadable; zero fields take
// their defaults, as in New. Connections stay up; limits that a connection
// takes when it connects (its in-flight window and receive maximum, its
// maximum packet size, its keep alive) apply to connections made from now
// on. Every other field (logger, authenticators, topic alias maximum,
// timeouts) stays as it was.
func (s *Server) Reload(opts Options) {
	opts = opts.withDefaults()
	old := s.o()
	next := *old
	to, from := reflect.ValueOf(&next.Options).Elem(), reflect.ValueOf(&opts).Elem()
	for _, name := range reloadable {
		to.FieldByName(name).Set(from.FieldByName(name))
	}
	o := &next.Options
	next.security.NoEmptyClientID, next.security.AutoIDPrefix = opts.NoEmptyClientID, opts.AutoIDPrefix
	s.cur.Store(&next)
	if o.MemoryLimit <= 0 {
		s.memory.over.Store(false)
	}
	s.startWatchers()
	s.refreshTracing()
}

// startWatchers starts the goroutines the settings in force ask for and
// that are not running yet: $SYS publishing and the memory limit's
// sampling. Before the first connection it does nothing; start calls it
// then.
func (s *Server) startWatchers() {
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	if !s.running {
		return
	}
	o := s.o()
	sys := !s.sysStarted && o.SysInterval > 0
	mem := !s.memStarted && o.MemoryLimit > 0
	if sys {
		s.sysStarted = s.startSys()
	}
	if mem {
		s.memStarted = s.spawnWhileOpen(func() { s.watchMemory(s.done) })
	}
}
