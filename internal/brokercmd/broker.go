package brokercmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/config"
	"github.com/midge-mqtt/midge/internal/listener"
)

// Run runs `midge broker`: mosquitto's command line (-c, -p, -v) and,
// without a configuration file, its local-only default.
func Run(ctx context.Context, args []string, stdio Stdio) int {
	return RunWithReload(ctx, args, stdio, nil)
}

// RunWithReload is Run with a channel that asks for a reload (cmd/midge
// sends on it for SIGHUP): the password file, the ACL file and TLS
// certificates are read again without dropping connections.
func RunWithReload(ctx context.Context, args []string, stdio Stdio, reload <-chan struct{}) int {
	fs := flag.NewFlagSet("midge broker", flag.ContinueOnError)
	fs.SetOutput(stdio.Err)
	var configFile string
	var ports portList
	var verbose bool
	var logFormat string
	fs.StringVar(&configFile, "c", "", "")
	fs.StringVar(&configFile, "config-file", "", "")
	fs.Var(&ports, "p", "")
	fs.Var(&ports, "port", "")
	fs.BoolVar(&verbose, "v", false, "")
	fs.BoolVar(&verbose, "verbose", false, "")
	fs.StringVar(&logFormat, "log-format", "text", "")
	var version, options bool
	fs.BoolVar(&version, "version", false, "")
	fs.BoolVar(&options, "options", false, "")
	fs.Usage = func() {} // --help goes to stdout, a usage error's text to stderr: below
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdio.Out, brokerUsage)
			return 0
		}
		fmt.Fprint(stdio.Err, brokerUsage)
		return 3
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stdio.Err, "Error: unknown argument %q.\n", fs.Arg(0))
		fmt.Fprint(stdio.Err, brokerUsage)
		return 3
	}
	switch {
	case version:
		fmt.Fprintln(stdio.Out, VersionLine())
		return 0
	case options:
		if err := printOptions(stdio.Out); err != nil {
			return 1
		}
		return 0
	}

	if logFormat != "text" && logFormat != "json" {
		fmt.Fprintf(stdio.Err, "Error: --log-format %q: accepted: text, json.\n", logFormat)
		return 3
	}

	cfg := &config.Config{}
	if configFile != "" {
		var err error
		if cfg, err = config.Load(configFile); err != nil {
			fmt.Fprintf(stdio.Err, "Error: %v\n", err)
			return 3
		}
	}
	blog, err := newBrokerLog(cfg, verbose, logFormat == "json", stdio.Out, stdio.Err)
	if err != nil {
		fmt.Fprintf(stdio.Err, "Error: %v\n", err)
		return 3
	}
	defer blog.Close()
	log := blog.Logger
	log.Info("midge version " + Version + " starting")
	if configFile != "" {
		log.Info("Config loaded from " + configFile + ".")
	} else {
		log.Info("Using default config.")
	}
	for _, w := range cfg.Warnings {
		log.Warn(w.String())
	}

	plan, err := planListeners(cfg, ports, log)
	if err != nil {
		fmt.Fprintf(stdio.Err, "Error: %v\n", err)
		return 3
	}
	sec, err := loadSecurity(plan.cfg, plan.allowAnonymous)
	if err != nil {
		fmt.Fprintf(stdio.Err, "Error: %v\n", err)
		return 3
	}
	opts := broker.Options{Logger: log, Version: Version}
	sec.options(&opts)
	if err := applyLimits(&opts, plan.cfg); err != nil {
		fmt.Fprintf(stdio.Err, "Error: %v\n", err)
		return 3
	}
	for i := range plan.addrs {
		a := &plan.addrs[i]
		if a.tls, err = sec.listenerTLS(a.cfg, log); err != nil {
			fmt.Fprintf(stdio.Err, "Error: %v\n", err)
			return 3
		}
	}
	warnIfOpen(plan, sec, log)
	bridgePlans, err := planBridges(plan.cfg, log)
	if err != nil {
		fmt.Fprintf(stdio.Err, "Error: %v\n", err)
		return 3
	}
	bridges := newBridgeSet(log)
	opts.SysFigures = bridges.sysFigures
	// The store before the pid file: a second broker started on a store in
	// use must not overwrite, then remove, the running one's pid file.
	st, err := openStore(cfg, log)
	if err != nil {
		fmt.Fprintf(stdio.Err, "Error: %v\n", err)
		return 1
	}
	if st != nil {
		opts.Store = st
		defer func() {
			if err := st.Close(); err != nil {
				log.Error(fmt.Sprintf("Closing the store failed: %v.", err))
			}
		}()
	}
	removePID, err := writePIDFile(cfg.PIDFile)
	if err != nil {
		fmt.Fprintf(stdio.Err, "Error: %v\n", err)
		return 1
	}
	defer removePID()
	srv, err := broker.Open(opts)
	if err != nil {
		fmt.Fprintf(stdio.Err, "Error: %v\n", restoreError(err, storeDir(cfg)))
		return 1
	}
	if st != nil {
		log.Info(restoredLine(srv.Restored(), storeDir(cfg)))
	}
	r := &reloader{configFile: configFile, log: blog, sec: sec, srv: srv, bridges: bridges}
	started := func() { bridges.start(srv, bridgePlans) }
	return serveUntilDone(ctx, srv, plan, sec, reload, r.reload, started, bridges.stop, log)
}

