package client_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/packets"
)

// fakeAuth is a scripted AuthMethod: Start returns "start", Next answers
// data with "re:"+data, and Finish accepts only final. It records every
// call.
type fakeAuth struct {
	final string

	mu    sync.Mutex
	calls []string // guarded by mu
}

func (f *fakeAuth) Name() string { return "FAKE" }

func (f *fakeAuth) record(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
}

func (f *fakeAuth) Start() ([]byte, error) {
	f.record("Start")
	return []byte("start"), nil
}

func (f *fakeAuth) Next(server []byte) ([]byte, error) {
	f.record("Next " + string(server))
	if string(server) == "refuse" {
		return nil, errors.New("fake: refused")
	}
	return []byte("re:" + string(server)), nil
}

func (f *fakeAuth) Finish(server []byte) error {
	f.record("Finish " + string(server))
	if string(server) != f.final {
		return fmt.Errorf("fake: server proof %q", server)
	}
	return nil
}

func (f *fakeAuth) history() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// authPacket is the AUTH the fake server sends.
func authPacket(code packets.ReasonCode, method, data string) *packets.Auth {
	return &packets.Auth{ReasonCode: code, Properties: packets.Properties{AuthMethod: method, AuthData: []byte(data)}}
}

// expectAuth reads an AUTH from the client and checks it.
func (s *fakeServer) expectAuth(code packets.ReasonCode, data string) {
	s.t.Helper()
	p := s.expect()
	a, ok := p.(*packets.Auth)
	if !ok || a.ReasonCode != code || a.Properties.AuthMethod != "FAKE" || string(a.Properties.AuthData) != data {
		s.t.Fatalf("got %T %+v, want AUTH 0x%02X %q", p, p, byte(code), data)
	}
}

// TestEnhancedAuthentication: CONNECT carries the method and its first
// data, each AUTH (continue) is answered with Next, and the CONNACK's data
// goes to Finish.
func TestEnhancedAuthentication(t *testing.T) {
	auth := &fakeAuth{final: "proof"}
	s, connect, dialed := startFake(t, client.Options{Version: packets.V5, Auth: auth})
	if connect.Properties.AuthMethod != "FAKE" || string(connect.Properties.AuthData) != "start" {
		t.Fatalf("CONNECT properties %+v", connect.Properties)
	}
	s.send(authPacket(packets.ContinueAuthentication, "FAKE", "one"))
	s.expectAuth(packets.ContinueAuthentication, "re:one")
	s.send(authPacket(packets.ContinueAuthentication, "FAKE", "two"))
	s.expectAuth(packets.ContinueAuthentication, "re:two")
	s.send(connackWith(packets.Properties{AuthMethod: "FAKE", AuthData: []byte("proof")}))
	c := awaitDial(t, dialed)
	if want := []string{"Start", "Next one", "Next two", "Finish proof"}; !slices.Equal(auth.history(), want) {
		t.Errorf("calls %q, want %q", auth.history(), want)
	}
	if len(c.Connack().Properties.AuthData) != 0 {
		t.Errorf("Connack keeps AuthData %q, which aliased the read buffer", c.Connack().Properties.AuthData)
	}
}

