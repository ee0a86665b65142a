package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/midge-mqtt/midge/internal/bench"
)

// report gathers the outcomes and writes docs/benchmarks.md.
type report struct {
	opts      options
	brokers   []*peer
	scenarios []scenario
	record
}

// record is what a comparison measured, saved as results.json so that the
// report can be written again (-render) without running anything.
type record struct {
	Quick    bool                            `json:"quick"`
	Nats     bool                            `json:"nats"`
	Mochi    bool                            `json:"mochi"`
	Reps     int                             `json:"reps"`
	Only     string                          `json:"scenarios"`
	Conns    string                          `json:"conns"`
	Started  time.Time                       `json:"started"`
	Finished time.Time                       `json:"finished"`
	Machine  machine                         `json:"machine"`
	Versions map[string]string               `json:"versions"`
	Notes    map[string]string               `json:"notes"`   // broker -> why its configuration was cut
	Results  map[string]map[string][]outcome `json:"results"` // scenario id -> broker -> runs
}

// machine describes where the comparison ran.
type machine struct {
	CPU    string `json:"cpu"`
	NumCPU int    `json:"nproc"`
	Memory string `json:"memory"`
	Kernel string `json:"kernel"`
	Go     string `json:"go"`
}

func thisMachine() machine {
	return machine{CPU: cpuModel(), NumCPU: runtime.NumCPU(), Memory: memTotal(),
		Kernel: readTrim("/proc/sys/kernel/osrelease"), Go: runtime.Version()}
}

// measure is one column: how to read it from a run and how to sum up runs.
type measure struct {
	name   string
	get    func(r *bench.Result, p bench.ProcessSample) float64
	worst  bool // report the worst run instead of the median: the largest, or with lower false the smallest
	digits int
	lower  bool // lower is better (for the summary's reading)
}

func brokerOf(r *bench.Result) *bench.BrokerUsage {
	if r.BrokerProcess == nil {
		return &bench.BrokerUsage{}
	}
	return r.BrokerProcess
}