// warnIfOpen warns about a listener reachable from the network that admits
// anyone: anonymous access on, and no password file to check user names.
func warnIfOpen(plan listenPlan, sec *security, log *slog.Logger) {
	warned := map[*config.Listener]bool{} // once, not once per address family
	for _, a := range plan.addrs {
		if warned[a.cfg] {
			continue
		}
		if ls := sec.forListener(a.cfg); !ls.allowAnonymous.Load() || ls.passwords != nil {
			continue
		}
		if a.cfg == nil || a.network == "unix" || a.cfg.UseIdentityAsUsername || a.cfg.UseSubjectAsUsername {
			continue
		}
		host, _, _ := net.SplitHostPort(a.address)
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() || host == "localhost" {
			continue
		}
		warned[a.cfg] = true
		log.Warn(fmt.Sprintf("%s:%d: listener %d is open to the network with allow_anonymous true and no password_file: "+
			"anyone who can reach it may publish and subscribe. Add users with `midge passwd` and a password_file line.",
			a.cfg.File, a.cfg.Line, a.cfg.Port))
	}
}

// listenPlan is what the broker will listen on and whom it admits.
type listenPlan struct {
	addrs          []listenAddr
	allowAnonymous bool
	cfg            *config.Config
}

type listenAddr struct {
	network, address string
	optional         bool             // failing to bind it only warns (IPv6 missing)
	cfg              *config.Listener // nil for the local-only default
	tls              *listener.TLS    // nil for plain TCP
}

// planListeners applies Mosquitto's rules: with no listener configured the
// broker binds loopback only and admits anonymous clients; any listener
// turns anonymous access off unless the file allows it.
func planListeners(cfg *config.Config, ports []int, log *slog.Logger) (listenPlan, error) {
	if len(cfg.Listeners) == 0 {
		if len(ports) == 0 {
			ports = []int{1883}
		}
		plan := listenPlan{allowAnonymous: cfg.AllowAnonymous == nil || *cfg.AllowAnonymous, cfg: cfg}
		for _, p := range ports {
			port := strconv.Itoa(p)
			plan.addrs = append(plan.addrs,
				listenAddr{network: "tcp4", address: net.JoinHostPort("127.0.0.1", port)},
				listenAddr{network: "tcp6", address: net.JoinHostPort("::1", port), optional: true})
		}
		advice := "Create a configuration file which defines a listener to allow remote access " +
			"(for example `listener 1883` and `allow_anonymous true`), and start with -c FILE."
		if len(cfg.Files) > 0 {
			advice = "Define a listener in " + cfg.Files[0] + " to allow remote access " +
				"(for example `listener 1883` and `allow_anonymous true`)."
		}
		log.Info("Starting in local only mode. Connections will only be possible from clients running on this machine. " + advice)
		return plan, nil
	}
	if len(ports) > 0 {
		log.Warn("-p is ignored because the configuration file defines listeners.")
	}
	plan := listenPlan{allowAnonymous: cfg.AllowAnonymous != nil && *cfg.AllowAnonymous, cfg: cfg}
	for i := range cfg.Listeners {
		l := &cfg.Listeners[i]
		if l.HTTPDir != "" && l.Protocol != "websockets" {
			return listenPlan{}, fmt.Errorf("%s:%d: http_dir needs `protocol websockets` on listener %d", l.File, l.Line, l.Port)
		}
		port := strconv.Itoa(l.Port)
		switch {
		case l.Unix():
			plan.addrs = append(plan.addrs, listenAddr{network: "unix", address: l.Address, cfg: l})
			continue
		case l.BindInterface != "":
			addrs, err := interfaceAddrs(l)
			if err != nil {
				return listenPlan{}, err
			}
			plan.addrs = append(plan.addrs, addrs...)
			continue
		case l.Address == "" && l.SocketDomain == "ipv4":
			plan.addrs = append(plan.addrs, listenAddr{network: "tcp4", address: net.JoinHostPort("0.0.0.0", port), cfg: l})
			continue
		case l.Address == "" && l.SocketDomain == "ipv6":
			plan.addrs = append(plan.addrs, listenAddr{network: "tcp6", address: net.JoinHostPort("::", port), cfg: l})
			continue
		case l.Address == "":
			plan.addrs = append(plan.addrs,
				listenAddr{network: "tcp4", address: net.JoinHostPort("0.0.0.0", port), cfg: l},
				listenAddr{network: "tcp6", address: net.JoinHostPort("::", port), optional: true, cfg: l})
			continue
		}
		plan.addrs = append(plan.addrs, listenAddr{network: "tcp", address: net.JoinHostPort(l.Address, port), cfg: l})
	}
	if !cfg.PerListenerSettings && !plan.allowAnonymous && cfg.PasswordFile == "" {
		log.Info("allow_anonymous is false and no password_file is configured: only clients with certificate " +
			"identities (use_identity_as_username) can connect.")
	}
	return plan, nil
}

