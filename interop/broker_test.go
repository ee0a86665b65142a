package interop

import (
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/brokertest"
)

// startBroker starts an in-process midge broker on 127.0.0.1 for one test
// and returns its address; brokertest stops it when the test ends.
func startBroker(t *testing.T) string {
	t.Helper()
	return brokertest.Start(t, broker.Options{}).Addr
}
