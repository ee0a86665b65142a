package broker

import (
	"math"
	"runtime/metrics"
	"strconv"
	"time"
)

// The $SYS topics, as Mosquitto publishes them (its src/sys_tree.c): every
// Options.SysInterval the broker publishes its figures under $SYS/broker/,
// through the normal routing, as retained QoS 2 messages from the broker
// itself. Only the figures that changed since they were last published go
// out again, except the uptime, which goes out every time. The names and
// payloads are Mosquitto's (version reads "midge version X"), deprecated
// aliases included, so that dashboards and exporters written for
// Mosquitto read them unchanged. Clients may not publish to $SYS
// (reservedTopic), and "#" and "+" do not match it [MQTT-4.7.2-1].
//
// Where midge differs: heap/current and heap/maximum are always published
// (the Go heap: bytes in heap objects, and the highest value seen at an
// interval); store/messages/count and store/messages/bytes count the
// messages sessions hold for delivery (in flight or queued, once per
// session), not retained messages, which "retained messages/count"
// counts; a load average is republished when its two-decimal text
// changes, where Mosquitto compares it with its previous value and so
// leaves a slowly decaying load at a stale figure; and $SYS messages carry
// no message expiry interval (Mosquitto gives most of them 60 seconds),
// so a subscriber that arrives while a figure stays the same still finds
// it retained.

// defaultSysInterval is Mosquitto's default sys_interval.
const defaultSysInterval = 10 * time.Second

// sysPrefix starts every topic the broker publishes.
const sysPrefix = "$SYS/broker/"

// loadSeries are the counters with load averages, under
// $SYS/broker/load/NAME/{1min,5min,15min}.
var loadSeries = [...]struct {
	name  string
	value func(*Stats) int64
}{
	{"messages/received", func(st *Stats) int64 { return st.MessagesReceived }},
	{"messages/sent", func(st *Stats) int64 { return st.MessagesSent }},
	{"publish/dropped", func(st *Stats) int64 { return st.PublishDropped }},
	{"publish/received", func(st *Stats) int64 { return st.PublishReceived }},
	{"publish/sent", func(st *Stats) int64 { return st.PublishSent }},
	{"bytes/received", func(st *Stats) int64 { return st.BytesReceived }},
	{"bytes/sent", func(st *Stats) int64 { return st.BytesSent }},
	{"sockets", func(st *Stats) int64 { return st.ConnectionsAccepted }},
	{"connections", func(st *Stats) int64 { return st.Connects }},
}

// loadPeriods are the spans of the load averages, in seconds, and their
// topic suffixes.
var loadPeriods = [...]struct {
	seconds float64
	suffix  string
}{{60, "/1min"}, {300, "/5min"}, {900, "/15min"}}

// sysTree is the state of the $SYS publisher: startSys makes the first
// update, then its goroutine alone uses it.
type sysTree struct {
	s     *Server
	route router
	// last is the payload last published on each topic, for the
	// change-only rule.
	last map[string]string
	// counted and countedAt are the counters at the previous update, for
	// the load averages; loads holds the averages, in events per minute.
	counted   Stats
	countedAt time.Time
	loads     [len(loadSeries)][len(loadPeriods)]float64
	heap      []metrics.Sample
	heapMax   uint64
	sessions  []*session // reused by heldMessages
	// figures are the names Options.SysFigures put in the last update,
	// and putting those of the update under way.
	figures, putting map[string]bool
}

// startSys publishes every $SYS topic and starts the goroutine that
// updates them every Options.SysInterval, reporting whether it started
// (not once shutdown has begun). The server's start calls it as
// the first connection arrives, before any client is served, so that the
// $SYS topics are in the retained store before any client can look:
// Stats.Retained leaves them out, exactly but for Options.SysFigures that
// come and go between updates.
func (s *Server) startSys() bool {
	t := &sysTree{
		s:       s,
		last:    make(map[string]string),
		heap:    []metrics.Sample{{Name: heapObjectsMetric}},
		figures: make(map[string]bool),
		putting: make(map[string]bool),
	}
	t.update(s.o().Clock.Now())
	return s.spawnWhileOpen(func() { t.run(s.done, s.o().SysInterval) })
}

// run updates the $SYS topics every interval until done is closed. A
// Reload that changes sys_interval takes effect at the next tick; one that
// turns $SYS off (a negative interval) pauses the updates.
func (t *sysTree) run(done <-chan struct{}, interval time.Duration) {
	tick := t.s.o().Clock.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case now := <-tick.C():
			next := t.s.o().SysInterval
			if next > 0 {
				t.update(now)
				if next != interval {
					interval = next
					tick.Reset(interval)
				}
			}
		}
	}
}

