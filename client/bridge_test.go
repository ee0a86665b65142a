package client_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/packets"
)

// Options.Bridge announces a bridge as Mosquitto's try_private does: the
// broker says so, and sends the bridge none of its own messages back.
func TestBridgeFlag(t *testing.T) {
	logger, log := brokertest.NewLog(slog.LevelInfo)
	b := brokertest.Start(t, broker.Options{Logger: logger})
	got := make(chan string, 4)
	c, err := client.Dial(context.Background(), client.Options{Addr: b.Addr, ClientID: "br", CleanStart: true, Bridge: true,
		OnMessage: func(p *packets.Publish) { got <- string(p.Payload) }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitLogged(t, log, "New bridge connected from ", " as br (p2, c1, k0).")
	if _, err := c.Subscribe(ctxTimeout(t), packets.Subscription{Filter: "b/#", QoS: 1}); err != nil {
		t.Fatal(err)
	}
	if err := c.Publish(ctxTimeout(t), &packets.Publish{Topic: "b/own", QoS: 1, Payload: []byte("own")}); err != nil {
		t.Fatal(err)
	}
	other := brokertest.Connect(t, b.Addr, packets.V311, "other", true)
	other.Send(&packets.Publish{Topic: "b/other", Payload: []byte("other")})
	if p := <-got; p != "other" {
		t.Fatalf("the bridge got %q first, want only the other client's message", p)
	}
}

// waitLogged waits for a log line with that start and end.
func waitLogged(t *testing.T, log *brokertest.Log, prefix, suffix string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for time.Now().Before(deadline) {
		for _, l := range log.Lines() {
			if strings.HasPrefix(l, prefix) && strings.HasSuffix(l, suffix) {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no line %q...%q in the log:\n%s", prefix, suffix, strings.Join(log.Lines(), "\n"))
}
