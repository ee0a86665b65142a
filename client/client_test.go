package client_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/internal/mosquittotest"
	"github.com/midge-mqtt/midge/packets"
)

func ctxTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// TestPublishSubscribeQoS sends at every QoS to subscriptions at every QoS
// and checks the delivered QoS is the lower of the two, both ways through
// the broker (the client publishes, and receives, at QoS 0, 1 and 2).
func TestPublishSubscribeQoS(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b testBroker) {
		addr := b.start(t)
		ctx := ctxTimeout(t)
		pub := dial(t, client.Options{Addr: addr, ClientID: uniqueID("pub"), CleanStart: true})
		for subQoS := byte(0); subQoS <= 2; subQoS++ {
			filter := fmt.Sprintf("qos/%d/+", subQoS)
			in := subscriber(t, addr, filter, subQoS)
			for pubQoS := byte(0); pubQoS <= 2; pubQoS++ {
				name := fmt.Sprintf("qos/%d/%d", subQoS, pubQoS)
				payload := fmt.Sprintf("pub %d sub %d", pubQoS, subQoS)
				if err := pub.Publish(ctx, &packets.Publish{Topic: name, QoS: pubQoS, Payload: []byte(payload)}); err != nil {
					t.Fatalf("Publish QoS %d: %v", pubQoS, err)
				}
				got := in.next(t)
				want := message{Topic: name, Payload: payload, QoS: min(pubQoS, subQoS)}
				if got != want {
					t.Errorf("got %+v, want %+v", got, want)
				}
			}
		}
	})
}

// TestOrderAndEmptyPayload checks messages from one publisher arrive in
// order, an empty payload included. All go at QoS 1: MQTT promises the
// order only for one topic and one QoS [MQTT-4.6.0-6] (midge's broker lets
// QoS 0 overtake QoS 1 messages waiting for the in-flight window; Mosquitto
// does not).
func TestOrderAndEmptyPayload(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b testBroker) {
		addr := b.start(t)
		ctx := ctxTimeout(t)
		in := subscriber(t, addr, "order", 1)
		pub := dial(t, client.Options{Addr: addr, ClientID: uniqueID("pub"), CleanStart: true})
		for i := range 50 {
			payload := fmt.Sprint(i)
			if i == 25 {
				payload = ""
			}
			if err := pub.Publish(ctx, &packets.Publish{Topic: "order", QoS: 1, Payload: []byte(payload)}); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 50 {
			want := fmt.Sprint(i)
			if i == 25 {
				want = ""
			}
			if got := in.next(t); got.Payload != want {
				t.Fatalf("message %d: payload %q, want %q", i, got.Payload, want)
			}
		}
	})
}

func TestRetained(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b testBroker) {
		addr := b.start(t)
		ctx := ctxTimeout(t)
		pub := dial(t, client.Options{Addr: addr, ClientID: uniqueID("pub"), CleanStart: true})
		if err := pub.Publish(ctx, &packets.Publish{Topic: "ret/a", QoS: 1, Retain: true, Payload: []byte("kept")}); err != nil {
			t.Fatal(err)
		}
		in := subscriber(t, addr, "ret/#", 1)
		if got, want := in.next(t), (message{Topic: "ret/a", Payload: "kept", QoS: 1, Retain: true}); got != want {
			t.Fatalf("retained: got %+v, want %+v", got, want)
		}
		// A live message reaches an existing subscriber without RETAIN.
		if err := pub.Publish(ctx, &packets.Publish{Topic: "ret/a", QoS: 1, Retain: true, Payload: []byte("new")}); err != nil {
			t.Fatal(err)
		}
		if got := in.next(t); got.Retain || got.Payload != "new" {
			t.Fatalf("live: got %+v", got)
		}
		// An empty retained message clears it: a new subscriber gets only
		// the marker published after.
		if err := pub.Publish(ctx, &packets.Publish{Topic: "ret/a", QoS: 1, Retain: true}); err != nil {
			t.Fatal(err)
		}
		if err := pub.Publish(ctx, &packets.Publish{Topic: "ret/b", QoS: 1, Retain: true, Payload: []byte("marker")}); err != nil {
			t.Fatal(err)
		}
		later := subscriber(t, addr, "ret/#", 1)
		if got := later.next(t); got.Topic != "ret/b" {
			t.Fatalf("after clearing, got %+v first, want the marker", got)
		}
	})
}

