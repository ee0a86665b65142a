package brokercmd

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/config"
	"github.com/midge-mqtt/midge/internal/logging"
	"github.com/midge-mqtt/midge/internal/store"
)

// unlimitedIfZero is a Mosquitto count limit, where 0 means none.
func unlimitedIfZero(n int) int {
	if n == 0 {
		return broker.Unlimited
	}
	return n
}

// applyLimits carries Mosquitto's broker-wide options into broker options.
// Mosquitto spells no limit 0, where the broker's zero means its default:
// a 0 becomes broker.Unlimited.
func applyLimits(opts *broker.Options, cfg *config.Config) error {
	if n := cfg.MaxInflightMessages; n != nil {
		opts.MaxInflight = unlimitedIfZero(*n)
	}
	if n := cfg.MaxQueuedMessages; n != nil {
		opts.MaxQueued = unlimitedIfZero(*n)
	}
	setInt(&opts.MaxInflightBytes, cfg.MaxInflightBytes)
	setInt(&opts.MaxQueuedBytes, cfg.MaxQueuedBytes)
	setInt(&opts.MessageSizeLimit, cfg.MessageSizeLimit)
	setInt(&opts.MaxPacketSize, cfg.MaxPacketSize)
	if v := cfg.MaxKeepalive; v != nil {
		opts.MaxKeepAlive = uint16(min(max(*v, 0), 65535))
		if *v == 0 {
			opts.MaxKeepAlive = 65535
		}
	}
	if v := cfg.QueueQoS0Messages; v != nil {
		opts.QueueQoS0 = *v
	}
	if v := cfg.RetainAvailable; v != nil {
		opts.RetainUnavailable = !*v
	}
	if v := cfg.UpgradeOutgoingQoS; v != nil {
		opts.UpgradeOutgoingQoS = *v
	}
	if v := cfg.PersistentClientExpiration; v != nil {
		opts.PersistentClientExpiration = *v
	}
	if v := cfg.CheckRetainSource; v != nil {
		opts.NoRetainSourceCheck = !*v
	}
	if v := cfg.SessionTakeoverAnyUser; v != nil {
		opts.SessionTakeoverAnyUser = *v
	}
	if v := cfg.MemoryLimit; v != nil && *v > 0 {
		opts.MemoryLimit = *v
		// Collect garbage before the limit refuses messages.
		debug.SetMemoryLimit(*v)
	}
	if v := cfg.SysInterval; v != nil {
		opts.SysInterval = *v
		if *v == 0 {
			opts.SysInterval = -1
		}
	}
	if v := cfg.AllowZeroLengthClientID; v != nil {
		opts.NoEmptyClientID = !*v
	}
	if v := cfg.AutoIDPrefix; v != nil {
		opts.AutoIDPrefix = *v
	}
	opts.ClientIDPrefix = cfg.ClientIDPrefixes
	return topicAliasMaximum(opts, cfg)
}

func setInt(dst *int, v *int64) {
	if v != nil {
		*dst = int(*v)
	}
}

// topicAliasMaximum applies max_topic_alias and max_topic_alias_broker.
// Mosquitto sets them per listener; midge has one value of each for the
// broker, so listeners that disagree are refused rather than some of them
// silently getting another value.
func topicAliasMaximum(opts *broker.Options, cfg *config.Config) error {
	if len(cfg.Listeners) == 0 {
		return nil
	}
	first := &cfg.Listeners[0]
	for i := range cfg.Listeners {
		l := &cfg.Listeners[i]
		if l.MaxTopicAlias != first.MaxTopicAlias {
			return fmt.Errorf("%s:%d: max_topic_alias %d differs from listener %d's %d: midge takes one value for all listeners",
				l.File, l.Line, l.MaxTopicAlias, first.Port, first.MaxTopicAlias)
		}
		if l.MaxTopicAliasBroker != first.MaxTopicAliasBroker {
			return fmt.Errorf("%s:%d: max_topic_alias_broker %d differs from listener %d's %d: midge takes one value for all listeners",
				l.File, l.Line, l.MaxTopicAliasBroker, first.Port, first.MaxTopicAliasBroker)
		}
	}
	if n := first.MaxTopicAlias; n == 0 {
		opts.NoTopicAliases = true
	} else {
		opts.TopicAliasMaximum = uint16(min(n, 65535))
	}
	if n := first.MaxTopicAliasBroker; n == 0 {
		opts.NoBrokerTopicAliases = true
	} else {
		opts.BrokerTopicAliasMaximum = uint16(min(n, 65535))
	}
	return nil
}

// logSettings turns the configuration's logging options, and the -v and
// --log-format flags, into logging.Settings. Destinations midge cannot write
// to are left out and returned, to be warned about.
func logSettings(cfg *config.Config, verbose, json bool) (logging.Settings, []string) {
	s := logging.DefaultSettings()
	var skipped []string
	for _, d := range cfg.LogDests {
		switch d.Kind {
		case "topic", "dlt", "android":
			skipped = append(skipped, d.Kind)
			continue
		}
		s.Dests = append(s.Dests, logging.Dest{Kind: d.Kind, Path: d.Path})
	}
	if cfg.LogTypes != nil {
		s.Types = configLogTypes(*cfg.LogTypes)
	}
	if verbose {
		s.Types = []string{"all"}
	}
	if v := cfg.LogTimestamp; v != nil {
		s.Timestamp = *v
	}
	s.TimestampFormat = cfg.LogTimestampFormat
	if v := cfg.ConnectionMessages; v != nil {
		s.ConnectionMessages = *v
	}
	if v := cfg.LogFacility; v != nil {
		s.SyslogFacility = *v
	}
	s.JSON = json
	return s, skipped
}

