package interop

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/eclipse/paho.golang/paho"

	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/internal/auth"
)

// scramMethod is the MQTT 5 Authentication Method of SCRAM-SHA-512.
const scramMethod = "SCRAM-SHA-512"

// MQTT 5 reason codes of AUTH.
const (
	authContinue       = 0x18
	authReauthenticate = 0x19
)

// scramAuther is paho.golang's side of SCRAM-SHA-512, a paho.Auther: it
// answers the broker's server-first-message (AUTH 0x18) with
// client-final-message, with midge's client.SCRAM doing the arithmetic.
// paho.golang calls it from its own goroutines.
type scramAuther struct {
	mu    sync.Mutex
	scram *client.SCRAM // guarded by mu
	steps int           // AUTH 0x18 packets answered; guarded by mu
	err   error         // the first failure; guarded by mu
}

// newSCRAMAuther returns a scramAuther for username and password.
func newSCRAMAuther(username, password string) *scramAuther {
	return &scramAuther{scram: client.SCRAMSHA512(username, []byte(password))}
}

// first returns client-first-message, starting an exchange.
func (a *scramAuther) first(t *testing.T) []byte {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	data, err := a.scram.Start()
	if err != nil {
		t.Fatalf("SCRAM start: %v", err)
	}
	return data
}

// Authenticate answers the broker's AUTH 0x18.
func (a *scramAuther) Authenticate(in *paho.Auth) *paho.Auth {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.steps++
	var data []byte
	switch {
	case in.ReasonCode != authContinue || in.Properties == nil || in.Properties.AuthMethod != scramMethod:
		a.fail(fmt.Errorf("broker sent AUTH %#x %+v", in.ReasonCode, in.Properties))
	default:
		var err error
		if data, err = a.scram.Next(in.Properties.AuthData); err != nil {
			a.fail(err)
		}
	}
	return &paho.Auth{ReasonCode: authContinue, Properties: &paho.AuthProperties{AuthMethod: scramMethod, AuthData: data}}
}

// Authenticated is called when CONNACK or AUTH 0x00 ends an exchange; the
// test checks server-final-message itself where paho.golang passes it on.
func (a *scramAuther) Authenticated() {}

// fail records the first failure; a.mu is held.
func (a *scramAuther) fail(err error) {
	if a.err == nil {
		a.err = err
	}
}

// finish checks server-final-message and reports how many AUTH 0x18
// packets were answered and the first failure.
func (a *scramAuther) finish(serverFinal []byte) (steps int, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err == nil && serverFinal != nil {
		a.fail(a.scram.Finish(serverFinal))
	}
	return a.steps, a.err
}