func TestKeepAlivePing(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b testBroker) {
		addr := b.start(t)
		var log mosquittotest.SyncBuffer
		c := dial(t, client.Options{
			Addr: addr, ClientID: uniqueID("ka"), CleanStart: true, KeepAlive: time.Second,
			Logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		})
		mosquittotest.WaitFor(t, waitTimeout, "two PINGRESPs", func() bool {
			if err := c.Err(); err != nil {
				t.Fatalf("connection ended: %v\n%s", err, log.String())
			}
			return strings.Count(log.String(), "received PINGRESP") >= 2
		})
		if err := c.Err(); err != nil {
			t.Fatalf("Err = %v", err)
		}
		if !strings.Contains(log.String(), "packet=PINGREQ") {
			t.Errorf("no PINGREQ record attribute in the log:\n%s", log.String())
		}
	})
}

// TestWill checks the will is published when the client drops the
// connection (Close) and not after Disconnect.
func TestWill(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b testBroker) {
		addr := b.start(t)
		ctx := ctxTimeout(t)
		in := subscriber(t, addr, "will/#", 1)
		will := &packets.Will{Topic: "will/gone", Payload: []byte("bye"), QoS: 1}

		polite := dial(t, client.Options{Addr: addr, ClientID: uniqueID("polite"), CleanStart: true, Will: will})
		if err := polite.Disconnect(ctx); err != nil {
			t.Fatalf("Disconnect: %v", err)
		}
		if !errors.Is(polite.Err(), client.ErrClosed) {
			t.Errorf("Err after Disconnect = %v, want ErrClosed", polite.Err())
		}
		// Anything the broker sent for the disconnected client would come
		// before this marker.
		other := dial(t, client.Options{Addr: addr, ClientID: uniqueID("marker"), CleanStart: true})
		if err := other.Publish(ctx, &packets.Publish{Topic: "will/marker", QoS: 1}); err != nil {
			t.Fatal(err)
		}
		if got := in.next(t); got.Topic != "will/marker" {
			t.Fatalf("after Disconnect got %+v, want the marker (no will)", got)
		}

		rude := dial(t, client.Options{Addr: addr, ClientID: uniqueID("rude"), CleanStart: true, Will: will})
		if err := rude.Close(); err != nil {
			t.Fatal(err)
		}
		if got, want := in.next(t), (message{Topic: "will/gone", Payload: "bye", QoS: 1}); got != want {
			t.Fatalf("after Close got %+v, want the will %+v", got, want)
		}
		select {
		case <-rude.Done():
		default:
			t.Error("Done not closed after Close")
		}
	})
}

// TestConcurrentPublishes publishes from many goroutines through one
// client with a small in-flight window; every message must arrive once.
func TestConcurrentPublishes(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b testBroker) {
		addr := b.start(t)
		ctx := ctxTimeout(t)
		in := subscriber(t, addr, "many/#", 2)
		pub := dial(t, client.Options{Addr: addr, ClientID: uniqueID("pub"), CleanStart: true, MaxInflight: 5})
		const goroutines, each = 8, 40
		var wg sync.WaitGroup
		errs := make(chan error, goroutines*each)
		for g := range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					// One QoS per goroutine: order is promised per topic and QoS.
					p := &packets.Publish{Topic: fmt.Sprintf("many/%d", g), QoS: byte(1 + g%2), Payload: []byte(fmt.Sprintf("%d/%d", g, i))}
					if err := pub.Publish(ctx, p); err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		seen := make(map[string]bool)
		next := make([]int, goroutines)
		for range goroutines * each {
			m := in.next(t)
			if seen[m.Payload] {
				t.Fatalf("%q delivered twice", m.Payload)
			}
			seen[m.Payload] = true
			var g, i int
			fmt.Sscanf(m.Payload, "%d/%d", &g, &i)
			if i != next[g] {
				t.Fatalf("goroutine %d: got message %d, want %d (order)", g, i, next[g])
			}
			next[g]++
		}
	})
}

func TestConnectRefused(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b testBroker) {
		addr := b.refusing(t)
		_, err := client.Dial(ctxTimeout(t), client.Options{Addr: addr, ClientID: uniqueID("refused"), CleanStart: true})
		var refused *client.ConnectError
		if !errors.As(err, &refused) || refused.Code != packets.ConnRefusedNotAuthorized {
			t.Fatalf("Dial = %v, want a ConnectError with code 5", err)
		}
		if got := client.ConnackString(refused.Version, refused.Code); got != "Connection Refused: not authorised." {
			t.Errorf("ConnackString = %q", got)
		}
	})
}

