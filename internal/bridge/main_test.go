package bridge_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run when a goroutine outlives the tests: a stopped
// bridge leaves nothing running.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
