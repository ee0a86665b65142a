package interop

import (
	"os"
	"testing"
)

// addrEnv names the environment variable that points the tests at a broker
// that is already running (host:port), such as a midge or mosquitto process
// started by interop/run.sh.
const addrEnv = "MIDGE_TEST_ADDR"

// brokerAddr returns the host:port of the broker a test talks to: the one
// named by MIDGE_TEST_ADDR when it is set, otherwise an in-process midge
// broker started for this test and stopped when it ends (see startBroker).
func brokerAddr(t *testing.T) string {
	t.Helper()
	if addr := os.Getenv(addrEnv); addr != "" {
		return addr
	}
	return startBroker(t)
}
