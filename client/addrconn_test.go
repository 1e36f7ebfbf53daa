package client

import (
	"context"
	"net"
	"slices"
	"testing"
	"time"

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
