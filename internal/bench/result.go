package bench

import (
	"time"

	"github.com/midge-mqtt/midge/packets"
)

// Result is what a run measured. Its JSON form is what `midge bench
// --json` prints; docs/benchmarks.md describes every field.
type Result struct {
	Mode         Mode      `json:"mode"`
	Broker       string    `json:"broker"`
	MQTTVersion  string    `json:"mqtt_version"`
	QoS          int       `json:"qos"`
	PayloadBytes int       `json:"payload_bytes"`
	Publishers   int       `json:"publishers"`
	Subscribers  int       `json:"subscribers"`
	Started      time.Time `json:"started"`

	// ElapsedSeconds is the measured window: from the first message
	// written to the last one received (run), acknowledged or written
	// (pub), from the first delivery to the last (sub).
	ElapsedSeconds float64 `json:"elapsed_s"`
	// PublishSeconds is from the first message written to the last.
	PublishSeconds float64 `json:"publish_s"`

	Sent              uint64   `json:"sent"`
	SentPerSecond     float64  `json:"sent_per_s"`
	Acked             uint64   `json:"acked"`
	Refused           uint64   `json:"refused"`
	Expected          uint64   `json:"expected"`
	Received          uint64   `json:"received"`
	ReceivedPerSecond float64  `json:"received_per_s"`
	Lost              uint64   `json:"lost"`
	Duplicates        uint64   `json:"duplicates"`
	OutOfOrder        uint64   `json:"out_of_order"`
	Foreign           uint64   `json:"foreign"`
	Latency           *Latency `json:"latency_ms,omitempty"`

	Connections *ConnResult     `json:"connections,omitempty"`
	Retained    *RetainedResult `json:"retained,omitempty"`

	Errors     uint64 `json:"errors"`
	FirstError string `json:"first_error,omitempty"`

	Generator     Usage        `json:"generator"`
	BrokerProcess *BrokerUsage `json:"broker_process,omitempty"`
}

// Latency summarises a histogram, in milliseconds.
type Latency struct {
	Count uint64  `json:"count"`
	Min   float64 `json:"min"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p99_9"`
	Max   float64 `json:"max"`
}

// Usage is the generator's own CPU use over the measured window.
type Usage struct {
	CPUSeconds      float64 `json:"cpu_s"`
	Cores           float64 `json:"cores"`
	CPUPerMessageUS float64 `json:"cpu_us_per_msg"`
}

// BrokerUsage is the broker process's CPU time and memory around the
// measured window, read from /proc when BrokerPID is set.
type BrokerUsage struct {
	PID             int     `json:"pid"`
	CPUSeconds      float64 `json:"cpu_s"`
	Cores           float64 `json:"cores"`
	CPUPerMessageUS float64 `json:"cpu_us_per_msg"`
	RSSBeforeKiB    int64   `json:"rss_before_kib"`
	RSSKiB          int64   `json:"rss_kib"`
	HWMKiB          int64   `json:"hwm_kib"`
	// BytesPerConnection is (RSSKiB - RSSBeforeKiB) per connected client,
	// in conn mode.
	BytesPerConnection float64 `json:"bytes_per_conn,omitempty"`
	Error              string  `json:"error,omitempty"`
}

// ConnResult is what conn mode measured.
type ConnResult struct {
	Requested      int      `json:"requested"`
	Connected      int      `json:"connected"`
	Failed         int      `json:"failed"`
	Dropped        int      `json:"dropped"`
	ConnectSeconds float64  `json:"connect_s"`
	PerSecond      float64  `json:"per_s"`
	HeldSeconds    float64  `json:"held_s"`
	Sources        []string `json:"sources,omitempty"`
	Handshake      *Latency `json:"handshake_ms,omitempty"`
}

// RetainedResult is what retained mode measured.
type RetainedResult struct {
	Stored         int     `json:"stored"`
	StoreSeconds   float64 `json:"store_s"`
	Delivered      uint64  `json:"delivered"`
	DeliverSeconds float64 `json:"deliver_s"`
	PerSecond      float64 `json:"per_s"`
	Filter         string  `json:"filter"`
}

// newResult fills in the description of c.
func newResult(c Config) *Result {
	r := &Result{
		Mode:         c.Mode,
		Broker:       c.Addr,
		MQTTVersion:  versionName(c.version()),
		QoS:          int(c.QoS),
		PayloadBytes: c.PayloadSize,
		Started:      time.Now().UTC(),
	}
	switch c.Mode {
	case ModePub:
		r.Publishers = c.Clients
	case ModeSub:
		r.Subscribers = c.Clients
	case ModeRun:
		r.Publishers, r.Subscribers = c.Clients, c.Subscribers
	case ModeRetained:
		r.Publishers, r.Subscribers = 1, 1
	}
	return r
}

func versionName(v byte) string {
	switch v {
	case packets.V31:
		return "3.1"
	case packets.V5:
		return "5.0"
	default:
		return "3.1.1"
	}
}

// summarize turns a histogram into milliseconds, or nil when it is empty.
func summarize(h *Histogram) *Latency {
	if h.Count() == 0 {
		return nil
	}
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	return &Latency{
		Count: h.Count(),
		Min:   ms(h.Min()),
		Mean:  ms(h.Mean()),
		P50:   ms(h.Quantile(0.50)),
		P90:   ms(h.Quantile(0.90)),
		P99:   ms(h.Quantile(0.99)),
		P999:  ms(h.Quantile(0.999)),
		Max:   ms(h.Max()),
	}
}

// meter reads the generator's and the broker's CPU and memory at the start
// and the end of a measured window.
type meter struct {
	pid         int
	start       time.Time
	selfStart   time.Duration
	selfOK      bool
	brokerErr   error
	brokerStart ProcessSample
}

func startMeter(pid int) *meter {
	m := &meter{pid: pid}
	if pid != 0 {
		m.brokerStart, m.brokerErr = SampleProcess(pid)
	}
	m.selfStart, m.selfOK = selfCPU()
	m.start = time.Now()
	return m
}

// stop reads the CPU times and memory again, divides the CPU time spent
// since start by messages and by the wall time, and fills in r's
// Generator and BrokerProcess. The CPU time runs until now, which may be a
// drain time after the last message: an idle process spends none there.
func (m *meter) stop(r *Result, messages uint64) {
	wall := time.Since(m.start).Seconds()
	if self, ok := selfCPU(); ok && m.selfOK {
		cpu := (self - m.selfStart).Seconds()
		r.Generator = Usage{CPUSeconds: cpu, Cores: ratio(cpu, wall), CPUPerMessageUS: ratio(cpu*1e6, float64(messages))}
	}
	if m.pid == 0 {
		return
	}
	b := &BrokerUsage{PID: m.pid}
	r.BrokerProcess = b
	now, err := SampleProcess(m.pid)
	if err == nil {
		err = m.brokerErr
	}
	if err != nil {
		b.Error = err.Error()
		return
	}
	cpu := (now.CPU - m.brokerStart.CPU).Seconds()
	b.CPUSeconds, b.Cores = cpu, ratio(cpu, wall)
	b.CPUPerMessageUS = ratio(cpu*1e6, float64(messages))
	b.RSSBeforeKiB, b.RSSKiB, b.HWMKiB = m.brokerStart.RSS>>10, now.RSS>>10, now.HWM>>10
}

func ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}