var (
	mReceived  = measure{name: "received msg/s", get: func(r *bench.Result, _ bench.ProcessSample) float64 { return r.ReceivedPerSecond }}
	mSent      = measure{name: "sent msg/s", get: func(r *bench.Result, _ bench.ProcessSample) float64 { return r.SentPerSecond }}
	mLost      = measure{name: "lost", worst: true, lower: true, get: func(r *bench.Result, _ bench.ProcessSample) float64 { return float64(r.Lost) }}
	mDup       = measure{name: "dup", worst: true, lower: true, get: func(r *bench.Result, _ bench.ProcessSample) float64 { return float64(r.Duplicates) }}
	mReorder   = measure{name: "out of order", worst: true, lower: true, get: func(r *bench.Result, _ bench.ProcessSample) float64 { return float64(r.OutOfOrder) }}
	mErrors    = measure{name: "errors", worst: true, lower: true, get: func(r *bench.Result, _ bench.ProcessSample) float64 { return float64(r.Errors) }}
	mP50       = latencyMeasure("p50 ms", func(l *bench.Latency) float64 { return l.P50 })
	mP90       = latencyMeasure("p90 ms", func(l *bench.Latency) float64 { return l.P90 })
	mP99       = latencyMeasure("p99 ms", func(l *bench.Latency) float64 { return l.P99 })
	mP999      = latencyMeasure("p99.9 ms", func(l *bench.Latency) float64 { return l.P999 })
	mMax       = latencyMeasure("max ms", func(l *bench.Latency) float64 { return l.Max })
	mBrokerCPU = measure{name: "broker CPU µs/msg", digits: 2, lower: true, get: func(r *bench.Result, _ bench.ProcessSample) float64 { return brokerOf(r).CPUPerMessageUS }}
	mCores     = measure{name: "broker cores", digits: 2, get: func(r *bench.Result, _ bench.ProcessSample) float64 { return brokerOf(r).Cores }}
	mPeak      = measure{name: "broker peak RSS MiB", digits: 1, lower: true, get: func(_ *bench.Result, p bench.ProcessSample) float64 { return float64(p.HWM) / (1 << 20) }}
	mGenCPU    = measure{name: "generator CPU µs/msg", digits: 2, lower: true, get: func(r *bench.Result, _ bench.ProcessSample) float64 { return r.Generator.CPUPerMessageUS }}
	mGenCores  = measure{name: "generator cores", digits: 2, lower: true, get: func(r *bench.Result, _ bench.ProcessSample) float64 { return r.Generator.Cores }}

	mConnRate = measure{name: "connections/s", get: func(r *bench.Result, _ bench.ProcessSample) float64 { return connOf(r).PerSecond }}
	mPerConn  = measure{name: "broker KiB per connection", digits: 2, lower: true, get: func(r *bench.Result, _ bench.ProcessSample) float64 { return brokerOf(r).BytesPerConnection / 1024 }}
	mHeldRSS  = measure{name: "broker RSS held MiB", digits: 1, lower: true, get: func(r *bench.Result, _ bench.ProcessSample) float64 { return float64(brokerOf(r).RSSKiB) / 1024 }}
	mConnCPU  = measure{name: "broker CPU µs/conn", digits: 1, lower: true, get: func(r *bench.Result, _ bench.ProcessSample) float64 { return brokerOf(r).CPUPerMessageUS }}
	mConnP99  = measure{name: "handshake p99 ms", digits: 2, lower: true, get: func(r *bench.Result, _ bench.ProcessSample) float64 {
		if h := connOf(r).Handshake; h != nil {
			return h.P99
		}
		return math.NaN()
	}}
	mConnected = measure{name: "connected (worst)", worst: true, get: func(r *bench.Result, _ bench.ProcessSample) float64 { return float64(connOf(r).Connected) }}
	mFailed    = measure{name: "failed", worst: true, lower: true, get: func(r *bench.Result, _ bench.ProcessSample) float64 { return float64(connOf(r).Failed) }}
	mDropped   = measure{name: "dropped", worst: true, lower: true, get: func(r *bench.Result, _ bench.ProcessSample) float64 { return float64(connOf(r).Dropped) }}

	mDeliver   = measure{name: "delivery s", digits: 3, lower: true, get: func(r *bench.Result, _ bench.ProcessSample) float64 { return retainedOf(r).DeliverSeconds }}
	mStore     = measure{name: "store s", digits: 3, lower: true, get: func(r *bench.Result, _ bench.ProcessSample) float64 { return retainedOf(r).StoreSeconds }}
	mDelivered = measure{name: "delivered (worst)", worst: true, get: func(r *bench.Result, _ bench.ProcessSample) float64 { return float64(retainedOf(r).Delivered) }}
	mStoredRSS = measure{name: "broker RSS stored MiB", digits: 1, lower: true, get: func(r *bench.Result, _ bench.ProcessSample) float64 { return float64(brokerOf(r).RSSBeforeKiB) / 1024 }}
)

func latencyMeasure(name string, get func(*bench.Latency) float64) measure {
	return measure{name: name, digits: 3, lower: true, get: func(r *bench.Result, _ bench.ProcessSample) float64 {
		if r.Latency == nil {
			return math.NaN()
		}
		return get(r.Latency)
	}}
}

func connOf(r *bench.Result) *bench.ConnResult {
	if r.Connections == nil {
		return &bench.ConnResult{}
	}
	return r.Connections
}

func retainedOf(r *bench.Result) *bench.RetainedResult {
	if r.Retained == nil {
		return &bench.RetainedResult{}
	}
	return r.Retained
}

