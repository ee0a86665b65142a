package brokercmd

import (
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/bridge"
	"github.com/midge-mqtt/midge/internal/config"
)

// plannedBridge is a `connection` section read and checked.
type plannedBridge struct {
	cfg  config.Bridge
	opts bridge.Options
}

// planBridges checks every bridge of cfg before anything starts; the
// first bad one's error names its file and line.
func planBridges(cfg *config.Config, log *slog.Logger) ([]plannedBridge, error) {
	var plans []plannedBridge
	ids := map[string]string{}
	for i := range cfg.Bridges {
		c := &cfg.Bridges[i]
		o, err := bridgeOptions(c, log)
		if err != nil {
			return nil, err
		}
		if other, ok := ids[o.LocalClientID]; ok {
			return nil, fmt.Errorf("%s:%d: bridge %s: local_clientid %q is also bridge %s's; each bridge needs its own local session",
				c.File, c.Line, c.Name, o.LocalClientID, other)
		}
		ids[o.LocalClientID] = c.Name
		if n := cfg.MaxQueuedMessages; n != nil {
			o.MaxHeldQoS0 = unlimitedIfZero(*n)
		}
		plans = append(plans, plannedBridge{cfg: *c, opts: o})
	}
	return plans, nil
}

// bridgeSet runs the bridges: started once the listeners are open,
// stopped before the broker shuts down, and added, removed or changed on
// reload without touching the others.
type bridgeSet struct {
	log *slog.Logger

	mu      sync.Mutex
	srv     *broker.Server // nil until start
	running map[string]*runningBridge
	stopped bool
	waits   sync.WaitGroup // lazy reloads waiting for a connection to end
}

type runningBridge struct {
	cfg config.Bridge
	b   *bridge.Bridge
	// next is a changed configuration that bridge_reload_type lazy holds
	// until the bridge's connection ends.
	next *plannedBridge
}

func newBridgeSet(log *slog.Logger) *bridgeSet {
	return &bridgeSet{log: log, running: map[string]*runningBridge{}}
}

// start runs the planned bridges on srv and waits (up to 5s) until each
// has subscribed locally, so that the first clients the listeners accept
// find the bridges' subscriptions in place.
func (s *bridgeSet) start(srv *broker.Server, plans []plannedBridge) {
	s.mu.Lock()
	s.srv = srv
	var ready []<-chan struct{}
	for _, p := range plans {
		s.startLocked(p)
		ready = append(ready, s.running[p.cfg.Name].b.Ready())
	}
	s.mu.Unlock()
	timeout := time.After(5 * time.Second)
	for i, r := range ready {
		select {
		case <-r:
		case <-timeout:
			s.log.Warn(fmt.Sprintf("Bridge %s: its local side did not subscribe within 5s; clients are served anyway.", plans[i].cfg.Name))
			return
		}
	}
}

func (s *bridgeSet) startLocked(p plannedBridge) {
	s.running[p.cfg.Name] = &runningBridge{cfg: p.cfg, b: bridge.Start(s.srv, p.opts)}
}

// stop ends every bridge, keeping their local sessions for the next start.
func (s *bridgeSet) stop() {
	s.mu.Lock()
	s.stopped = true
	running := s.running
	s.running = map[string]*runningBridge{}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, r := range running {
		wg.Go(func() { r.b.Stop(false) })
	}
	wg.Wait()
	s.waits.Wait()
}

// apply changes the running bridges to plans: a bridge no longer
// configured stops and its local session ends; a new one starts; a
// changed one restarts, at once with bridge_reload_type immediate, or
// when its connection next ends with lazy (the default). An unchanged
// bridge is not touched.
func (s *bridgeSet) apply(plans []plannedBridge) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped || s.srv == nil {
		return
	}
	want := map[string]plannedBridge{}
	for _, p := range plans {
		want[p.cfg.Name] = p
	}
	for name, r := range s.running {
		if _, ok := want[name]; !ok {
			delete(s.running, name)
			r.b.Stop(true)
			s.log.Info("Bridge " + name + " removed.")
		}
	}
	for _, p := range plans {
		r, ok := s.running[p.cfg.Name]
		switch {
		case !ok:
			s.startLocked(p)
			s.log.Info("Bridge " + p.cfg.Name + " added.")
		case r.cfg.Same(&p.cfg):
			r.next = nil // a change undone before it applied
		case p.cfg.ReloadType == "immediate" || !r.b.Stats().Connected:
			s.restartLocked(r, p)
		default:
			waiting := r.next != nil
			r.next = &p
			if !waiting {
				s.log.Info("Bridge " + p.cfg.Name + " changed; the change applies when its connection ends (bridge_reload_type lazy).")
				s.waits.Go(func() { s.restartWhenDown(p.cfg.Name, r) })
			}
		}
	}
}

// restartLocked replaces r's bridge by one running p. The local session
// is kept when the local client id stays the same, with what it queued.
func (s *bridgeSet) restartLocked(r *runningBridge, p plannedBridge) {
	r.b.Stop(r.b.Options().LocalClientID != p.opts.LocalClientID)
	r.b, r.cfg, r.next = bridge.Start(s.srv, p.opts), p.cfg, nil
	s.log.Info("Bridge " + p.cfg.Name + " restarted with its new configuration.")
}

// restartWhenDown applies r.next once r's connection to its remote ends.
func (s *bridgeSet) restartWhenDown(name string, r *runningBridge) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for range tick.C {
		s.mu.Lock()
		if s.stopped || s.running[name] != r || r.next == nil {
			s.mu.Unlock()
			return
		}
		if !r.b.Stats().Connected {
			s.restartLocked(r, *r.next)
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
	}
}

// Stats reports each running bridge's state, by name.
func (s *bridgeSet) Stats() map[string]bridge.Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := make(map[string]bridge.Stats, len(s.running))
	for name, r := range s.running {
		st[name] = r.b.Stats()
	}
	return st
}

// sysFigures puts each bridge's state and counters in
// $SYS/broker/bridges/NAME/...; it is the broker's Options.SysFigures.
func (s *bridgeSet) sysFigures(put func(name, payload string)) {
	stats := s.Stats()
	names := make([]string, 0, len(stats))
	for name := range stats {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		st, prefix := stats[name], "bridges/"+sysName(name)+"/"
		connected := "0"
		if st.Connected {
			connected = "1"
		}
		put(prefix+"connected", connected)
		if st.Address != "" {
			put(prefix+"address", st.Address)
		}
		for _, f := range []struct {
			name string
			n    int64
		}{
			{"messages/out", st.MessagesOut}, {"messages/in", st.MessagesIn},
			{"bytes/out", st.BytesOut}, {"bytes/in", st.BytesIn},
			{"queued", st.Queued}, {"dropped", st.Dropped}, {"reconnects", st.Reconnects},
		} {
			put(prefix+f.name, strconv.FormatInt(f.n, 10))
		}
	}
}
