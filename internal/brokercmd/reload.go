package brokercmd

import (
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/config"
	"github.com/midge-mqtt/midge/internal/logging"
)

// brokerLog is the broker's logger and where it writes; a reload replaces
// the destinations under the same logger.
type brokerLog struct {
	*slog.Logger
	swap           *logging.SwapHandler
	mu             sync.Mutex
	out            *logging.Output // guarded by mu
	verbose, json  bool
	stdout, stderr io.Writer
}

// newBrokerLog builds the logger the configuration asks for.
func newBrokerLog(cfg *config.Config, verbose, json bool, stdout, stderr io.Writer) (*brokerLog, error) {
	bl := &brokerLog{verbose: verbose, json: json, stdout: stdout, stderr: stderr}
	h, out, err := bl.build(cfg)
	if err != nil {
		return nil, err
	}
	bl.swap, bl.out = logging.NewSwapHandler(h), out
	bl.Logger = slog.New(bl.swap)
	return bl, nil
}

func (bl *brokerLog) build(cfg *config.Config) (slog.Handler, *logging.Output, error) {
	set, skipped := logSettings(cfg, bl.verbose, bl.json)
	l, out, err := logging.NewLogger(set, bl.stdout, bl.stderr)
	if err != nil {
		return nil, nil, err
	}
	for _, kind := range skipped {
		l.Warn(fmt.Sprintf("log_dest %s is not supported; those log lines go nowhere", kind))
	}
	return l.Handler(), out, nil
}

// reload applies the logging options of cfg, or reopens the log file when
// cfg is nil (no configuration file to read again).
func (bl *brokerLog) reload(cfg *config.Config) error {
	bl.mu.Lock()
	defer bl.mu.Unlock()
	if cfg == nil {
		return bl.out.Reopen()
	}
	h, out, err := bl.build(cfg)
	if err != nil {
		return err // the old destinations stay
	}
	bl.swap.Swap(h)
	old := bl.out
	bl.out = out
	return old.Close()
}

func (bl *brokerLog) Close() error {
	bl.mu.Lock()
	defer bl.mu.Unlock()
	return bl.out.Close()
}

// reloader re-reads the configuration file on SIGHUP and applies what
// Mosquitto applies then: logging, the limits and client identifier rules
// that can change, allow_anonymous, and the password, ACL and certificate
// files. Bridges are added, removed and changed (Mosquitto 2.0 cannot).
// Listeners, and which files are used, stay as they were started.
type reloader struct {
	configFile string
	log        *brokerLog
	sec        *security
	srv        *broker.Server
	bridges    *bridgeSet
}

func (r *reloader) reload() {
	log := r.log.Logger
	if r.configFile == "" {
		if err := r.log.reload(nil); err != nil {
			log.Error(fmt.Sprintf("Error: reopening the log file: %v.", err))
		}
		r.sec.reload(log)
		return
	}
	cfg, err := config.Load(r.configFile)
	if err != nil {
		log.Error(fmt.Sprintf("Error: %v; the running configuration stays in force.", err))
		return
	}
	if err := r.log.reload(cfg); err != nil {
		log.Error(fmt.Sprintf("Error: %v; the previous log settings stay in force.", err))
	}
	var opts broker.Options
	if err := applyLimits(&opts, cfg); err != nil {
		log.Error(fmt.Sprintf("Error: %v; the previous limits stay in force.", err))
	} else {
		r.srv.Reload(opts)
	}
	if len(cfg.Listeners) > 0 && !cfg.PerListenerSettings {
		r.sec.setAllowAnonymous(cfg.AllowAnonymous != nil && *cfg.AllowAnonymous)
	}
	r.sec.reload(log)
	if plans, err := planBridges(cfg, log); err != nil {
		log.Error(fmt.Sprintf("Error: %v; the running bridges stay as they are.", err))
	} else {
		r.bridges.apply(plans)
	}
	log.Info("Config reloaded from " + r.configFile + ".")
}