// columns returns the detail columns of a scenario kind; the first is the
// headline whose every run is listed.
func columns(k kind) []measure {
	switch k {
	case kindLatency:
		return []measure{mP99, mP50, mP90, mP999, mMax, mLost, mBrokerCPU, mGenCores}
	case kindConn:
		return []measure{mPerConn, mConnRate, mConnected, mFailed, mDropped, mHeldRSS, mConnCPU, mConnP99}
	case kindRetained:
		return []measure{mDeliver, mDelivered, mLost, mStore, mStoredRSS, mPeak, mBrokerCPU}
	}
	return []measure{mReceived, mSent, mLost, mDup, mReorder, mP50, mP99, mBrokerCPU, mCores, mPeak, mGenCPU, mErrors}
}

// headlines are the summary rows of a scenario kind.
func headlines(k kind) []measure {
	switch k {
	case kindLatency:
		return []measure{mP50, mP99}
	case kindConn:
		return []measure{mPerConn, mConnRate}
	case kindRetained:
		return []measure{mDeliver, mDelivered, mPeak}
	}
	return []measure{mReceived, mBrokerCPU, mLost}
}

// values returns m over the successful runs.
func (r *report) values(id, broker string, m measure) []float64 {
	var vs []float64
	for _, o := range r.Results[id][broker] {
		if o.Res == nil {
			continue
		}
		if v := m.get(o.Res, o.Process); !math.IsNaN(v) {
			vs = append(vs, v)
		}
	}
	return vs
}

// summary is the median, or the worst run for a worst measure.
func (r *report) summary(id, broker string, m measure) (float64, bool) {
	vs := r.values(id, broker, m)
	if len(vs) == 0 {
		return 0, false
	}
	slices.Sort(vs)
	if m.worst && m.lower {
		return vs[len(vs)-1], true
	}
	if m.worst {
		return vs[0], true
	}
	if len(vs)%2 == 1 {
		return vs[len(vs)/2], true
	}
	return (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2, true
}

func (m measure) format(v float64) string {
	if m.digits == 0 {
		return group(v)
	}
	return strconv.FormatFloat(v, 'f', m.digits, 64)
}

// write renders the whole report.
func (r *report) write(w io.Writer, root string) {
	fmt.Fprintln(w, "# Benchmarks")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Generated by `%s` on %s (%s of runs). Do not edit: run it again.\n",
		r.commandLine(), r.Started.UTC().Format("2006-01-02 15:04 MST"), r.Finished.Sub(r.Started).Round(time.Second))
	fmt.Fprintln(w, "The load generator is `midge bench`; bench/README.md documents it and its JSON.")
	fmt.Fprintln(w, "Forwarding over a bridge, midge against Mosquitto, is measured by `go run ./bench/bridge`: [benchmarks-bridges.md](benchmarks-bridges.md).")
	fmt.Fprintln(w)
	r.writeMachine(w)
	r.writeSummary(w)
	writeBridges(w, root)
	r.writeDetails(w)
	r.writeSettings(w, root)
	if notes, err := os.ReadFile(filepath.Join(root, "bench", "NOTES.md")); err == nil {
		fmt.Fprintln(w)
		w.Write(notes)
	}
}

// writeBridges copies the table of docs/benchmarks-bridges.md, which
// bench/bridge writes, when there is one.
func writeBridges(w io.Writer, root string) {
	doc, err := os.ReadFile(filepath.Join(root, "docs", "benchmarks-bridges.md"))
	if err != nil {
		return
	}
	var table []string
	for _, line := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(line, "|") {
			table = append(table, line)
		}
	}
	if len(table) == 0 {
		return
	}
	fmt.Fprintln(w, "## Bridges")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Forwarding over one bridge, midge and Mosquitto each bridging to one of their own, from the last")
	fmt.Fprintln(w, "`go run ./bench/bridge` ([benchmarks-bridges.md](benchmarks-bridges.md) says how it was measured):")
	fmt.Fprintln(w)
	fmt.Fprintln(w, strings.Join(table, "\n"))
	fmt.Fprintln(w)
}