// serveUntilDone binds every address, calls started (the bridges start),
// serves until ctx ends, then calls stopping (the bridges stop) and shuts
// the broker down cleanly.
func serveUntilDone(ctx context.Context, srv *broker.Server, plan listenPlan, sec *security,
	reload <-chan struct{}, onReload, started, stopping func(), log *slog.Logger) int {
	type bound struct {
		l net.Listener
		a listenAddr
	}
	var listeners []bound
	for _, a := range plan.addrs {
		if a.network == "unix" {
			removeStaleSocket(a.address)
		}
		l, err := net.Listen(a.network, a.address)
		if err != nil {
			if a.optional {
				log.Warn(fmt.Sprintf("Not listening on %s: %v.", a.address, err))
				continue
			}
			log.Error(fmt.Sprintf("Error: cannot listen on %s: %v.", a.address, err))
			for _, b := range listeners {
				b.l.Close()
			}
			return 1
		}
		kind := ""
		l = wrapTLS(l, a.tls)
		if a.cfg != nil && a.cfg.Protocol == "websockets" {
			ws, err := listener.WebSocket(l, listener.WebSocketOptions{HTTPDir: a.cfg.HTTPDir, Logger: log})
			if err != nil {
				log.Error("Error: " + listenerError(a.cfg, err).Error())
				l.Close()
				for _, b := range listeners {
					b.l.Close()
				}
				return 1
			}
			l, kind = ws, "websockets"
		}
		log.Info(listenLine(l.Addr(), kind, a.tls != nil))
		listeners = append(listeners, bound{l, a})
	}
	log.Info("midge version " + Version + " running")
	started()
	var wg sync.WaitGroup
	errs := make(chan error, len(listeners))
	for _, b := range listeners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := srv.ServeWith(b.l, sec.listenerOptions(b.a.cfg, b.a.tls))
			if !errors.Is(err, broker.ErrServerClosed) {
				errs <- err
			}
		}()
	}
	status := 0
wait:
	for {
		select {
		case <-ctx.Done():
			log.Info("midge version " + Version + " terminating")
			break wait
		case <-reload:
			log.Info("Reloading config.")
			onReload()
		case err := <-errs:
			log.Error(fmt.Sprintf("Error: a listener failed: %v.", err))
			status = 1
			break wait
		}
	}
	stopping()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(shutdownCtx)
	wg.Wait()
	return status
}

// listenLine is Mosquitto's line for a listener opened: "Opening ipv4
// listen socket on port 1883.", here with the address when it is not every
// interface's, and "with TLS" for a TLS listener.
func listenLine(addr net.Addr, kind string, tls bool) string {
	where := addr.String()
	if ta, ok := addr.(*net.TCPAddr); ok {
		family := "ipv6"
		if ta.IP.To4() != nil {
			family = "ipv4"
		}
		if kind == "" {
			kind = family
		} else {
			kind += " " + family
		}
		where = "port " + strconv.Itoa(ta.Port)
		if !ta.IP.IsUnspecified() {
			where += " of " + ta.IP.String()
		}
	} else if _, ok := addr.(*net.UnixAddr); ok {
		kind, where = "unix", "path "+addr.String()
	}
	line := "Opening " + kind + " listen socket on " + where
	if tls {
		line += " with TLS"
	}
	return line + "."
}

// portList collects repeated -p flags.
type portList []int

func (p *portList) String() string { return fmt.Sprint([]int(*p)) }

func (p *portList) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("invalid port %q", s)
	}
	if len(*p) == 10 {
		return errors.New("at most 10 ports")
	}
	*p = append(*p, n)
	return nil
}

var brokerUsage = strings.TrimLeft(`
midge broker: an MQTT 3.1, 3.1.1 and 5.0 broker.

Usage: midge broker [-c config_file] [-p port] [-v] [--log-format FMT]
       midge broker --options | --version | --help

 -c, --config-file : read the configuration from a file (mosquitto.conf format).
                     Without one, midge listens on port 1883 of 127.0.0.1 and ::1 only
                     and admits anonymous clients.
 -p, --port        : listen on this port of the loopback addresses (up to 10 times);
                     ignored when the configuration file defines listeners.
 -v, --verbose     : log everything, debug messages included (log_type all).
 --log-format FMT  : text (Mosquitto's log lines, the default) or json.
 --options         : list every mosquitto.conf option with what midge does with it
                     (implemented, warning, refused) and its default, then exit.
 --version         : print midge's version, commit and Go version.
 -h, --help        : show this help.
`, "\n")
