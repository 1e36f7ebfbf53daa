package connectivity

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestStateString(t *testing.T) {
	tests := []struct {
		s    State
		want string
	}{
		{Idle, "IDLE"},
		{Connecting, "CONNECTING"},
		{Ready, "READY"},
		{TransientFailure, "TRANSIENT_FAILURE"},
		{Shutdown, "SHUTDOWN"},
		{State(-1), "INVALID_STATE(-1)"},
		{State(5), "INVALID_STATE(5)"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.s.String())
	}
}

func TestStateValues(t *testing.T) {
	// The numeric values are part of the API: Idle must be the zero value.
	var zero State
	assert.Equal(t, Idle, zero)
	assert.Equal(t, []State{0, 1, 2, 3, 4}, []State{Idle, Connecting, Ready, TransientFailure, Shutdown})
}
