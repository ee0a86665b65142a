//go:build !windows

package interop

import (
	"fmt"
	"syscall"
	"testing"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// QoS 1 messages midge acknowledged while its bridge's remote was down
// survive kill -9 of midge: they are in the bridge's local session in the
// store, and all reach a persistent subscriber on mosquitto once midge
// and mosquitto are back.
func TestBridgeQueueSurvivesKill(t *testing.T) {
	const n = 50
	remote := remotes[0].start(t, true) // mosquitto with persistence
	keeper := connectPaho(t, remote.address(), 4, "keeper", func(o *mqtt.ClientOptions) { o.SetCleanSession(false) })
	keeper.subscribe(t, "sensors/#", 1)
	keeper.Disconnect(100)

	b := newCrashBrokerWith(t, "", "connection cloud\naddress "+remote.address()+
		"\nremote_clientid pi\nrestart_timeout 1\ntopic sensors/# out 1\n")
	onMidge := connectPaho(t, b.addr, 4, uniqueClientID(), nil)
	watch := connectPaho(t, remote.address(), 4, uniqueClientID(), nil)
	watch.subscribe(t, "sensors/#", 1)
	untilCrosses(t, onMidge, watch, "sensors/probe")

	remote.stop()
	for i := range n {
		onMidge.publish(t, "sensors/queued", 1, false, fmt.Sprint(i))
	}
	b.stop(syscall.SIGKILL)
	b.start()
	remote.restart()

	keeper = connectPaho(t, remote.address(), 4, "keeper", func(o *mqtt.ClientOptions) { o.SetCleanSession(false) })
	got := map[string]int{}
	for len(got) < n {
		msg := keeper.inbox.next(t, fmt.Sprintf("queued messages (%d of %d so far)", len(got), n))
		if msg.Topic() == "sensors/queued" {
			got[string(msg.Payload())]++
		}
	}
}
