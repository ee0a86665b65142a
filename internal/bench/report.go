package bench

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// WriteSummary writes the human-readable table of r.
func (r *Result) WriteSummary(w io.Writer) {
	fmt.Fprintf(w, "midge bench %s: %s, MQTT %s, broker %s\n\n", r.Mode, r.describe(), r.MQTTVersion, r.Broker)
	switch {
	case r.Connections != nil:
		r.writeConnections(w)
	case r.Retained != nil:
		r.writeRetained(w)
	default:
		r.writeMessages(w)
	}
	fmt.Fprintln(w)
	r.writeUsage(w)
}

// row writes one labelled line of the summary.
func row(w io.Writer, name, format string, args ...any) {
	fmt.Fprintf(w, "%-14s %s\n", name, fmt.Sprintf(format, args...))
}

func (r *Result) writeConnections(w io.Writer) {
	c := r.Connections
	row(w, "connected", "%s of %s (%s failed, %s dropped while held)", Group(c.Connected), Group(c.Requested), Group(c.Failed), Group(c.Dropped))
	row(w, "rate", "%s connections/s over %.2f s", Group(int(c.PerSecond+0.5)), c.ConnectSeconds)
	if len(c.Sources) > 0 {
		row(w, "sources", "%s", strings.Join(c.Sources, ", "))
	}
	if c.Handshake != nil {
		row(w, "handshake ms", "%s", latencyLine(c.Handshake))
	}
	row(w, "held", "%.1f s", c.HeldSeconds)
}

func (r *Result) writeRetained(w io.Writer) {
	rr := r.Retained
	row(w, "stored", "%s retained messages in %.3f s", Group(rr.Stored), rr.StoreSeconds)
	row(w, "delivered", "%s to a new subscriber to %s in %.3f s (%s/s)", Group(int(rr.Delivered)), rr.Filter, rr.DeliverSeconds, Group(int(rr.PerSecond+0.5)))
	row(w, "lost", "%s", Group(int(r.Lost)))
	row(w, "duplicates", "%s", Group(int(r.Duplicates)))
}

func (r *Result) writeMessages(w io.Writer) {
	count := func(name string, n uint64, rest string) {
		fmt.Fprintf(w, "%-14s %12s%s\n", name, Group(int(n)), rest)
	}
	fmt.Fprintf(w, "%-14s %12s %12s\n", "", "messages", "per second")
	if r.Publishers > 0 {
		count("sent", r.Sent, fmt.Sprintf(" %12s   publishing %.3f s", Group(int(r.SentPerSecond+0.5)), r.PublishSeconds))
		if r.QoS > 0 {
			count("acknowledged", r.Acked, "")
		}
		if r.Refused > 0 {
			count("refused", r.Refused, "")
		}
	}
	if r.Subscribers > 0 {
		count("received", r.Received, fmt.Sprintf(" %12s   over %.3f s", Group(int(r.ReceivedPerSecond+0.5)), r.ElapsedSeconds))
		if r.Mode == ModeRun {
			count("expected", r.Expected, "")
		}
		count("lost", r.Lost, "")
		count("duplicates", r.Duplicates, "")
		count("out of order", r.OutOfOrder, "")
		if r.Foreign > 0 {
			count("foreign", r.Foreign, "   without a benchmark header")
		}
	}
	if r.Latency != nil {
		fmt.Fprintln(w)
		row(w, "latency ms", "%s", latencyLine(r.Latency))
	}
}

// writeUsage writes the generator's and the broker's CPU and memory, and
// the errors.
func (r *Result) writeUsage(w io.Writer) {
	if r.Generator.CPUSeconds > 0 {
		row(w, "generator CPU", "%.2f s, %.2f cores, %.2f µs per %s", r.Generator.CPUSeconds, r.Generator.Cores, r.Generator.CPUPerMessageUS, r.unit())
	}
	if b := r.BrokerProcess; b != nil {
		if b.Error != "" {
			row(w, "broker", "pid %d: %s", b.PID, b.Error)
		} else {
			row(w, "broker CPU", "pid %d: %.2f s, %.2f cores, %.2f µs per %s", b.PID, b.CPUSeconds, b.Cores, b.CPUPerMessageUS, r.unit())
			row(w, "broker memory", "RSS %s KiB (%s before), peak %s KiB", Group(int(b.RSSKiB)), Group(int(b.RSSBeforeKiB)), Group(int(b.HWMKiB)))
			if b.BytesPerConnection != 0 {
				row(w, "per client", "%s bytes of broker memory", Group(int(b.BytesPerConnection+0.5)))
			}
		}
	}
	row(w, "errors", "%s", Group(int(r.Errors)))
	if r.FirstError != "" {
		row(w, "first error", "%s", r.FirstError)
	}
}

// describe names the clients and messages of r.
func (r *Result) describe() string {
	switch r.Mode {
	case ModeConn:
		return plural(r.Connections.Requested, "client")
	case ModeRetained:
		return fmt.Sprintf("QoS %d, %d-byte payloads", r.QoS, r.PayloadBytes)
	}
	var parts []string
	if r.Publishers > 0 {
		parts = append(parts, plural(r.Publishers, "publisher"))
	}
	if r.Subscribers > 0 {
		parts = append(parts, plural(r.Subscribers, "subscriber"))
	}
	return fmt.Sprintf("%s, QoS %d, %d-byte payloads", strings.Join(parts, " to "), r.QoS, r.PayloadBytes)
}

// unit is what CPU time is divided by.
func (r *Result) unit() string {
	switch r.Mode {
	case ModeConn:
		return "connection"
	case ModePub:
		return "message sent"
	}
	return "message received"
}

func latencyLine(l *Latency) string {
	return fmt.Sprintf("p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (mean %s)",
		ms(l.P50), ms(l.P90), ms(l.P99), ms(l.P999), ms(l.Max), ms(l.Mean))
}

// ms formats milliseconds with three significant digits or more.
func ms(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return Group(n) + " " + noun + "s"
}

// Group writes n with thousands separators: 1,234,567.
func Group(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, d := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// ProgressLine formats the live line for cur, with rates measured since
// prev (the previous snapshot, or the zero value at first).
func ProgressLine(mode Mode, prev, cur Progress) string {
	secs := (cur.Elapsed - prev.Elapsed).Seconds()
	rate := func(a, b uint64) string { return Group(int(ratio(float64(a-b), secs) + 0.5)) }
	elapsed := cur.Elapsed.Truncate(time.Second)
	switch mode {
	case ModeConn:
		return fmt.Sprintf("%6s  connected %s (%s/s)  failed %s", elapsed, Group(cur.Connected),
			Group(int(ratio(float64(cur.Connected-prev.Connected), secs)+0.5)), Group(int(cur.Errors)))
	}
	line := fmt.Sprintf("%6s  sent %s/s  received %s/s", elapsed, rate(cur.Sent, prev.Sent), rate(cur.Received, prev.Received))
	if cur.Acked > 0 {
		line += fmt.Sprintf("  acked %s/s", rate(cur.Acked, prev.Acked))
	}
	return line + fmt.Sprintf("  total sent %s received %s  errors %s", Group(int(cur.Sent)), Group(int(cur.Received)), Group(int(cur.Errors)))
}
