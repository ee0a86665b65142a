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

// With DeferAck, a QoS 1 or 2 message is acknowledged only by Ack, in the
// caller's order; a QoS 2 message sent again with DUP before its release
// is not delivered twice; the PUBREL that follows PUBREC is still answered.
func TestDeferAck(t *testing.T) {
	got := make(chan uint16, 8)
	c, s := dialFake(t, client.Options{ClientID: "d", DeferAck: true,
		OnMessage: func(p *packets.Publish) { got <- p.PacketID }}, &packets.Connack{})
	s.send(&packets.Publish{Topic: "a", QoS: 1, PacketID: 1, Payload: []byte("1")})
	s.send(&packets.Publish{Topic: "a", QoS: 2, PacketID: 2, Payload: []byte("2")})
	s.send(&packets.Publish{Topic: "a", QoS: 2, PacketID: 2, Dup: true, Payload: []byte("2")})
	s.send(&packets.Publish{Topic: "a", QoS: 0, Payload: []byte("0")})
	for _, want := range []uint16{1, 2, 0} {
		select {
		case id := <-got:
			if id != want {
				t.Fatalf("delivered packet %d, want %d", id, want)
			}
		case <-time.After(waitTimeout):
			t.Fatalf("packet %d not delivered", want)
		}
	}
	s.expectNothing(100 * time.Millisecond)
	if err := c.Ack(1, 1); err != nil {
		t.Fatal(err)
	}
	s.expectAck(packets.TypePuback, 1)
	if err := c.Ack(2, 2); err != nil {
		t.Fatal(err)
	}
	s.expectAck(packets.TypePubrec, 2)
	s.send(&packets.Ack{Kind: packets.TypePubrel, PacketID: 2})
	s.expectAck(packets.TypePubcomp, 2)
	if len(got) != 0 {
		t.Fatalf("delivered packet %d again", <-got)
	}
}
