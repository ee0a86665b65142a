package cli

import (
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/auth"
	"github.com/midge-mqtt/midge/internal/brokertest"
)

// scramBroker starts an in-process broker that admits the users of a
// password file through SCRAM-SHA-512, as midge broker with password_file
// does, and refuses every other client.
func scramBroker(t *testing.T, passwordFile string) *brokertest.Broker {
	t.Helper()
	passwords, err := auth.LoadPasswords(passwordFile)
	if err != nil {
		t.Fatal(err)
	}
	return brokertest.Start(t, broker.Options{
		Authenticator: broker.AnonymousOnly(false),
		EnhancedAuth:  scramOnly{auth.NewSCRAM(func() *auth.Passwords { return passwords })},
	})
}

// scramOnly offers SCRAM-SHA-512 and no other authentication method.
type scramOnly struct{ scram *auth.SCRAM }

func (s scramOnly) Start(method string, _ broker.ConnectInfo) (broker.AuthExchange, bool) {
	if method != auth.SCRAMMethod {
		return nil, false
	}
	return s.scram.NewExchange(), true
}
