// Package connectivity defines the connectivity states shared by the
// client, its SubConns and its load balancers.
//
// The package owns only the State type and its names. It holds no state and
// starts no goroutines; everything in it is safe for concurrent use.
//
// The states and their usual transitions, for a SubConn (one logical
// connection) and, through its balancer, for a whole client:
//
//	Idle ──Connect──▶ Connecting ──connected──▶ Ready
//	 ▲                 │      ▲                  │
//	 │   every address │      │ backoff over     │
//	 │          failed ▼      │                  │
//	 │           TransientFailure                │
//	 └────────────── connection lost ────────────┘
//
//	any state ──Shutdown──▶ Shutdown (final)
//
// When the backoff after a TransientFailure is over, a SubConn either
// starts connecting again or goes to Idle and waits for Connect; balancers
// handle both.
//
// The names are the ones gRPC uses everywhere (channelz, logs, the health
// protocol), so String returns them in upper case with underscores.
package connectivity

import "strconv"

// State is the connectivity state of a SubConn or of a client. The zero
// value is Idle.
type State int

const (
	// Idle means no connection exists and none is being made; the next
	// Connect (or RPC, for a client) starts one.
	Idle State = iota
	// Connecting means a connection attempt is under way.
	Connecting
	// Ready means a connection is established and can carry RPCs.
	Ready
	// TransientFailure means the last connection attempt failed; another
	// one follows after a backoff delay.
	TransientFailure
	// Shutdown means the SubConn or client was closed; it is final.
	Shutdown
)

// String returns the gRPC name of s: "IDLE", "CONNECTING", "READY",
// "TRANSIENT_FAILURE" or "SHUTDOWN", and "INVALID_STATE(n)" for a value
// outside the defined ones.
func (s State) String() string {
	switch s {
	case Idle:
		return "IDLE"
	case Connecting:
		return "CONNECTING"
	case Ready:
		return "READY"
	case TransientFailure:
		return "TRANSIENT_FAILURE"
	case Shutdown:
		return "SHUTDOWN"
	default:
		return "INVALID_STATE(" + strconv.Itoa(int(s)) + ")"
	}
}