func (r *report) commandLine() string {
	args := []string{"go run ./bench/compare"}
	if r.opts.quick {
		args = append(args, "-quick")
	}
	if r.opts.nats {
		args = append(args, "-nats")
	}
	if r.opts.mochi {
		args = append(args, "-mochi")
	}
	if (r.opts.quick && r.opts.reps != 1) || (!r.opts.quick && r.opts.reps != 3) {
		args = append(args, "-reps", strconv.Itoa(r.opts.reps))
	}
	if r.opts.only != "" {
		args = append(args, "-scenarios", r.opts.only)
	}
	if r.opts.conns != "10000,19000" {
		args = append(args, "-conns", r.opts.conns)
	}
	return strings.Join(args, " ")
}

func (r *report) writeMachine(w io.Writer) {
	fmt.Fprintln(w, "## Machine and method")
	fmt.Fprintln(w)
	m := r.Machine
	fmt.Fprintf(w, "- CPU: %s, %d logical CPUs (nproc); %s of memory; Linux %s; %s.\n", m.CPU, m.NumCPU, m.Memory, m.Kernel, m.Go)
	for _, p := range r.brokers {
		fmt.Fprintf(w, "- %s: %s\n", p.name, r.Versions[p.name])
	}
	fmt.Fprintf(w, "- Every broker and the generator share the machine, unpinned. Each run starts the broker afresh; "+
		"the brokers take turns (A, B, A, B, ...) so that drift hits all alike; %d run(s) per broker and scenario. "+
		"Tables show the median of the runs, except the columns marked worst (losses, duplicates, errors, failures), which show the worst run.\n", r.opts.reps)
	fmt.Fprintln(w, "- Throughput is messages received by the subscribers per second, from the first message sent to the last received. "+
		"Broker CPU is utime+stime from /proc/PID/stat over the same window (10 ms ticks) divided by messages received; "+
		"memory is VmRSS and VmHWM from /proc/PID/status. Latency is from the send time written in each payload to its arrival.")
	fmt.Fprintln(w, "- All clients speak MQTT 3.1.1 (nats-server has no MQTT 5), with a window of 20 QoS 1/2 messages in flight per publisher.")
	fmt.Fprintln(w)
}

func (r *report) writeSummary(w io.Writer) {
	fmt.Fprintln(w, "## Summary")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Medians; the ratio columns are midge's figure divided by the peer's "+
		"(for msg/s and connections/s higher is better, for the rest lower is better).")
	fmt.Fprintln(w)
	header := []string{"Scenario", "Measure"}
	for _, p := range r.brokers {
		header = append(header, p.name)
		if p.name != "midge" {
			header = append(header, "midge ÷ "+p.name)
		}
	}
	writeRow(w, header)
	writeRule(w, len(header))
	for _, s := range r.scenarios {
		for _, m := range headlines(s.kind) {
			row := []string{s.shortTitle(), m.name}
			midge, midgeOK := r.summary(s.id, "midge", m)
			for _, p := range r.brokers {
				v, ok := r.summary(s.id, p.name, m)
				row = append(row, cell(m, v, ok))
				if p.name != "midge" {
					row = append(row, ratioCell(midge, v, midgeOK && ok && !m.worst))
				}
			}
			writeRow(w, row)
		}
	}
	fmt.Fprintln(w)
}

func (s scenario) shortTitle() string {
	title, _, _ := strings.Cut(s.title, ":")
	return title
}

func (r *report) writeDetails(w io.Writer) {
	fmt.Fprintln(w, "## Scenarios")
	for _, s := range r.scenarios {
		fmt.Fprintln(w)
		fmt.Fprintf(w, "### %s\n\n", s.title)
		fmt.Fprintf(w, "`midge bench %s -h 127.0.0.1 -p PORT -V 311 --pid PID --json --quiet`\n\n", strings.Join(quoteArgs(s.args), " "))
		cols := columns(s.kind)
		header := []string{"Broker"}
		for _, m := range cols {
			header = append(header, m.name)
		}
		header = append(header, cols[0].name+", each run")
		writeRow(w, header)
		writeRule(w, len(header))
		for _, p := range r.brokers {
			row := []string{p.name}
			for _, m := range cols {
				v, ok := r.summary(s.id, p.name, m)
				row = append(row, cell(m, v, ok))
			}
			var each []string
			for _, o := range r.Results[s.id][p.name] {
				if o.Res == nil {
					each = append(each, "failed")
					continue
				}
				each = append(each, cols[0].format(cols[0].get(o.Res, o.Process)))
			}
			row = append(row, strings.Join(each, ", "))
			writeRow(w, row)
		}
		r.writeErrors(w, s)
	}
	fmt.Fprintln(w)
}

