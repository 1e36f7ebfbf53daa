package fault

import (
	"context"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/resolver"
	"github.com/h2rpc/h2rpc/resolver/manual"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAddressChangeKeepsInFlightCalls moves a busy ClientConn from server
// A to server B by a resolver update, both servers staying up: the calls
// A is running must still answer OK (the old connection drains, as
// grpc-go's SubConn shutdown closes its transport gracefully), and later
// calls go to B.
func TestAddressChangeKeepsInFlightCalls(t *testing.T) {
	const inFlight = 20
	var onA, onB ledger
	_, addrA := startServer(t, &echoService{delay: 300 * time.Millisecond, onUnary: onA.record})
	_, addrB := startServer(t, &echoService{onUnary: onB.record})
	r := manual.NewBuilderWithScheme("fault-addrchange")
	r.InitialState(resolver.State{Addresses: []resolver.Address{{Addr: addrA}}})
	resolver.Register(r)
	t.Cleanup(func() { resolver.Unregister(r.Scheme()) })
	cc := dial(t, r.Scheme()+":///echo")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	errs := make(chan error, inFlight)
	for range inFlight {
		go func() { errs <- echoOnce(ctx, cc, "on A") }()
	}
	require.True(t, waitUntil(5*time.Second, func() bool { return onA.total() == inFlight }), "A started %d of %d calls", onA.total(), inFlight)
	require.NoError(t, r.UpdateState(resolver.State{Addresses: []resolver.Address{{Addr: addrB}}}))
	for range inFlight {
		assert.NoError(t, <-errs, "a call A was running")
	}
	require.NoError(t, echoOnce(ctx, cc, "on B"))
	assert.Equal(t, 1, onB.count("on B"))
}
