package broker_test

import (
	"context"
	"net"
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/packets"
)

// A listener with its own Security decides for its clients; the others
// keep the Options' rules (Mosquitto's per_listener_settings).
func TestListenerSecurity(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	onlyBob := broker.AuthenticatorFunc(func(_ context.Context, info broker.ConnectInfo) error {
		if info.Username == "bob" {
			return nil
		}
		return broker.ErrNotAuthorized
	})
	readNothing := broker.AuthorizerFunc(func(broker.ConnectInfo) broker.TopicAccess { return denyRead{} })
	own := brokertest.Serve(t, broker.Options{}, l, broker.ListenerOptions{Security: &broker.Security{
		Authenticator: onlyBob, Authorizer: readNothing, NoEmptyClientID: true,
	}})
	open := own.Server
	l2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go open.Serve(l2)

	code := func(addr, id, user string) packets.ReasonCode {
		c := brokertest.Dial(t, addr, packets.V311)
		p := &packets.Connect{ProtocolName: "MQTT", Version: packets.V311, CleanStart: true, KeepAlive: 60, ClientID: id}
		if user != "" {
			p.Username, p.UsernameFlag = user, true
		}
		c.Send(p)
		ack, ok := c.Expect().(*packets.Connack)
		if !ok {
			t.Fatalf("got %T, want CONNACK", ack)
		}
		return ack.ReasonCode
	}
	if got := code(own.Addr, "a", ""); got != packets.ConnRefusedNotAuthorized {
		t.Errorf("anonymous on the secured listener: CONNACK %d, want 5", got)
	}
	if got := code(own.Addr, "", "bob"); got != packets.ConnRefusedIdentifier {
		t.Errorf("empty client id on the secured listener: CONNACK %d, want 2", got)
	}
	if got := code(own.Addr, "b", "bob"); got != packets.ConnAccepted {
		t.Errorf("bob on the secured listener: CONNACK %d, want 0", got)
	}
	if got := code(l2.Addr().String(), "", ""); got != packets.ConnAccepted {
		t.Errorf("anonymous on the other listener: CONNACK %d, want 0", got)
	}

	bob := brokertest.ConnectUser(t, own.Addr, packets.V311, "bob2", "bob", true)
	subscribe(t, bob, "r", 0)
	anon := brokertest.Connect(t, l2.Addr().String(), packets.V311, "anon", true)
	subscribe(t, anon, "r", 0)
	pub := brokertest.Connect(t, l2.Addr().String(), packets.V311, "pub", true)
	pub.Send(&packets.Publish{Topic: "r", Payload: []byte("x")})
	expectPublish(t, anon)
	expectNothing(t, bob) // the secured listener's Authorizer lets it read nothing
}

type denyRead struct{}

func (denyRead) CanRead(string) bool  { return false }
func (denyRead) CanWrite(string) bool { return true }