// writeErrors lists the first error of each run that had one.
func (r *report) writeErrors(w io.Writer, s scenario) {
	first := true
	for _, p := range r.brokers {
		for i, o := range r.Results[s.id][p.name] {
			msg := o.Err
			if msg == "" && o.Res != nil && o.Res.FirstError != "" {
				msg = o.Res.FirstError
			}
			if msg == "" {
				continue
			}
			if first {
				fmt.Fprintln(w)
				first = false
			}
			fmt.Fprintf(w, "- %s, run %d: %s\n", p.name, i+1, oneLine(msg))
		}
	}
}

func (r *report) writeSettings(w io.Writer, root string) {
	fmt.Fprintln(w, "## Broker settings")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Anonymous access, no persistence, and queues large enough not to drop where the broker lets them be set. "+
		"A broker that drops a message for lack of room shows it as lost.")
	fmt.Fprintln(w)
	for _, p := range r.brokers {
		saved := p.confPath
		p.confPath = ""
		name, args := p.command(root)
		p.confPath = saved
		cmd := strings.ReplaceAll(strings.Join(append([]string{name}, args...), " "), root+"/", "")
		fmt.Fprintf(w, "%s: `%s`\n\n", p.name, cmd)
		if note := r.Notes[p.name]; note != "" {
			fmt.Fprintf(w, "%s\n\n", note)
		}
		if content, err := os.ReadFile(filepath.Join(root, "bench", p.config)); err == nil && strings.HasSuffix(p.config, ".conf") {
			if r.Notes[p.name] != "" {
				fmt.Fprintf(w, "bench/%s, of which it took only the listener and allow_anonymous lines (compare passes a copy with those):\n\n", p.config)
			}
			fmt.Fprintf(w, "```\n%s```\n\n", content)
		} else {
			fmt.Fprintf(w, "(bench/%s: every client admitted, no storage hook, default capabilities, $SYS off)\n\n", p.config)
		}
	}
}

func cell(m measure, v float64, ok bool) string {
	if !ok {
		return "–"
	}
	return m.format(v)
}

func ratioCell(a, b float64, ok bool) string {
	if !ok || b == 0 {
		return "–"
	}
	return strconv.FormatFloat(a/b, 'f', 2, 64) + "×"
}

func writeRow(w io.Writer, cells []string) {
	fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
}

func writeRule(w io.Writer, n int) {
	fmt.Fprintf(w, "|%s\n", strings.Repeat(" --- |", n))
}

func quoteArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, "%+#") {
			a = "'" + a + "'"
		}
		out[i] = a
	}
	return out
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// group writes v rounded, with thousands separators.
func group(v float64) string { return bench.Group(int(math.Round(v))) }

func cpuModel() string {
	data, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(data), "\n") {
		if key, value, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(key) == "model name" {
			return strings.TrimSpace(value)
		}
	}
	return "unknown CPU"
}

func memTotal() string {
	data, _ := os.ReadFile("/proc/meminfo")
	for _, line := range strings.Split(string(data), "\n") {
		if value, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kib, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 64)
			return fmt.Sprintf("%.0f GiB", kib/(1<<20))
		}
	}
	return "unknown amount"
}

func readTrim(path string) string {
	data, _ := os.ReadFile(path)
	return strings.TrimSpace(string(data))
}
