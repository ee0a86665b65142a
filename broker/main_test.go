package broker_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run when a goroutine outlives the tests: every test
// stops its broker, and a stopped broker leaves nothing running.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