// TestEnhancedAuthenticationFailures: a server the method does not verify,
// a method that gives up, an AUTH with another method, and an AUTH sent to
// a client without a method all fail the Dial.
func TestEnhancedAuthenticationFailures(t *testing.T) {
	cases := []struct {
		name   string
		auth   client.AuthMethod
		script []packets.Packet
		want   error
	}{
		{"server not verified", &fakeAuth{final: "proof"},
			[]packets.Packet{connackWith(packets.Properties{AuthMethod: "FAKE", AuthData: []byte("forged")})}, client.ErrAuthentication},
		{"method gives up", &fakeAuth{},
			[]packets.Packet{authPacket(packets.ContinueAuthentication, "FAKE", "refuse")}, client.ErrAuthentication},
		{"other method", &fakeAuth{},
			[]packets.Packet{authPacket(packets.ContinueAuthentication, "OTHER", "x")}, client.ErrProtocol},
		{"no method", nil,
			[]packets.Packet{authPacket(packets.ContinueAuthentication, "FAKE", "x")}, client.ErrProtocol},
		{"re-authenticate before CONNACK", &fakeAuth{},
			[]packets.Packet{authPacket(packets.ReAuthenticate, "FAKE", "x")}, client.ErrProtocol},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, _, dialed := startFake(t, client.Options{Version: packets.V5, Auth: tc.auth})
			for _, p := range tc.script {
				s.send(p)
			}
			if err := awaitDialError(t, dialed); !errors.Is(err, tc.want) {
				t.Errorf("Dial = %v, want %v", err, tc.want)
			}
		})
	}
	// A refusal is a ConnectError as usual.
	s, _, dialed := startFake(t, client.Options{Version: packets.V5, Auth: &fakeAuth{}})
	s.send(&packets.Connack{ReasonCode: packets.BadAuthenticationMethod})
	var refused *client.ConnectError
	if err := awaitDialError(t, dialed); !errors.As(err, &refused) || refused.Code != packets.BadAuthenticationMethod {
		t.Errorf("refused: %v", err)
	}
	// Enhanced authentication exists in MQTT 5 only.
	if _, err := client.Dial(ctxTimeout(t), client.Options{Addr: "127.0.0.1:1", Auth: &fakeAuth{}}); !errors.Is(err, client.ErrInvalidOptions) {
		t.Errorf("Auth with MQTT 3.1.1: %v", err)
	}
}

// TestReauthenticate runs a re-authentication, then one whose server is
// not verified (the client disconnects), then one the server refuses.
func TestReauthenticate(t *testing.T) {
	auth := &fakeAuth{final: "proof"}
	connack := connackWith(packets.Properties{AuthMethod: "FAKE", AuthData: []byte("proof")})
	c, s := dialFake(t, client.Options{Version: packets.V5, Auth: auth}, connack)
	done := make(chan error, 1)
	go func() { done <- c.Reauthenticate(ctxTimeout(t)) }()
	s.expectAuth(packets.ReAuthenticate, "start")
	s.send(authPacket(packets.ContinueAuthentication, "FAKE", "one"))
	s.expectAuth(packets.ContinueAuthentication, "re:one")
	s.send(authPacket(packets.Success, "FAKE", "proof"))
	if err := <-done; err != nil {
		t.Fatalf("Reauthenticate = %v", err)
	}
	want := []string{"Start", "Finish proof", "Start", "Next one", "Finish proof"}
	if !slices.Equal(auth.history(), want) {
		t.Errorf("calls %q, want %q", auth.history(), want)
	}

	go func() { done <- c.Reauthenticate(ctxTimeout(t)) }()
	s.expectAuth(packets.ReAuthenticate, "start")
	s.send(authPacket(packets.Success, "FAKE", "forged"))
	if err := <-done; !errors.Is(err, client.ErrAuthentication) {
		t.Errorf("unverified server: Reauthenticate = %v", err)
	}
	s.expectDisconnect(packets.UnspecifiedError)
	if err := waitDone(t, c); !errors.Is(err, client.ErrAuthentication) {
		t.Errorf("Err = %v", err)
	}

	c, s = dialFake(t, client.Options{Version: packets.V5, Auth: &fakeAuth{final: "proof"}}, connack)
	go func() { done <- c.Reauthenticate(ctxTimeout(t)) }()
	s.expectAuth(packets.ReAuthenticate, "start")
	s.send(&packets.Disconnect{ReasonCode: packets.NotAuthorized})
	var de *client.DisconnectError
	if err := <-done; !errors.As(err, &de) || de.Code != packets.NotAuthorized {
		t.Errorf("refused: Reauthenticate = %v", err)
	}

	// Without a method there is nothing to run; an AUTH out of the blue is
	// a protocol error.
	c, s = dialFake(t, client.Options{Version: packets.V5}, acceptedV5)
	if err := c.Reauthenticate(ctxTimeout(t)); !errors.Is(err, client.ErrInvalidOptions) {
		t.Errorf("without Auth: %v", err)
	}
	s.send(authPacket(packets.Success, "FAKE", ""))
	s.expectDisconnect(packets.ProtocolError)
	if err := waitDone(t, c); !errors.Is(err, client.ErrProtocol) {
		t.Errorf("stray AUTH: Err = %v", err)
	}
}
