package client

import (
	"context"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/balancer"
	"github.com/h2rpc/h2rpc/connectivity"
	"github.com/h2rpc/h2rpc/transport"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// shutdown and wait take ac.draining under the lock and range over it
// without; a draining connection that closes must leave the list by copy,
// never by shifting the array those callers may be reading.
func TestDrainingListIsNotChangedInPlace(t *testing.T) {
	addr := startEmptyServer(t)
	cc, err := New("passthrough:///"+addr, WithInsecure())
	require.NoError(t, err)
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	ac := newAddrConn(cc, nil, nil)
	conns := make([]*transport.Conn, 3)
	for i := range conns {
		nc, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		conns[i], err = transport.NewClientConn(ctx, nc, transport.ClientConfig{Authority: addr})
		require.NoError(t, err)
		ac.mu.Lock()
		ac.t = conns[i]
		ac.mu.Unlock()
		ac.transportGone(conns[i]) // as on GOAWAY: it drains
	}
	ac.mu.Lock()
	taken := ac.draining
	ac.mu.Unlock()
	require.True(t, slices.Equal(conns, taken), "all three drain")

	conns[0].Close(transport.ErrConnClosed)
	require.Eventually(t, func() bool {
		ac.mu.Lock()
		defer ac.mu.Unlock()
		return len(ac.draining) == 2
	}, 5*time.Second, time.Millisecond, "a closed draining connection leaves the list")
	assert.True(t, slices.Equal(conns, taken), "what wait or shutdown took must not change under them")

	for _, c := range conns[1:] {
		c.Close(transport.ErrConnClosed)
	}
	ac.wait()
}

// A report that another state change overtook is dropped: the balancer
// must end on the state the SubConn is in. (A connection lost as it
// became ready reports IDLE from its own goroutine, which may get its
// turn before connectLoop reports READY.)
func TestOvertakenReportIsDropped(t *testing.T) {
	cc, err := New("passthrough:///"+startEmptyServer(t), WithInsecure())
	require.NoError(t, err)
	defer cc.Close()
	var got []connectivity.State
	ac := newAddrConn(cc, nil, func(s balancer.SubConnState) { got = append(got, s.State) })

	tests := []struct {
		state     connectivity.State // the SubConn's state
		reported  connectivity.State
		delivered bool
	}{
		{connectivity.Idle, connectivity.Ready, false},
		{connectivity.Idle, connectivity.Idle, true},
		{connectivity.Ready, connectivity.Ready, true},
		{connectivity.Connecting, connectivity.TransientFailure, false},
		{connectivity.TransientFailure, connectivity.TransientFailure, true},
	}
	for _, tt := range tests {
		got = nil
		ac.mu.Lock()
		ac.state = tt.state
		ac.mu.Unlock()
		ac.report(tt.reported, nil)
		if tt.delivered {
			assert.Equal(t, []connectivity.State{tt.reported}, got, "%v reported in %v", tt.reported, tt.state)
		} else {
			assert.Empty(t, got, "%v reported in %v", tt.reported, tt.state)
		}
	}
}
