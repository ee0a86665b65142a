package cli

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

// Version is midge's version, reported by the broker.
const Version = "0.1.0"

// Broker runs `midge broker`: mosquitto's command line (-c, -p, -v) and,
// without a configuration file, its local-only default.
func Broker(ctx context.Context, args []string, stdio Stdio) int {
	return BrokerWithReload(ctx, args, stdio, nil)
}

// BrokerWithReload is Broker with a channel that asks for a reload (cmd/midge
// sends on it for SIGHUP): the password file, the ACL file and TLS
// certificates are read again without dropping connections.
func BrokerWithReload(ctx context.Context, args []string, stdio Stdio, reload <-chan struct{}) int {
	fs := flag.NewFlagSet("midge broker", flag.ContinueOnError)
	fs.SetOutput(stdio.Err)
	var configFile string
	var ports portList
	var verbose bool
	fs.StringVar(&configFile, "c", "", "")
	fs.StringVar(&configFile, "config-file", "", "")
	fs.Var(&ports, "p", "")
	fs.Var(&ports, "port", "")
	fs.BoolVar(&verbose, "v", false, "")
	fs.BoolVar(&verbose, "verbose", false, "")
	fs.Usage = func() { fmt.Fprint(stdio.Err, brokerUsage) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 3
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stdio.Err, "Error: unknown argument %q.\n", fs.Arg(0))
		fs.Usage()
		return 3
	}

	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stdio.Err, &slog.HandlerOptions{Level: level}))

	plan, err := planListeners(configFile, ports, log)
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
	applyLimits(&opts, plan.cfg)
	for i := range plan.addrs {
		a := &plan.addrs[i]
		if a.tls, err = sec.listenerTLS(a.cfg, log); err != nil {
			fmt.Fprintf(stdio.Err, "Error: %v\n", err)
			return 3
		}
	}
	warnIfOpen(plan, sec, log)
	srv := broker.New(opts)
	log.Info("midge " + Version + " starting")
	return serveUntilDone(ctx, srv, plan, sec, reload, log)
}

// warnIfOpen warns about a listener reachable from the network that admits
// anyone: anonymous access on, and no password file to check user names.
func warnIfOpen(plan listenPlan, sec *security, log *slog.Logger) {
	if !sec.allowAnonymous || sec.passwords != nil {
		return
	}
	for _, a := range plan.addrs {
		if a.cfg == nil || a.cfg.UseIdentityAsUsername || a.cfg.UseSubjectAsUsername {
			continue
		}
		host, _, _ := net.SplitHostPort(a.address)
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() || host == "localhost" {
			continue
		}
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
func planListeners(configFile string, ports []int, log *slog.Logger) (listenPlan, error) {
	cfg := &config.Config{}
	if configFile != "" {
		var err error
		if cfg, err = config.Load(configFile); err != nil {
			return listenPlan{}, err
		}
	}
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
		log.Info("Starting in local only mode. Connections will only be possible from clients running on this machine. " +
			"Create a configuration file which defines a listener to allow remote access (for example `listener 1883` and `allow_anonymous true`), and start with -c FILE.")
		return plan, nil
	}
	if len(ports) > 0 {
		log.Warn("-p is ignored because the configuration file defines listeners")
	}
	plan := listenPlan{allowAnonymous: cfg.AllowAnonymous != nil && *cfg.AllowAnonymous, cfg: cfg}
	for i := range cfg.Listeners {
		l := &cfg.Listeners[i]
		port := strconv.Itoa(l.Port)
		if l.Address == "" {
			plan.addrs = append(plan.addrs,
				listenAddr{network: "tcp4", address: net.JoinHostPort("0.0.0.0", port), cfg: l},
				listenAddr{network: "tcp6", address: net.JoinHostPort("::", port), optional: true, cfg: l})
			continue
		}
		plan.addrs = append(plan.addrs, listenAddr{network: "tcp", address: net.JoinHostPort(l.Address, port), cfg: l})
	}
	if !plan.allowAnonymous && cfg.PasswordFile == "" {
		log.Info("allow_anonymous is false and no password file is configured: only clients with certificate " +
			"identities (use_identity_as_username) can connect")
	}
	return plan, nil
}

// applyLimits carries Mosquitto's limit options into broker options; 0
// means unlimited there.
func applyLimits(opts *broker.Options, cfg *config.Config) {
	if n := cfg.MaxInflightMessages; n != nil {
		opts.MaxInflight = *n
		if *n == 0 {
			opts.MaxInflight = 65535
		}
	}
	if n := cfg.MaxQueuedMessages; n != nil {
		opts.MaxQueued = *n
		if *n == 0 {
			opts.MaxQueued = -1
		}
	}
}

// serveUntilDone binds every address, serves until ctx ends, then shuts the
// broker down cleanly.
func serveUntilDone(ctx context.Context, srv *broker.Server, plan listenPlan, sec *security,
	reload <-chan struct{}, log *slog.Logger) int {
	type bound struct {
		l net.Listener
		a listenAddr
	}
	var listeners []bound
	for _, a := range plan.addrs {
		l, err := net.Listen(a.network, a.address)
		if err != nil {
			if a.optional {
				log.Warn("not listening on "+a.address, "err", err)
				continue
			}
			log.Error("cannot listen on "+a.address, "err", err)
			for _, b := range listeners {
				b.l.Close()
			}
			return 1
		}
		kind := ""
		if a.tls != nil {
			kind = " (TLS)"
		}
		log.Info("Opening listen socket on " + l.Addr().String() + kind)
		listeners = append(listeners, bound{l, a})
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(listeners))
	for _, b := range listeners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := srv.ServeWith(wrapTLS(b.l, b.a.tls), listenerOptions(b.a.cfg, b.a.tls))
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
			log.Info("midge " + Version + " terminating")
			break wait
		case <-reload:
			log.Info("reloading security files (SIGHUP)")
			sec.reload(log)
		case err := <-errs:
			log.Error("listener failed", "err", err)
			status = 1
			break wait
		}
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(shutdownCtx)
	wg.Wait()
	return status
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

Usage: midge broker [-c config_file] [-p port] [-v]

 -c, --config-file : read the configuration from a file (mosquitto.conf format).
                     Without one, midge listens on port 1883 of 127.0.0.1 and ::1 only
                     and admits anonymous clients.
 -p, --port        : listen on this port of the loopback addresses (up to 10 times);
                     ignored when the configuration file defines listeners.
 -v, --verbose     : log everything, debug messages included.
 -h, --help        : show this help.
`, "\n")
