package broker_test

import (
	"errors"
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/brokertest"
	"github.com/midge-mqtt/midge/packets"
)

// challenge is a two-step test method: the client names itself, the broker
// answers "prove it", the client answers "proof:NAME"; names starting with
// "bad" fail at the second step.
type challenge struct{}

func (challenge) Start(method string, _ broker.ConnectInfo) (broker.AuthExchange, bool) {
	return &challengeExchange{}, method == "CHALLENGE"
}

type challengeExchange struct{ user string }

func (x *challengeExchange) Step(data []byte) ([]byte, bool, error) {
	if x.user == "" {
		x.user = string(data)
		return []byte("prove it"), false, nil
	}
	if string(data) != "proof:"+x.user || x.user[:3] == "bad" {
		return nil, false, errors.New("wrong proof")
	}
	return []byte("welcome " + x.user), true, nil
}

func (x *challengeExchange) Username() string { return x.user }

func authConnect(method, user string) func(*packets.Connect) {
	return func(p *packets.Connect) {
		p.Properties.AuthMethod = method
		p.Properties.Set(packets.PropAuthMethod)
		p.Properties.AuthData = []byte(user)
		p.Properties.Set(packets.PropAuthData)
	}
}

func expectAuth(t *testing.T, c *brokertest.Conn, code packets.ReasonCode, data string) {
	t.Helper()
	a, ok := c.Expect().(*packets.Auth)
	if !ok || a.ReasonCode != code || string(a.Properties.AuthData) != data || a.Properties.AuthMethod != "CHALLENGE" {
		t.Fatalf("got %T %+v, want AUTH %#x %q", a, a, byte(code), data)
	}
}

func sendAuth(c *brokertest.Conn, code packets.ReasonCode, data string) {
	a := &packets.Auth{ReasonCode: code}
	a.Properties.AuthMethod = "CHALLENGE"
	a.Properties.Set(packets.PropAuthMethod)
	a.Properties.AuthData = []byte(data)
	a.Properties.Set(packets.PropAuthData)
	c.Send(a)
}

// The AUTH exchange at CONNECT: continue (0x18) until the method is done,
// then CONNACK with the method's last word; the user name it authenticated
// is the one the Authorizer sees. A wrong answer gets 0x86, an unknown
// method 0x8C, and re-authentication (0x19) works on a live connection,
// but not as another user.
func TestEnhancedAuthentication(t *testing.T) {
	t.Parallel()
	seen := make(chan string, 8)
	b := brokertest.Start(t, broker.Options{
		EnhancedAuth:  challenge{},
		Authenticator: broker.AnonymousOnly(false), // passwords are not the way in here
		Authorizer: broker.AuthorizerFunc(func(info broker.ConnectInfo) broker.TopicAccess {
			seen <- info.Username
			return nil
		}),
	})
	c := brokertest.Dial(t, b.Addr, packets.V5)
	p := &packets.Connect{ProtocolName: "MQTT", Version: packets.V5, CleanStart: true, ClientID: "ea"}
	authConnect("CHALLENGE", "alice")(p)
	c.Send(p)
	expectAuth(t, c, packets.ContinueAuthentication, "prove it")
	sendAuth(c, packets.ContinueAuthentication, "proof:alice")
	ack, ok := c.Expect().(*packets.Connack)
	if !ok || ack.ReasonCode != 0 || ack.Properties.AuthMethod != "CHALLENGE" || string(ack.Properties.AuthData) != "welcome alice" {
		t.Fatalf("CONNACK = %+v", ack)
	}
	if u := <-seen; u != "alice" {
		t.Fatalf("Authorizer saw %q", u)
	}

	// Re-authentication on the live connection.
	sendAuth(c, packets.ReAuthenticate, "alice")
	expectAuth(t, c, packets.ContinueAuthentication, "prove it")
	sendAuth(c, packets.ContinueAuthentication, "proof:alice")
	expectAuth(t, c, packets.Success, "welcome alice")
	subscribe(t, c, "still/works", 0)
	// ... but not as someone else.
	sendAuth(c, packets.ReAuthenticate, "mallory")
	expectAuth(t, c, packets.ContinueAuthentication, "prove it")
	sendAuth(c, packets.ContinueAuthentication, "proof:mallory")
	if d, ok := c.ExpectClosed().(*packets.Disconnect); !ok || d.ReasonCode != packets.NotAuthorized {
		t.Fatalf("re-authenticating as another user: got %+v, want DISCONNECT 0x87", d)
	}

	for _, tc := range []struct {
		method, user string
		want         packets.ReasonCode
	}{
		{"CHALLENGE", "bad-bob", packets.NotAuthorized},
		{"KERBEROS", "alice", packets.BadAuthenticationMethod},
	} {
		c := brokertest.Dial(t, b.Addr, packets.V5)
		p := &packets.Connect{ProtocolName: "MQTT", Version: packets.V5, CleanStart: true, ClientID: "ea2"}
		authConnect(tc.method, tc.user)(p)
		c.Send(p)
		if tc.method == "CHALLENGE" {
			expectAuth(t, c, packets.ContinueAuthentication, "prove it")
			sendAuth(c, packets.ContinueAuthentication, "proof:"+tc.user)
		}
		if ack, ok := c.ExpectClosed().(*packets.Connack); !ok || ack.ReasonCode != tc.want {
			t.Errorf("%s %s: got %+v, want CONNACK %#x", tc.method, tc.user, ack, byte(tc.want))
		}
	}
}