// SCRAM-SHA-512 from paho.golang against a midge broker with a password
// file: a full exchange whose server signature verifies, a
// re-authentication on the open connection (Client.Authenticate), a
// re-authentication with the wrong password (DISCONNECT 0x87), a wrong
// password at CONNECT (CONNACK 0x87, as Mosquitto) and an unknown method (CONNACK 0x8C).
// The broker is always in-process: it needs the password file.
func TestV5SCRAMPaho(t *testing.T) {
	dir := t.TempDir()
	hash, err := auth.Hash(auth.PBKDF2SHA512, []byte("s3cret"), auth.DefaultIterations)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "passwd"), []byte("alice:"+hash+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := startSecureBroker(t, dir, "listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {dir}/passwd\n").addr
	connect := func(t *testing.T, a *scramAuther, method string) (*v5Client, error) {
		t.Helper()
		return tryConnectV5(t, addr, uniqueClientID(), func(config *paho.ClientConfig) { config.AuthHandler = a },
			func(cp *paho.Connect) {
				cp.Properties = &paho.ConnectProperties{AuthMethod: method, AuthData: a.first(t), RequestProblemInfo: true}
			})
	}

	t.Run("exchange and re-authentication", func(t *testing.T) {
		a := newSCRAMAuther("alice", "s3cret")
		c, err := connect(t, a, scramMethod)
		if err != nil {
			t.Fatalf("connect: %v (CONNACK %+v)", err, c.connack)
		}
		p := c.connack.Properties
		if p == nil || p.AuthMethod != scramMethod || len(p.AuthData) == 0 {
			t.Fatalf("CONNACK %+v, want the method and server-final-message", p)
		}
		if steps, err := a.finish(p.AuthData); steps != 1 || err != nil {
			t.Fatalf("%d AUTH 0x18 answered, %v; want 1 and a server signature that verifies", steps, err)
		}
		roundTrip(t, c, "after CONNECT")

		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		r, err := c.Authenticate(ctx, &paho.Auth{ReasonCode: authReauthenticate,
			Properties: &paho.AuthProperties{AuthMethod: scramMethod, AuthData: a.first(t)}})
		if err != nil || !r.Success || r.ReasonCode != 0 {
			t.Fatalf("re-authentication: %+v, %v; want AUTH 0x00", r, err)
		}
		// paho.golang v0.23.0 drops the Authentication Data of AUTH 0x00,
		// so the server's signature cannot be checked here.
		if steps, err := a.finish(nil); steps != 2 || err != nil {
			t.Fatalf("%d AUTH 0x18 answered in all, %v; want 2", steps, err)
		}
		roundTrip(t, c, "after re-authentication")

		a.mu.Lock()
		a.scram = client.SCRAMSHA512("alice", []byte("wrong"))
		a.mu.Unlock()
		r, err = c.Authenticate(ctx, &paho.Auth{ReasonCode: authReauthenticate,
			Properties: &paho.AuthProperties{AuthMethod: scramMethod, AuthData: a.first(t)}})
		if err != nil || r.Success || r.ReasonCode != 0x87 {
			t.Fatalf("re-authentication with a wrong password: %+v, %v; want DISCONNECT 0x87", r, err)
		}
		select {
		case <-c.Done():
		case <-ctx.Done():
			t.Fatal("paho.golang still connected after DISCONNECT 0x87")
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		a := newSCRAMAuther("alice", "wrong")
		c, err := connect(t, a, scramMethod)
		if err == nil || c.connack == nil || c.connack.ReasonCode != 0x87 {
			t.Fatalf("connect: %v, CONNACK %+v; want 0x87 not authorized, as Mosquitto", err, c.connack)
		}
		if steps, err := a.finish(nil); steps != 1 || err != nil {
			t.Fatalf("%d AUTH 0x18 answered, %v; want 1 (the broker refuses the proof)", steps, err)
		}
	})

	t.Run("unknown user", func(t *testing.T) {
		a := newSCRAMAuther("mallory", "s3cret")
		c, err := connect(t, a, scramMethod)
		if err == nil || c.connack == nil || c.connack.ReasonCode != 0x87 {
			t.Fatalf("connect: %v, CONNACK %+v; want 0x87 not authorized, as Mosquitto", err, c.connack)
		}
		if steps, err := a.finish(nil); steps != 1 || err != nil {
			t.Fatalf("%d AUTH 0x18 answered, %v; want 1 (an unknown user looks like a known one)", steps, err)
		}
	})

	t.Run("unknown method", func(t *testing.T) {
		a := newSCRAMAuther("alice", "s3cret")
		c, err := connect(t, a, "SCRAM-SHA-1")
		if err == nil || c.connack == nil || c.connack.ReasonCode != 0x8C {
			t.Fatalf("connect: %v, CONNACK %+v; want 0x8C bad authentication method", err, c.connack)
		}
		if steps, _ := a.finish(nil); steps != 0 {
			t.Fatalf("%d AUTH 0x18 answered for a method the broker does not offer", steps)
		}
	})
}

// roundTrip subscribes c to a fresh topic and publishes to it, failing the
// test unless the message comes back: the connection is usable.
func roundTrip(t *testing.T, c *v5Client, what string) {
	t.Helper()
	topic := uniqueTopic(t)
	c.subscribe(t, 0, paho.SubscribeOptions{Topic: topic, QoS: 1})
	if r := c.publish(t, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte(what)}); r.ReasonCode != 0 {
		t.Fatalf("%s: PUBACK reason %#x", what, r.ReasonCode)
	}
	if got := c.next(t, what); string(got.Payload) != what {
		t.Fatalf("%s: got %q", what, got.Payload)
	}
}