// update publishes every figure that changed since the last update.
func (t *sysTree) update(now time.Time) {
	st := t.s.Stats()
	t.put("version", "midge version "+t.s.o().Version)
	t.publish("uptime", strconv.FormatInt(int64(now.Sub(t.s.started)/time.Second), 10)+" seconds")

	disconnected := st.ClientsDisconnected()
	t.putInt("clients/total", st.ClientsTotal)
	t.putInt("clients/maximum", st.ClientsMaximum)
	t.putInt("clients/connected", st.ClientsConnected)
	t.putInt("clients/active", st.ClientsConnected) // deprecated alias
	t.putInt("clients/disconnected", disconnected)
	t.putInt("clients/inactive", disconnected) // deprecated alias
	t.putInt("clients/expired", st.SessionsExpired)

	t.updateLoads(&st, now)

	held, heldBytes := t.heldMessages()
	t.putInt("store/messages/count", held)
	t.putInt("messages/stored", held) // deprecated alias
	t.putInt("store/messages/bytes", heldBytes)
	t.putInt("subscriptions/count", st.Subscriptions-st.SharedSubscriptions)
	t.putInt("shared_subscriptions/count", st.SharedSubscriptions)
	t.putInt("retained messages/count", st.Retained+t.s.sysRetained.Load()) // as Mosquitto: $SYS included

	metrics.Read(t.heap)
	if v := t.heap[0].Value; v.Kind() == metrics.KindUint64 {
		t.heapMax = max(t.heapMax, v.Uint64())
		t.put("heap/current", strconv.FormatUint(v.Uint64(), 10))
		t.put("heap/maximum", strconv.FormatUint(t.heapMax, 10))
	}

	t.putInt("messages/received", st.MessagesReceived)
	t.putInt("messages/sent", st.MessagesSent)
	t.putInt("publish/messages/dropped", st.PublishDropped)
	t.putInt("publish/messages/received", st.PublishReceived)
	t.putInt("publish/messages/sent", st.PublishSent)
	t.putInt("bytes/received", st.BytesReceived)
	t.putInt("bytes/sent", st.BytesSent)
	t.putInt("publish/bytes/received", st.PublishBytesReceived)
	t.putInt("publish/bytes/sent", st.PublishBytesSent)

	t.updateFigures()
	t.s.sysRetained.Store(int64(len(t.last)))
}

// updateFigures publishes the figures of Options.SysFigures, and deletes
// those it no longer gives.
func (t *sysTree) updateFigures() {
	if f := t.s.o().SysFigures; f != nil {
		f(func(name, payload string) {
			t.putting[name] = true
			t.put(name, payload)
		})
	}
	for name := range t.figures {
		if !t.putting[name] {
			delete(t.last, name)
			m := &Message{Topic: sysPrefix + name, QoS: 2, Retain: true}
			t.s.publish(m, &t.route, nil, nil)
		}
	}
	clear(t.figures)
	t.figures, t.putting = t.putting, t.figures
}

// updateLoads moves the load averages on to now and publishes them. Each is
// an exponentially decayed rate per minute, as Mosquitto's: over an update
// dt seconds after the previous one, in which a counter grew by n, the rate
// is r = 60·n/dt, and an average over a period of P seconds becomes
//
//	new = r + (old − r)·e^(−dt/P)
//
// so it follows a steady rate within about P, and decays toward zero by
// e^(−dt/P) per update once the counter stops. The first update publishes
// 0.00 for all of them, as Mosquitto does.
func (t *sysTree) updateLoads(st *Stats, now time.Time) {
	first := t.countedAt.IsZero()
	dt := now.Sub(t.countedAt).Seconds()
	for i, series := range loadSeries {
		if !first && dt > 0 {
			rate := float64(series.value(st)-series.value(&t.counted)) * 60 / dt
			for j, period := range loadPeriods {
				decay := math.Exp(-dt / period.seconds)
				t.loads[i][j] = rate + (t.loads[i][j]-rate)*decay
			}
		}
		for j, period := range loadPeriods {
			t.put("load/"+series.name+period.suffix, strconv.FormatFloat(t.loads[i][j], 'f', 2, 64))
		}
	}
	if first || dt > 0 {
		t.counted, t.countedAt = *st, now
	}
}

// heldMessages counts the messages sessions hold for delivery, in flight
// or queued, and their payload bytes. A message held by several sessions
// counts once for each. It takes each session's lock in turn, never two at
// once, and the session table's lock only to list the sessions.
func (t *sysTree) heldMessages() (count, bytes int64) {
	table := &t.s.sessions
	table.mu.Lock()
	for _, ss := range table.m {
		t.sessions = append(t.sessions, ss)
	}
	table.mu.Unlock()
	for _, ss := range t.sessions {
		ss.mu.Lock()
		count += int64(len(ss.inflight) + ss.queue.len())
		bytes += int64(ss.inflightSize + ss.queue.bytes)
		ss.mu.Unlock()
	}
	clear(t.sessions) // no session is kept alive until the next update
	t.sessions = t.sessions[:0]
	return count, bytes
}

func (t *sysTree) putInt(name string, v int64) {
	t.put(name, strconv.FormatInt(v, 10))
}

// put publishes payload on $SYS/broker/name unless it is what was last
// published there.
func (t *sysTree) put(name, payload string) {
	if last, ok := t.last[name]; ok && last == payload {
		return
	}
	t.publish(name, payload)
}

// publish publishes payload on $SYS/broker/name, retained, at QoS 2, as
// from the broker itself.
func (t *sysTree) publish(name, payload string) {
	t.last[name] = payload
	m := &Message{Topic: sysPrefix + name, Payload: []byte(payload), QoS: 2, Retain: true}
	t.s.publish(m, &t.route, nil, nil)
}
