package broker

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

// Reload applies the options of opts that may change while the broker runs,
// as Mosquitto applies its configuration on SIGHUP: the in-flight and queue
// limits, message_size_limit, max_packet_size, max_keepalive,
// queue_qos0_messages, retain_available, upgrade_outgoing_qos,
// persistent_client_expiration, check_retain_source, memory_limit,
// max_subscriptions, sys_interval, the client identifier rules and
// session_takeover_any_user. Zero
// fields take their defaults, as in New. Connections stay up; limits that a
// connection takes when it connects (its in-flight window and receive
// maximum, its maximum packet size, its keep alive) apply to connections
// made from now on. Everything else (logger, authenticators, topic alias
// maximum, timeouts) stays as it was.
func (s *Server) Reload(opts Options) {
	opts = opts.withDefaults()
	old := s.o()
	next := *old
	o := &next.Options
	o.MaxInflight, o.MaxInflightBytes, o.ReceiveMaximum = opts.MaxInflight, opts.MaxInflightBytes, opts.ReceiveMaximum
	o.MaxQueued, o.MaxQueuedBytes, o.QueueQoS0 = opts.MaxQueued, opts.MaxQueuedBytes, opts.QueueQoS0
	o.MessageSizeLimit, o.MaxPacketSize, o.MaxKeepAlive = opts.MessageSizeLimit, opts.MaxPacketSize, opts.MaxKeepAlive
	o.RetainUnavailable, o.UpgradeOutgoingQoS = opts.RetainUnavailable, opts.UpgradeOutgoingQoS
	o.PersistentClientExpiration, o.NoRetainSourceCheck = opts.PersistentClientExpiration, opts.NoRetainSourceCheck
	o.MemoryLimit, o.MaxSubscriptions, o.SysInterval = opts.MemoryLimit, opts.MaxSubscriptions, opts.SysInterval
	o.NoEmptyClientID, o.ClientIDPrefix, o.AutoIDPrefix = opts.NoEmptyClientID, opts.ClientIDPrefix, opts.AutoIDPrefix
	o.SessionTakeoverAnyUser = opts.SessionTakeoverAnyUser
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
	s.mu.Lock() // no new goroutine once Shutdown waits for them
	if s.closing {
		s.mu.Unlock()
		return
	}
	if sys {
		s.sysStarted = true
		s.wg.Add(1)
	}
	if mem {
		s.memStarted = true
		s.wg.Add(1)
	}
	s.mu.Unlock()
	if sys {
		s.startSys() // its goroutine calls wg.Done
	}
	if mem {
		go func() {
			defer s.wg.Done()
			s.watchMemory(s.done)
		}()
	}
}
