package bench

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Mode is what a run does.
type Mode string

// The modes of `midge bench`.
const (
	ModePub      Mode = "pub"      // publishers only
	ModeSub      Mode = "sub"      // subscribers only
	ModeRun      Mode = "run"      // subscribers and publishers together, end to end
	ModeConn     Mode = "conn"     // idle connections
	ModeRetained Mode = "retained" // store retained messages, then time their delivery
)

// Config describes one run. Zero fields take the defaults that
// WithDefaults fills in.
type Config struct {
	Target
	Mode Mode

	// Clients is the number of publishers (pub, run), subscribers (sub) or
	// connections (conn).
	Clients int
	// Subscribers is the number of subscribers of a run.
	Subscribers int
	// Start is the index of the first client; %i in topics and the
	// publisher id in payloads count from it, so that several generators
	// can share a broker.
	Start int

	// Topic is the publish topic; %i stands for the publisher's index
	// (in retained mode, the message's).
	Topic string
	// Filter is the subscription; %i stands for the subscriber's index.
	// In a run it defaults to Topic (one subscriber per publisher when
	// both use %i); in retained mode to Topic's parent with '#'.
	Filter string

	QoS         byte
	Retain      bool // pub: set RETAIN on every message
	PayloadSize int  // bytes, at least HeaderSize

	// Rate is messages per second per publisher (pub, run) or
	// connections per second (conn); 0 is as fast as possible.
	Rate float64
	// Count is messages per publisher (pub, run), messages to wait for per
	// subscriber (sub), or retained messages to store (retained).
	Count int
	// Duration bounds publishing (pub, run) or receiving (sub), and is how
	// long connections are held (conn). With neither Count nor Duration a
	// run goes on until its context is cancelled.
	Duration time.Duration

	// Window bounds the QoS 1 and 2 messages in flight per publisher
	// (lowered to the broker's Receive Maximum in MQTT 5). Default 20,
	// Mosquitto's max_inflight_messages: a broker that drops what exceeds
	// its quota would otherwise lose messages silently.
	Window int
	// Batch is the most messages one write carries. Default 64.
	Batch int
	// Drain is how long to wait for outstanding messages and
	// acknowledgements, after publishing ends, without any arriving.
	// Default 2 seconds.
	Drain time.Duration

	// Sources is the number of loopback source addresses conn spreads its
	// clients over, from SourceBase on: 0 picks one per PerSource clients
	// when the broker is on a loopback address and none otherwise.
	Sources int
	// SourceBase is the first source address. Default 127.0.0.2.
	SourceBase netip.Addr
	// PerSource is the clients per source address when Sources is 0.
	// Default 10,000, well under the 28,232 ephemeral ports of Linux.
	PerSource int
	// Concurrency bounds the handshakes in progress at once. Default 64.
	Concurrency int

	// KeepClear leaves retained messages in place at the end of a retained
	// run instead of clearing them.
	KeepClear bool

	// BrokerPID, when not 0, names the broker process whose CPU time and
	// memory are read around the measured window (Linux only).
	BrokerPID int

	// Progress, when not nil, is called about once a second from the
	// run's own goroutine.
	Progress func(Progress)
}

// Progress is a snapshot of a run's counters.
type Progress struct {
	Elapsed   time.Duration
	Connected int    // clients connected
	Sent      uint64 // messages written
	Acked     uint64 // QoS 1 and 2 flows completed
	Received  uint64 // deliveries
	Errors    uint64 // clients that failed
}

// WithDefaults returns c with its zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:1883"
	}
	if c.Version == 0 {
		c.Version = 4
	}
	if c.KeepAlive == 0 {
		c.KeepAlive = 60 * time.Second
	}
	if c.Clients == 0 {
		c.Clients = 1
	}
	if c.Mode == ModeRun && c.Subscribers == 0 {
		c.Subscribers = 1
	}
	if c.Topic == "" {
		c.Topic = map[Mode]string{ModeRetained: "bench/retained/%i"}[c.Mode]
		if c.Topic == "" {
			c.Topic = "bench/%i"
		}
	}
	if c.Filter == "" {
		c.Filter = c.Topic
		if c.Mode == ModeRetained {
			c.Filter = parentFilter(c.Topic)
		}
	}
	if c.PayloadSize == 0 {
		c.PayloadSize = 64
	}
	if c.Count == 0 && c.Mode == ModeRetained {
		c.Count = 100000
	}
	if c.Window == 0 {
		c.Window = 20
	}
	if c.Batch == 0 {
		c.Batch = 64
	}
	if c.Drain == 0 {
		c.Drain = 2 * time.Second
	}
	if !c.SourceBase.IsValid() {
		c.SourceBase = netip.AddrFrom4([4]byte{127, 0, 0, 2})
	}
	if c.PerSource == 0 {
		c.PerSource = 10000
	}
	if c.Concurrency == 0 {
		c.Concurrency = 64
	}
	if c.ClientPrefix == "" {
		c.ClientPrefix = "mb" + randomTag() + "-"
	}
	return c
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	switch c.Mode {
	case ModePub, ModeSub, ModeRun, ModeConn, ModeRetained:
	default:
		return fmt.Errorf("bench: unknown mode %q", c.Mode)
	}
	switch {
	case c.Clients < 1:
		return errors.New("bench: the number of clients must be at least 1")
	case c.Mode == ModeRun && c.Subscribers < 1:
		return errors.New("bench: the number of subscribers must be at least 1")
	case c.QoS > 2:
		return errors.New("bench: QoS must be 0, 1 or 2")
	case c.PayloadSize < HeaderSize:
		return fmt.Errorf("bench: the payload must be at least %d bytes, for the header", HeaderSize)
	case c.Rate < 0 || c.Count < 0 || c.Duration < 0:
		return errors.New("bench: rate, count and duration cannot be negative")
	case c.Window < 1 || c.Window > 65535:
		return errors.New("bench: the in-flight window must be between 1 and 65535")
	case c.Batch < 1:
		return errors.New("bench: the batch must be at least 1")
	case c.Start < 0:
		return errors.New("bench: the first client index cannot be negative")
	case c.Mode == ModeRetained && !strings.Contains(c.Topic, "%i"):
		return errors.New("bench: retained mode needs %i in the topic, for distinct topics")
	case c.Mode == ModeConn && c.Sources < 0:
		return errors.New("bench: the number of source addresses cannot be negative")
	}
	return nil
}

// parentFilter turns a topic pattern into the filter that covers every
// index: the level holding %i becomes '+', or '#' when it is the last.
func parentFilter(pattern string) string {
	levels := strings.Split(pattern, "/")
	for i, level := range levels {
		if strings.Contains(level, "%i") {
			if i == len(levels)-1 {
				levels[i] = "#"
			} else {
				levels[i] = "+"
			}
		}
	}
	return strings.Join(levels, "/")
}
