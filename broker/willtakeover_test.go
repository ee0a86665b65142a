package broker_test

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/packets"
)

// takeoverConnect is a CONNECT of the client "taken" with a clean flag: at
// MQTT 5, a session kept for a minute unless it starts clean (Mosquitto's
// 07-will-takeover.py does the same). delay, if not 0, is the will's Will
// Delay Interval; will false sends no will.
func takeoverConnect(version byte, clean, will bool, delay uint32) *packets.Connect {
	p := &packets.Connect{ProtocolName: "MQTT", Version: version, CleanStart: clean, KeepAlive: 60, ClientID: "taken"}
	if version == packets.V5 && !clean {
		withExpiry(60)(p)
	}
	if will {
		p.Will = &packets.Will{Topic: "will/taken", Payload: []byte("LWT")}
		if delay > 0 {
			p.Will.Properties.WillDelay = delay
			p.Will.Properties.Set(packets.PropWillDelay)
		}
	}
	return p
}

// takeOver connects first (with a will), takes its client identifier over
// with second, and reports whether the watcher, subscribed to the will's
// topic, received the will. The old connection has ended, its will
// published or not, once the broker logs its end; a marker the new
// connection publishes after that reaches the watcher after any will.
func takeOver(t *testing.T, first, second *packets.Connect) bool {
	t.Helper()
	var log syncBuffer
	b := brokertest.Start(t, broker.Options{Logger: slog.New(slog.NewTextHandler(&log, nil))})
	watcher := brokertest.Connect(t, b.Addr, packets.V311, "watcher", true)
	subscribe(t, watcher, "will/taken", 0)

	old := brokertest.Dial(t, b.Addr, first.Version)
	old.Send(first)
	if ack, ok := old.Expect().(*packets.Connack); !ok || ack.ReasonCode != 0 {
		t.Fatalf("first CONNACK = %+v", ack)
	}
	c := brokertest.Dial(t, b.Addr, second.Version)
	c.Send(second)
	ack, ok := c.Expect().(*packets.Connack)
	if !ok || ack.ReasonCode != 0 {
		t.Fatalf("second CONNACK = %+v", ack)
	}
	if resumed := !first.CleanStart && !second.CleanStart; ack.SessionPresent != resumed {
		t.Fatalf("second CONNACK = %+v, want session present %v", ack, resumed)
	}
	old.ExpectClosed()
	waitFor(t, func() bool {
		return strings.Contains(log.String(), "Client taken already connected, closing old connection.")
	})

	c.Send(&packets.Publish{Topic: "will/taken", Payload: []byte("marker")})
	p := expectPublish(t, watcher)
	if string(p.Payload) == "marker" {
		return false
	}
	if string(p.Payload) != "LWT" {
		t.Fatalf("watcher got %+v", p)
	}
	if p := expectPublish(t, watcher); string(p.Payload) != "marker" {
		t.Fatalf("watcher got %+v after the will, want the marker", p)
	}
	return true
}

// On a takeover the old connection's will goes by Mosquitto 2.0's rule
// (src/handle_connect.c, connect__on_authorised; its test
// 07-will-takeover.py): it is published when the old session ends with the
// takeover (the old connection had Clean Session 1 or Session Expiry 0, or
// the new one starts clean), and withheld when the new connection resumes
// the session [MQTT-3.1.2-8].
func TestTakeoverWill(t *testing.T) {
	t.Parallel()
	for _, version := range []byte{packets.V311, packets.V5} {
		for _, tc := range []struct {
			firstClean, secondClean bool
		}{{true, true}, {false, true}, {true, false}, {false, false}} {
			want := tc.firstClean || tc.secondClean
			t.Run(fmt.Sprintf("v%d/first-clean-%v/second-clean-%v", version, tc.firstClean, tc.secondClean), func(t *testing.T) {
				got := takeOver(t, takeoverConnect(version, tc.firstClean, true, 0), takeoverConnect(version, tc.secondClean, false, 0))
				if got != want {
					t.Fatalf("will published %v, want %v", got, want)
				}
			})
		}
	}
}

// A Will Delay Interval does not change the rule: resumed, the will is
// withheld [MQTT-3.1.3-9]; the session ended by the takeover, it is
// published then, since the session ended before the delay passed
// [MQTT-3.1.2-8] (Mosquitto 2.0 drops it).
func TestTakeoverDelayedWill(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		firstClean, secondClean bool
	}{{true, false}, {false, true}, {false, false}} {
		want := tc.firstClean || tc.secondClean
		t.Run(fmt.Sprintf("first-clean-%v/second-clean-%v", tc.firstClean, tc.secondClean), func(t *testing.T) {
			got := takeOver(t, takeoverConnect(packets.V5, tc.firstClean, true, 60), takeoverConnect(packets.V5, tc.secondClean, false, 0))
			if got != want {
				t.Fatalf("will published %v, want %v", got, want)
			}
		})
	}
}