func TestSessionPresentAndUnsubscribe(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b testBroker) {
		addr := b.start(t)
		ctx := ctxTimeout(t)
		id := uniqueID("persistent")
		first := dial(t, client.Options{Addr: addr, ClientID: id})
		if first.SessionPresent() {
			t.Error("SessionPresent on a new session")
		}
		if _, err := first.Subscribe(ctx, packets.Subscription{Filter: "sess/a", QoS: 1}, packets.Subscription{Filter: "sess/b", QoS: 1}); err != nil {
			t.Fatal(err)
		}
		if err := first.Unsubscribe(ctx, "sess/a"); err != nil {
			t.Fatal(err)
		}
		if err := first.Disconnect(ctx); err != nil {
			t.Fatal(err)
		}
		// Queued while offline: only sess/b is still subscribed.
		pub := dial(t, client.Options{Addr: addr, ClientID: uniqueID("pub"), CleanStart: true})
		for _, name := range []string{"sess/a", "sess/b"} {
			if err := pub.Publish(ctx, &packets.Publish{Topic: name, QoS: 1, Payload: []byte(name)}); err != nil {
				t.Fatal(err)
			}
		}
		in := newInbox()
		second := dial(t, client.Options{Addr: addr, ClientID: id, OnMessage: in.onMessage})
		if !second.SessionPresent() {
			t.Error("SessionPresent false on a resumed session")
		}
		if got := in.next(t); got.Topic != "sess/b" {
			t.Fatalf("got %+v, want the sess/b message queued offline", got)
		}
	})
}

// TestInvalidArguments checks the client refuses what it must not send.
func TestInvalidArguments(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b testBroker) {
		addr := b.start(t)
		ctx := ctxTimeout(t)
		c := dial(t, client.Options{Addr: addr, ClientID: uniqueID("bad"), CleanStart: true})
		for _, p := range []*packets.Publish{{Topic: "a/#"}, {Topic: ""}, {Topic: "a", QoS: 3}} {
			if err := c.Publish(ctx, p); !errors.Is(err, client.ErrInvalidOptions) {
				t.Errorf("Publish(%+v) = %v, want ErrInvalidOptions", p, err)
			}
		}
		if _, err := c.Subscribe(ctx, packets.Subscription{Filter: "a/#/b"}); !errors.Is(err, client.ErrInvalidOptions) {
			t.Errorf("Subscribe(a/#/b) = %v", err)
		}
		if err := c.Unsubscribe(ctx); !errors.Is(err, client.ErrInvalidOptions) {
			t.Errorf("Unsubscribe() = %v", err)
		}
		// The connection is still usable.
		if err := c.Publish(ctx, &packets.Publish{Topic: "ok", QoS: 1}); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if err := c.Publish(ctx, &packets.Publish{Topic: "ok", QoS: 1}); !errors.Is(err, client.ErrClosed) {
			t.Errorf("Publish after Close = %v, want ErrClosed", err)
		}
	})
	_, err := client.Dial(ctxTimeout(t), client.Options{})
	if !errors.Is(err, client.ErrInvalidOptions) {
		t.Errorf("Dial without Addr = %v", err)
	}
}

// TestMQTT5 runs a publish/subscribe round at MQTT 5 (the command line
// tools are 3.1/3.1.1 only for now).
func TestMQTT5(t *testing.T) {
	forEachBroker(t, func(t *testing.T, b testBroker) {
		addr := b.start(t)
		ctx := ctxTimeout(t)
		in := newInbox()
		sub := dial(t, client.Options{Addr: addr, Version: packets.V5, CleanStart: true, OnMessage: in.onMessage})
		if sub.ClientID() == "" {
			t.Error("no client id assigned for an empty one")
		}
		if _, err := sub.Subscribe(ctx, packets.Subscription{Filter: "five/#", QoS: 2}); err != nil {
			t.Fatal(err)
		}
		pub := dial(t, client.Options{Addr: addr, Version: packets.V5, ClientID: uniqueID("pub5"), CleanStart: true})
		for qos := byte(0); qos <= 2; qos++ {
			if err := pub.Publish(ctx, &packets.Publish{Topic: "five/x", QoS: qos, Payload: []byte{'0' + qos}}); err != nil {
				t.Fatalf("QoS %d: %v", qos, err)
			}
			if got := in.next(t); got.QoS != qos || got.Payload != string('0'+qos) {
				t.Fatalf("got %+v", got)
			}
		}
		if err := sub.Unsubscribe(ctx, "five/#"); err != nil {
			t.Fatal(err)
		}
		if err := sub.Disconnect(ctx); err != nil {
			t.Fatal(err)
		}
	})
}
