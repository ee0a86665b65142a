//go:build linux

// Command kvchoice measures the candidate key-value stores for midge's
// persistence (bbolt, pebble v1, pebble v2) on the write pattern of QoS 1
// messages to offline persistent sessions, with acks after a grouped sync
// or with a sync every second, and on a restart with a million retained
// messages; it cross-builds a tiny program with each store and writes a
// Markdown report. Every measurement runs in a child process of its own.
// See README.md.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// options are the driver's flags.
type options struct {
	suites        []string
	stores        []string
	restartStores []string
	groups        []string
	publishers    []int
	subscribers   []int
	payloads      []int
	reps          int
	messages      int
	duration      time.Duration
	retained      int
	sessions      int
	subscriptions int
	dir           string
	output        string
	report        string
	runLimit      time.Duration
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run() error {
	var o options
	suites := flag.String("suite", "disk,sync,interval,restart,cross", "comma-separated: disk, sync, interval, restart, cross")
	stores := flag.String("stores", strings.Join(storeNames, ","), "stores to measure")
	restartStores := flag.String("restart-stores", "bbolt,bbolt-freelist,pebble,pebble2", "stores for the restart suite")
	groups := flag.String("groups", "own,store", "grouping of concurrent writers: own (midge's goroutine), store (the store's facility)")
	publishers := flag.String("publishers", "1,8,64", "concurrent publishers")
	subscribers := flag.String("subscribers", "1,10", "offline persistent subscribers per message")
	payloads := flag.String("payloads", "64,1024", "payload sizes in bytes")
	flag.IntVar(&o.reps, "reps", 3, "runs of each configuration (the report shows medians)")
	flag.IntVar(&o.messages, "messages", 1_000_000, "most messages per publish run")
	flag.DurationVar(&o.duration, "duration", 3*time.Second, "longest publish phase per run")
	flag.IntVar(&o.retained, "retained", 1_000_000, "retained messages for the restart")
	flag.IntVar(&o.sessions, "sessions", 10_000, "persistent sessions for the restart")
	flag.IntVar(&o.subscriptions, "subscriptions", 5, "subscriptions per session")
	flag.StringVar(&o.dir, "dir", "/tmp/kvchoice", "data directory (created and removed)")
	flag.StringVar(&o.output, "o", "results.jsonl", "raw results, one JSON object a line")
	flag.StringVar(&o.report, "report", "report.md", "Markdown report")
	flag.DurationVar(&o.runLimit, "run-limit", 5*time.Minute, "longest a single run may take")
	reportOnly := flag.Bool("report-only", false, "only write the report from the raw results in -o")
	childKind := flag.String("child-kind", "", "internal: publish, load or open")
	childConfig := flag.String("child", "", "internal: the configuration of one run, as JSON")
	flag.Parse()
	if *childKind != "" {
		return runChild(*childKind, *childConfig)
	}
	o.suites = strings.Split(*suites, ",")
	o.stores = strings.Split(*stores, ",")
	o.restartStores = strings.Split(*restartStores, ",")
	o.groups = strings.Split(*groups, ",")
	var err error
	if o.publishers, err = parseInts(*publishers); err != nil {
		return err
	}
	if o.subscribers, err = parseInts(*subscribers); err != nil {
		return err
	}
	if o.payloads, err = parseInts(*payloads); err != nil {
		return err
	}
	if *reportOnly {
		return writeReport(o)
	}
	if err := drive(o); err != nil {
		return err
	}
	return writeReport(o)
}

func parseInts(list string) ([]int, error) {
	var values []int
	for _, field := range strings.Split(list, ",") {
		value, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil {
			return nil, fmt.Errorf("kvchoice: %q is not a number", field)
		}
		values = append(values, value)
	}
	return values, nil
}

// record is one line of the raw results.
type record struct {
	Kind    string          `json:"kind"` // publish, load, open, disk, cross, deps
	Config  json.RawMessage `json:"config"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   string          `json:"error,omitempty"`
	Started time.Time       `json:"started"`
}

// drive runs every suite asked for and appends the raw results to o.output.
func drive(o options) error {
	if _, err := os.Stat(o.dir); err == nil {
		return fmt.Errorf("kvchoice: %s exists; remove it or pick another -dir", o.dir)
	}
	defer removeAll(o.dir)
	output, err := os.Create(o.output)
	if err != nil {
		return err
	}
	defer output.Close()
	encoder := json.NewEncoder(output)
	save := func(r record) error {
		if r.Error != "" {
			fmt.Fprintf(os.Stderr, "kvchoice: %s %s: %s\n", r.Kind, r.Config, r.Error)
		}
		return encoder.Encode(r)
	}
	machine, _ := json.Marshal(describeMachine(o.dir))
	if err := save(record{Kind: "machine", Config: machine, Started: time.Now()}); err != nil {
		return err
	}
	for _, suite := range o.suites {
		var err error
		switch suite {
		case "disk":
			err = driveDisk(o, save)
		case "sync", "interval":
			err = drivePublish(o, suite, save)
		case "restart":
			err = driveRestart(o, save)
		case "cross":
			err = driveCross(o, save)
		default:
			err = fmt.Errorf("kvchoice: unknown suite %q", suite)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// rotate gives the stores in a different order each rep, so that drift on
// the shared machine does not always favour the same one.
func rotate(stores []string, rep int) []string {
	shift := rep % len(stores)
	return append(slices.Clone(stores[shift:]), stores[:shift]...)
}

func drivePublish(o options, mode string, save func(record) error) error {
	total := o.reps * len(o.groups) * len(o.publishers) * len(o.subscribers) * len(o.payloads) * len(o.stores)
	done := 0
	for rep := range o.reps {
		for _, group := range o.groups {
			for _, publishers := range o.publishers {
				for _, subscribers := range o.subscribers {
					for _, payload := range o.payloads {
						for _, store := range rotate(o.stores, rep) {
							config := publishConfig{
								Store: store, Mode: mode, Group: group,
								Publishers: publishers, Subscribers: subscribers, Payload: payload,
								Messages: o.messages, Duration: o.duration, Rep: rep,
								Dir: filepath.Join(o.dir, store),
							}
							done++
							fmt.Fprintf(os.Stderr, "[%d/%d] %s %s group=%s P=%d S=%d payload=%d rep=%d\n",
								done, total, mode, store, group, publishers, subscribers, payload, rep+1)
							if err := save(runInChild(o, "publish", config, config.Dir)); err != nil {
								return err
							}
						}
					}
				}
			}
		}
	}
	return nil
}

func driveRestart(o options, save func(record) error) error {
	for rep := range o.reps {
		for _, store := range rotate(o.restartStores, rep) {
			config := restartConfig{
				Store: store, Retained: o.retained, Sessions: o.sessions, Subscriptions: o.subscriptions,
				Rep: rep, Dir: filepath.Join(o.dir, store),
			}
			fmt.Fprintf(os.Stderr, "restart %s rep=%d: load\n", store, rep+1)
			if err := os.MkdirAll(config.Dir, 0o755); err != nil {
				return err
			}
			load := runInChild(o, "load", config, "")
			if err := save(load); err != nil {
				return err
			}
			if load.Error == "" {
				for _, cold := range []bool{true, false} {
					config.Cold = cold
					fmt.Fprintf(os.Stderr, "restart %s rep=%d: open cold=%v\n", store, rep+1, cold)
					if err := save(runInChild(o, "open", config, "")); err != nil {
						return err
					}
				}
			}
			removeAll(config.Dir)
		}
	}
	return nil
}

// runInChild runs one measurement in a fresh process of this program. A
// non-empty fresh names a data directory to create before and remove after.
func runInChild(o options, kind string, config any, fresh string) record {
	encoded, _ := json.Marshal(config)
	r := record{Kind: kind, Config: encoded, Started: time.Now()}
	if fresh != "" {
		if err := os.MkdirAll(fresh, 0o755); err != nil {
			r.Error = err.Error()
			return r
		}
		defer removeAll(fresh)
	}
	executable, err := os.Executable()
	if err != nil {
		r.Error = err.Error()
		return r
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.runLimit)
	defer cancel()
	command := exec.CommandContext(ctx, executable, "-child-kind", kind, "-child", string(encoded))
	var stdout, stderr bytes.Buffer
	command.Stdout, command.Stderr = &stdout, &stderr
	if err := command.Run(); err != nil {
		r.Error = strings.TrimSpace(fmt.Sprintf("%v: %s", err, lastLines(stderr.String(), 5)))
		return r
	}
	r.Result = json.RawMessage(bytes.TrimSpace(stdout.Bytes()))
	return r
}

func lastLines(text string, count int) string {
	lines := strings.Split(strings.TrimSpace(text), "\n")
	return strings.Join(lines[max(0, len(lines)-count):], " | ")
}

// runChild is the child's side: one measurement, its result on stdout.
func runChild(kind, encoded string) error {
	var result any
	var err error
	switch kind {
	case "publish":
		var config publishConfig
		if err = json.Unmarshal([]byte(encoded), &config); err == nil {
			result, err = runPublish(config)
		}
	case "load":
		var config restartConfig
		if err = json.Unmarshal([]byte(encoded), &config); err == nil {
			result, err = runLoad(config)
		}
	case "open":
		var config restartConfig
		if err = json.Unmarshal([]byte(encoded), &config); err == nil {
			result, err = runOpen(config)
		}
	default:
		err = fmt.Errorf("kvchoice: unknown child kind %q", kind)
	}
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(result)
}
