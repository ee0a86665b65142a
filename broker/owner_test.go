package broker_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/packets"
)

// connectAs sends a CONNECT for a lasting session (MQTT 5: expiry one hour)
// as user, or without a user name when user is "", and returns the
// connection and its CONNACK.
func connectAs(t *testing.T, addr string, version byte, clientID, user string, clean bool) (*brokertest.Conn, *packets.Connack) {
	t.Helper()
	c := brokertest.Dial(t, addr, version)
	p := &packets.Connect{ProtocolName: "MQTT", Version: version, CleanStart: clean, KeepAlive: 60, ClientID: clientID}
	if user != "" {
		p.Username, p.UsernameFlag = user, true
	}
	if version == packets.V5 {
		withExpiry(3600)(p)
	}
	c.Send(p)
	ack, ok := c.Expect().(*packets.Connack)
	if !ok {
		t.Fatalf("got %T %+v, want CONNACK", ack, ack)
	}
	return c, ack
}

// refusedAs expects the CONNACK that refuses a client another user's
// session: 0x85 at MQTT 5, 2 before; then the connection closes.
func refusedAs(t *testing.T, addr string, version byte, clientID, user string) {
	t.Helper()
	c, ack := connectAs(t, addr, version, clientID, user, false)
	want := packets.ConnRefusedIdentifier
	if version == packets.V5 {
		want = packets.ClientIDNotValid
	}
	if ack.ReasonCode != want || ack.SessionPresent {
		t.Fatalf("CONNACK = %+v, want refused with 0x%02X", ack, byte(want))
	}
	c.ExpectClosed()
}

// syncBuffer is a log destination the broker's goroutines may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A session made by a user is not another's to take: a client of another
// user, or one without a user name, is refused, whether the session is
// offline or online, and the session (subscriptions, queued messages, the
// connection holding it) is left as it was. The log names both users.
func TestOtherUserCannotTakeSession(t *testing.T) {
	t.Parallel()
	for _, version := range []byte{packets.V311, packets.V5} {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			var log syncBuffer
			b := brokertest.Start(t, broker.Options{Logger: slog.New(slog.NewTextHandler(&log, nil))})
			alice, ack := connectAs(t, b.Addr, version, "shared-id", "alice", false)
			if ack.ReasonCode != 0 {
				t.Fatalf("CONNACK = %+v", ack)
			}
			subscribe(t, alice, "alice/#", 1)
			pub := brokertest.Connect(t, b.Addr, packets.V311, "pub", true)

			// Online: the refusal leaves alice's connection up.
			refusedAs(t, b.Addr, version, "shared-id", "mallory")
			refusedAs(t, b.Addr, version, "shared-id", "")
			publishQoS1(t, pub, "alice/inbox", "online", 1)
			p := expectPublish(t, alice)
			if string(p.Payload) != "online" {
				t.Fatalf("got %+v", p)
			}
			alice.Send(&packets.Ack{Kind: packets.TypePuback, PacketID: p.PacketID})
			if line := log.String(); !strings.Contains(line, "user 'mallory'") || !strings.Contains(line, "belongs to user 'alice'") {
				t.Errorf("log does not name both users:\n%s", line)
			}

			// Offline: the queued message waits for alice.
			alice.Send(&packets.Disconnect{})
			alice.ExpectClosed()
			publishQoS1(t, pub, "alice/inbox", "offline", 2)
			refusedAs(t, b.Addr, version, "shared-id", "mallory")
			refusedAs(t, b.Addr, version, "shared-id", "")

			again, ack := connectAs(t, b.Addr, version, "shared-id", "alice", false)
			if ack.ReasonCode != 0 || !ack.SessionPresent {
				t.Fatalf("CONNACK = %+v, want alice's session present", ack)
			}
			if p := expectPublish(t, again); string(p.Payload) != "offline" {
				t.Fatalf("got %+v, want the message queued for alice", p)
			}
		})
	}
}

