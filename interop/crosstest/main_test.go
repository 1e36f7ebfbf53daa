package crosstest

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if goroutines of either runtime outlive the
// tests.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
