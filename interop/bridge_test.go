package interop

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/internal/mosquittotest"
)

// duplicateWait is how long a test waits after the last expected message
// for copies that should never come.
const duplicateWait = 500 * time.Millisecond

// A Mosquitto bridge with try_private (its default) connects to midge with
// protocol level 0x83 (3.1) or 0x84 (3.1.1) and "topic x/# both 0". midge
// must not send the bridge its own messages back: each message published on
// either side arrives once on each side, not twice on Mosquitto's.
func TestMosquittoBridgeBoth(t *testing.T) {
	for _, version := range []string{"mqttv31", "mqttv311"} {
		t.Run(version, func(t *testing.T) { testMosquittoBridgeBoth(t, version) })
	}
}

func testMosquittoBridgeBoth(t *testing.T, version string) {
	log := &mosquittotest.SyncBuffer{}
	b := brokertest.Start(t, broker.Options{Logger: slog.New(slog.NewTextHandler(log, nil))})
	mosquitto := mosquittotest.Start(t, fmt.Sprintf(
		"connection midge\naddress %s\ntopic x/# both 0\nbridge_protocol_version %s\n", b.Addr, version))
	mosquittotest.WaitFor(t, 10*time.Second, "the bridge's subscription on midge", func() bool {
		return b.Server.Stats().Subscriptions >= 1
	})
	if !strings.Contains(log.String(), "New bridge connected from") {
		t.Errorf("midge did not log the bridge as one:\n%s", log.String())
	}

	onMosquitto := connectPaho(t, mosquitto, 4, uniqueClientID(), nil)
	onMosquitto.subscribe(t, "x/#", 0)
	onMidge := connectPaho(t, b.Addr, 4, uniqueClientID(), nil)
	onMidge.subscribe(t, "x/#", 0)

	for i, from := range []*pahoClient{onMosquitto, onMidge} {
		side := []string{"mosquitto", "midge"}[i]
		payload := "published on " + side
		from.publish(t, "x/"+side, 1, false, payload)
		for j, to := range []*pahoClient{onMosquitto, onMidge} {
			m := to.inbox.next(t, payload+" on "+[]string{"mosquitto", "midge"}[j])
			expectMessage(t, m, "x/"+side, payload, 0, false)
		}
	}
	// Any copy that loops back has had time to arrive.
	time.Sleep(duplicateWait) // waiting for what must not come: nothing to poll for
	for j, to := range []*pahoClient{onMosquitto, onMidge} {
		var extra []mqtt.Message
		for len(to.inbox.messages) > 0 {
			extra = append(extra, <-to.inbox.messages)
		}
		if len(extra) > 0 {
			t.Errorf("%s's subscriber got copies: %s", []string{"mosquitto", "midge"}[j], describeAll(extra))
		}
	}
}
