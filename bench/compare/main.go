// Command compare runs `midge bench` against midge and its peers with
// equivalent settings, in alternation, and writes docs/benchmarks.md: the
// medians, the ratios of midge to each peer, and how they were measured.
//
// Run it from the repository root:
//
//	go run ./bench/compare                  # midge and mosquitto, 3 runs each
//	go run ./bench/compare -nats -mochi     # and nats-server and mochi-mqtt
//	go run ./bench/compare -quick           # 1 run each, smaller counts
//
// It starts every broker itself, on its own port of 127.0.0.1 with the
// settings in bench/*.conf, fresh for every run, and stops it by its PID.
// The load comes from this same program run again as `midge bench` (the
// -gen flag), so the commands in the report are exactly what ran.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/midge-mqtt/midge/internal/bench"
	"github.com/midge-mqtt/midge/internal/cli"
)

// options are compare's flags.
type options struct {
	out       string
	reps      int
	quick     bool
	nats      bool
	mochi     bool
	only      string
	conns     string
	runLimit  time.Duration
	logDir    string
	skipBuild bool
	render    string
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-gen" {
		os.Exit(generate(os.Args[2:]))
	}
	var o options
	flag.StringVar(&o.out, "o", "docs/benchmarks.md", "the report to write")
	flag.IntVar(&o.reps, "reps", 0, "runs per broker and scenario (default 3, or 1 with -quick)")
	flag.BoolVar(&o.quick, "quick", false, "one run each with a quarter of the messages")
	flag.BoolVar(&o.nats, "nats", false, "include nats-server "+natsModule+" in MQTT mode")
	flag.BoolVar(&o.mochi, "mochi", false, "include mochi-mqtt v2.7.9 (bench/mochi)")
	flag.StringVar(&o.only, "scenarios", "", "comma-separated scenario ids to run (default all): "+scenarioIDs())
	flag.StringVar(&o.conns, "conns", "10000,19000", "idle connection counts for scenario 5")
	flag.DurationVar(&o.runLimit, "run-limit", 3*time.Minute, "the longest one run may take")
	flag.StringVar(&o.logDir, "logs", "", "where broker logs go (default a temporary directory)")
	flag.BoolVar(&o.skipBuild, "no-build", false, "use the midge binary already in bench/.bin")
	flag.StringVar(&o.render, "render", "", "write the report from this results.json of an earlier run, running nothing")
	flag.Parse()
	if o.reps == 0 {
		o.reps = 3
		if o.quick {
			o.reps = 1
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if o.render != "" {
		root, _ := os.Getwd()
		err = render(root, o.render, o.out)
	} else {
		err = compare(ctx, o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// generate is the load generator: `midge bench` itself.
func generate(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return cli.Bench(ctx, args, cli.Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
}

func scenarioIDs() string {
	var ids []string
	for _, s := range scenarios(false, []int{10000, 19000}) {
		ids = append(ids, s.id)
	}
	return strings.Join(ids, ",")
}

// outcome is one run of one scenario against one broker.
type outcome struct {
	Res     *bench.Result       `json:"result"`
	Process bench.ProcessSample `json:"broker_totals"` // at the end of the run
	Err     string              `json:"error,omitempty"`
}

// compare prepares the brokers, runs every scenario, and writes the report.
func compare(ctx context.Context, o options) error {
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(root, "bench", "midge.conf")); err != nil {
		return errors.New("compare: run it from the repository root (go run ./bench/compare)")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if o.logDir == "" {
		if o.logDir, err = os.MkdirTemp("", "midge-compare-"); err != nil {
			return err
		}
	} else if err := os.MkdirAll(o.logDir, 0o755); err != nil {
		return err
	}
	brokers, err := prepare(o, root)
	if err != nil {
		return err
	}
	list := filterScenarios(scenarios(o.quick, parseConns(o.conns)), o.only)
	if len(list) == 0 {
		return errors.New("compare: no scenario selected")
	}
	report := &report{opts: o, brokers: brokers, scenarios: list, record: record{
		Quick: o.quick, Nats: o.nats, Mochi: o.mochi, Reps: o.reps, Only: o.only, Conns: o.conns,
		Started: time.Now(), Machine: thisMachine(),
		Results: map[string]map[string][]outcome{}, Versions: map[string]string{}, Notes: map[string]string{},
	}}
	for _, p := range brokers {
		report.Versions[p.name] = p.version(root)
		report.Notes[p.name] = p.note
	}
	run := 0
	for _, s := range list {
		report.Results[s.id] = map[string][]outcome{}
		for rep := range o.reps {
			for _, p := range brokers {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				run++
				fmt.Fprintf(os.Stderr, "compare: %s, run %d of %d, %s\n", s.id, rep+1, o.reps, p.name)
				out := runOnce(ctx, o, root, self, p, s, run)
				if out.Err != "" {
					fmt.Fprintf(os.Stderr, "compare:   %s\n", out.Err)
				}
				report.Results[s.id][p.name] = append(report.Results[s.id][p.name], out)
				time.Sleep(500 * time.Millisecond) // let the loopback settle
			}
		}
	}
	report.Finished = time.Now()
	raw, err := json.MarshalIndent(report.record, "", "  ")
	if err != nil {
		return err
	}
	saved := filepath.Join(o.logDir, "results.json")
	if err := os.WriteFile(saved, raw, 0o644); err != nil {
		return err
	}
	if err := writeReport(report, root, o.out); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "compare: wrote %s; results and broker logs in %s\n", o.out, o.logDir)
	return nil
}

// writeReport renders report into out (relative to root unless absolute).
func writeReport(report *report, root, out string) error {
	var doc bytes.Buffer
	report.write(&doc, root)
	if !filepath.IsAbs(out) {
		out = filepath.Join(root, out)
	}
	return os.WriteFile(out, doc.Bytes(), 0o644)
}

// render writes the report again from a results.json that compare saved.
func render(root, saved, out string) error {
	raw, err := os.ReadFile(saved)
	if err != nil {
		return err
	}
	var rec record
	if err := json.Unmarshal(raw, &rec); err != nil {
		return err
	}
	o := options{quick: rec.Quick, nats: rec.Nats, mochi: rec.Mochi, reps: rec.Reps, only: rec.Only, conns: rec.Conns}
	report := &report{opts: o, brokers: selectPeers(o), scenarios: filterScenarios(scenarios(o.quick, parseConns(o.conns)), o.only), record: rec}
	return writeReport(report, root, out)
}

func parseConns(list string) []int {
	var conns []int
	for _, field := range strings.Split(list, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(field)); err == nil && n > 0 {
			conns = append(conns, n)
		}
	}
	return conns
}

// prepare builds or installs the brokers of the comparison and fits
// midge's configuration to what its reader accepts.
func prepare(o options, root string) ([]*peer, error) {
	brokers := selectPeers(o)
	for _, p := range brokers {
		if p.name == "midge" && o.skipBuild {
			continue
		}
		if err := p.prepare(root); err != nil {
			return nil, err
		}
	}
	if err := fitConfig(root, brokers[0], o.logDir, "listener", "allow_anonymous"); err != nil {
		return nil, err
	}
	return brokers, nil
}

func selectPeers(o options) []*peer {
	var list []*peer
	for _, p := range peers() {
		if (p.name == "nats" && !o.nats) || (p.name == "mochi" && !o.mochi) {
			continue
		}
		list = append(list, p)
	}
	return list
}

func filterScenarios(list []scenario, only string) []scenario {
	if only == "" {
		return list
	}
	want := map[string]bool{}
	for _, id := range strings.Split(only, ",") {
		want[strings.TrimSpace(id)] = true
	}
	var out []scenario
	for _, s := range list {
		if want[s.id] {
			out = append(out, s)
		}
	}
	return out
}

// benchArgs returns the generator's arguments for s against p.
func benchArgs(s scenario, p *peer, pid, run int) []string {
	args := append([]string{}, s.args...)
	args = append(args, "-h", "127.0.0.1", "-p", strconv.Itoa(p.port), "-V", "311")
	if s.kind == kindConn {
		// A fresh block of source addresses for each run, so that ports
		// left in TIME_WAIT by the last run are never in the way.
		args = append(args, "--source-base", fmt.Sprintf("127.%d.0.2", 1+run%250))
	}
	return append(args, "--pid", strconv.Itoa(pid), "--json", "--quiet")
}

// runOnce starts p, runs s against it, reads the broker's totals, and stops it.
func runOnce(ctx context.Context, o options, root, self string, p *peer, s scenario, run int) outcome {
	b, err := start(root, p, o.logDir)
	if err != nil {
		return outcome{Err: err.Error()}
	}
	defer b.stop()
	ctx, cancel := context.WithTimeout(ctx, o.runLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, self, append([]string{"-gen"}, benchArgs(s, p, b.pid(), run)...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var out outcome
	out.Process, _ = bench.SampleProcess(b.pid())
	if err != nil {
		out.Err = fmt.Sprintf("midge bench failed: %v: %s", err, strings.TrimSpace(stderr.String()))
		return out
	}
	out.Res = new(bench.Result)
	if err := json.Unmarshal(stdout.Bytes(), out.Res); err != nil {
		out.Res, out.Err = nil, fmt.Sprintf("unreadable result: %v", err)
	}
	return out
}