var configLogTypeNames = []struct {
	t    config.LogType
	name string
}{
	{config.LogError, "error"}, {config.LogWarning, "warning"}, {config.LogNotice, "notice"},
	{config.LogInformation, "information"}, {config.LogDebug, "debug"}, {config.LogSubscribe, "subscribe"},
	{config.LogUnsubscribe, "unsubscribe"}, {config.LogWebsockets, "websockets"}, {config.LogInternal, "internal"},
}

func configLogTypes(set config.LogType) []string {
	var names []string
	for _, n := range configLogTypeNames {
		if set.Has(n.t) {
			names = append(names, n.name)
		}
	}
	if len(names) == 0 {
		return []string{"none"}
	}
	return names
}

// writePIDFile writes the process id to path, as Mosquitto's pid_file; the
// returned function removes it.
func writePIDFile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	if err := os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("pid_file: %w", err)
	}
	return func() { os.Remove(path) }, nil
}

// removeStaleSocket removes a Unix socket file left by an earlier run, as
// Mosquitto does; anything that is not a socket is left for Listen to
// refuse.
func removeStaleSocket(path string) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		os.Remove(path)
	}
}

// storeDir is where persistence keeps its store: persistence_file with
// ".midge" after it, in persistence_location. The name differs from
// Mosquitto's own file, which midge cannot read and leaves alone.
func storeDir(cfg *config.Config) string {
	return filepath.Join(cfg.PersistenceLocation, cmp.Or(cfg.PersistenceFile, "mosquitto.db")+".midge")
}

// openStore opens the store when persistence is on; nil when it is off.
// Its errors are sentences for the person starting the broker; only a
// store that is really damaged gets the advice to move it aside.
func openStore(cfg *config.Config, log *slog.Logger) (*store.Disk, error) {
	if cfg.Persistence == nil || !*cfg.Persistence {
		return nil, nil
	}
	var opts store.DiskOptions
	if cfg.PersistenceDurability == "interval" {
		opts.SyncInterval = 1800 * time.Second
		if v := cfg.AutosaveInterval; v != nil && *v > 0 {
			opts.SyncInterval = *v
		}
	}
	dir := storeDir(cfg)
	opts.Failed = func(err error) {
		log.Error("Persistence stopped: " + err.Error() + ". Acknowledgements that need the store now fail " +
			"(MQTT 5: 0x80) and nothing more is saved; clients stay connected. Stop the broker, then " +
			storeAdvice(err, dir))
	}
	opts.Notice = func(msg string) { log.Warn(msg) }
	st, err := store.OpenDisk(dir, opts)
	if err != nil {
		return nil, storeOpenError(cfg, dir, err)
	}
	mode := "every acknowledged message is on disk before its acknowledgement"
	if opts.SyncInterval > 0 {
		mode = fmt.Sprintf("synced every %v (persistence_durability interval)", opts.SyncInterval)
	}
	log.Info("Persistence in " + dir + ": " + mode + ".")
	return st, nil
}

// storeOpenError is the error of a store in dir that OpenDisk refused with
// err, for the person starting the broker.
func storeOpenError(cfg *config.Config, dir string, err error) error {
	var missing *store.MissingParentError
	switch {
	case errors.As(err, &missing):
		// The store's folder is made in persistence_location (the working
		// directory when unset) under persistence_file's name, which may
		// name folders of its own.
		option, value := "persistence_file", cfg.PersistenceFile
		if loc := cfg.PersistenceLocation; loc != "" && within(missing.Missing, loc) {
			option, value = "persistence_location", loc
		}
		return fmt.Errorf("%s %s: %s does not exist", option, value, missing.Missing)
	case errors.Is(err, store.ErrInUse):
		return fmt.Errorf("the store %s is in use by another midge process", dir)
	case errors.Is(err, store.ErrDiskFull):
		return fmt.Errorf("persistence: %w\nmidge needs free space beside its store to start: %s", err, storeAdvice(err, dir))
	case errors.Is(err, store.ErrDamaged):
		return fmt.Errorf("persistence: %w\nmidge does not start over a store it cannot read. To start with an empty one, "+
			"move %s aside (keep it: it may be recoverable)", err, dir)
	}
	return fmt.Errorf("persistence: %w", err)
}

// restoreError is the error of broker.Open restoring the store in dir.
func restoreError(err error, dir string) error {
	if errors.Is(err, broker.ErrStoreDamaged) || errors.Is(err, store.ErrDamaged) {
		return fmt.Errorf("%w\nmidge does not start over a store it cannot read fully. To start with an empty one, "+
			"move %s aside (keep it: it may be recoverable)", err, dir)
	}
	return fmt.Errorf("reading the store %s: %w", dir, err)
}

// restoredLine is the log line of what the broker restored from the store
// in dir.
func restoredLine(r broker.Restored, dir string) string {
	return fmt.Sprintf("Restored %s, %s and %s from %s.", plural(r.Sessions, "session"),
		plural(r.Retained, "retained message"), plural(r.Queued, "queued message"), dir)
}

// plural is n things: "1 session", "3 sessions".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return strconv.Itoa(n) + " " + thing + "s"
}

// within reports whether path is folder or one of the folders above it.
func within(path, folder string) bool {
	rel, err := filepath.Rel(path, folder)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// storeAdvice is what to do about a store that failed with err.
func storeAdvice(err error, dir string) string {
	if errors.Is(err, store.ErrDiskFull) {
		return "free space on the filesystem of " + dir + " and start it again."
	}
	return "move " + dir + " aside (keep it: it may be recoverable) and start it again with an empty store."
}