// The same user takes its session over as before: the old connection is
// closed (MQTT 5: DISCONNECT 0x8E) and the session goes on. Clients without
// a user name take over each other's sessions, as in Mosquitto; a named
// user taking an anonymous client's identifier gets a fresh session.
func TestSameUserTakesSessionOver(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{})
	for _, tc := range []struct{ name, first, second string }{
		{"same user", "alice", "alice"},
		{"anonymous", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := "id-" + tc.first
			old, _ := connectAs(t, b.Addr, packets.V5, id, tc.first, true)
			subscribe(t, old, "keep/"+id, 1)
			c, ack := connectAs(t, b.Addr, packets.V5, id, tc.second, false)
			if ack.ReasonCode != 0 || !ack.SessionPresent {
				t.Fatalf("CONNACK = %+v, want the session taken over", ack)
			}
			if d, ok := old.ExpectClosed().(*packets.Disconnect); !ok || d.ReasonCode != packets.SessionTakenOver {
				t.Fatalf("old connection got %+v, want DISCONNECT 0x8E [MQTT-3.1.4-2]", d)
			}
			pub := brokertest.Connect(t, b.Addr, packets.V311, "pub-"+id, true)
			publishQoS1(t, pub, "keep/"+id, "still subscribed", 1)
			if p := expectPublish(t, c); string(p.Payload) != "still subscribed" {
				t.Fatalf("got %+v", p)
			}
		})
	}
	t.Run("named user over anonymous", func(t *testing.T) {
		old, _ := connectAs(t, b.Addr, packets.V5, "anon-id", "", true)
		subscribe(t, old, "anon/#", 1)
		_, ack := connectAs(t, b.Addr, packets.V5, "anon-id", "bob", false)
		if ack.ReasonCode != 0 || ack.SessionPresent {
			t.Fatalf("CONNACK = %+v, want accepted with a fresh session", ack)
		}
		old.ExpectClosed()
	})
}

// With SessionTakeoverAnyUser any user takes a session over and inherits
// it, as in Mosquitto.
func TestSessionTakeoverAnyUser(t *testing.T) {
	t.Parallel()
	b := brokertest.Start(t, broker.Options{SessionTakeoverAnyUser: true})
	alice, _ := connectAs(t, b.Addr, packets.V311, "shared-id", "alice", false)
	subscribe(t, alice, "alice/#", 1)
	mallory, ack := connectAs(t, b.Addr, packets.V311, "shared-id", "mallory", false)
	if ack.ReasonCode != 0 || !ack.SessionPresent {
		t.Fatalf("CONNACK = %+v, want the session taken over", ack)
	}
	alice.ExpectClosed()
	pub := brokertest.Connect(t, b.Addr, packets.V311, "pub", true)
	publishQoS1(t, pub, "alice/inbox", "inherited", 1)
	if p := expectPublish(t, mallory); string(p.Payload) != "inherited" {
		t.Fatalf("got %+v", p)
	}
}

// A session restored from the store keeps its owner: after a restart on
// the same store another user, or a client without a user name, is
// refused at either protocol level, and the session is left whole: the
// owner resumes it with its queued message and its subscription.
func TestSessionOwnerSurvivesRestart(t *testing.T) {
	t.Parallel()
	for _, version := range []byte{packets.V311, packets.V5} {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			dir := t.TempDir()
			st, closeStore := openDisk(t, dir)
			b := brokertest.Start(t, broker.Options{Store: st})
			alice, _ := connectAs(t, b.Addr, version, "shared-id", "alice", false)
			subscribe(t, alice, "alice/#", 1)
			alice.Send(&packets.Disconnect{})
			alice.ExpectClosed()
			pub := brokertest.Connect(t, b.Addr, packets.V311, "pub", true)
			publishQoS1(t, pub, "alice/inbox", "queued", 1)
			b.Stop()
			closeStore()

			st, _ = openDisk(t, dir)
			b = brokertest.Start(t, broker.Options{Store: st})
			refusedAs(t, b.Addr, packets.V311, "shared-id", "bob")
			refusedAs(t, b.Addr, packets.V5, "shared-id", "bob")
			refusedAs(t, b.Addr, packets.V5, "shared-id", "")
			again, ack := connectAs(t, b.Addr, version, "shared-id", "alice", false)
			if ack.ReasonCode != 0 || !ack.SessionPresent {
				t.Fatalf("CONNACK = %+v, want alice's session present", ack)
			}
			p := expectPublish(t, again)
			if string(p.Payload) != "queued" {
				t.Fatalf("got %+v, want the message queued for alice", p)
			}
			again.Send(&packets.Ack{Kind: packets.TypePuback, PacketID: p.PacketID})
			pub = brokertest.Connect(t, b.Addr, packets.V311, "pub", true)
			publishQoS1(t, pub, "alice/inbox", "after", 1)
			if p := expectPublish(t, again); string(p.Payload) != "after" {
				t.Fatalf("got %+v, want alice still subscribed", p)
			}
		})
	}
}
