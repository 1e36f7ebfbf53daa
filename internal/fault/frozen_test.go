package fault

import (
	"context"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/h2rpc/h2rpc/client"
	"github.com/h2rpc/h2rpc/codes"
	"github.com/h2rpc/h2rpc/keepalive"
	"github.com/h2rpc/h2rpc/server"
	"github.com/h2rpc/h2rpc/status"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// frozenKeepalive is the quickest detection a client may ask for: Time
// cannot go below 10 s.
var frozenKeepalive = keepalive.ClientParameters{Time: 10 * time.Second, Timeout: time.Second, PermitWithoutStream: true}

// frozenPolicy lets the server take those pings.
var frozenPolicy = keepalive.EnforcementPolicy{MinTime: frozenKeepalive.Time, PermitWithoutStream: true}

// TestFrozenConnection runs the frozen-connection scenario (see
// runFrozen) over real loopback TCP and the real clock, so it takes about
// 11 s; -short leaves it to TestFrozenConnectionSynctest.
func TestFrozenConnection(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 11 s; TestFrozenConnectionSynctest covers the same ground in virtual time")
	}
	_, backend := startServer(t, &echoService{}, server.KeepaliveEnforcementPolicy(frozenPolicy))
	p := startTCPProxy(t, backend)
	cc := dial(t, p.addr(), client.WithKeepaliveParams(frozenKeepalive))
	// The last bytes are read a little before the freeze, so detection
	// may come a little before Time+Timeout; never before Time. How late
	// it may come is the synctest twin's to check, exactly: on the real
	// clock a loaded machine is late by any amount.
	runFrozen(t, cc, p, frozenKeepalive.Time, 0)
}

// TestFrozenConnectionSynctest runs the same scenario with the same
// client, server and proxy code inside a testing/synctest bubble, over
// in-memory pipes: the keepalive timers run on the bubble's virtual
// clock, so it takes milliseconds and detection time is exact.
func TestFrozenConnectionSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		backend := newPipeListener()
		serve(t, backend, &echoService{}, server.KeepaliveEnforcementPolicy(frozenPolicy))
		front := newPipeListener()
		p := startProxy(t, front, func() (net.Conn, error) { return backend.dial(context.Background()) })
		cc := dial(t, "passthrough:///pipe", client.WithKeepaliveParams(frozenKeepalive),
			client.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return front.dial(ctx) }))
		exact := frozenKeepalive.Time + frozenKeepalive.Timeout
		runFrozen(t, cc, p, exact, exact)
	})
}

// runFrozen opens a stream through p, freezes p, and checks that
// keepalive ends the connection between earliest and latest after the
// freeze (no later bound if latest is zero): the open stream and a unary
// call sent into the void fail UNAVAILABLE, and the next call succeeds on
// a new connection.
func runFrozen(t *testing.T, cc *client.ClientConn, p *proxy, earliest, latest time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	require.NoError(t, echoOnce(ctx, cc, "warm"))
	st, err := cc.NewStream(ctx, bidiDesc, bidiMethod)
	require.NoError(t, err)
	require.NoError(t, st.SendMsg(wrapperspb.String("before")))
	require.NoError(t, st.RecvMsg(new(wrapperspb.StringValue)))

	// Only stops a hung test: keepalive gives up after Time+Timeout.
	hang := earliest + 15*time.Second
	p.freeze()
	frozenAt := time.Now()
	streamErr := make(chan error, 1)
	go func() { streamErr <- st.RecvMsg(new(wrapperspb.StringValue)) }()
	unaryErr := make(chan error, 1)
	go func() { unaryErr <- echoOnce(ctx, cc, "into the void") }()

	select {
	case err := <-streamErr:
		detected := time.Since(frozenAt)
		assert.Equal(t, codes.Unavailable, status.Code(err), "stream: %v", err)
		t.Logf("frozen connection detected after %v: %v", detected.Round(time.Millisecond), err)
		assert.GreaterOrEqual(t, detected, earliest, "the connection failed sooner than keepalive allows")
		if latest > 0 {
			assert.LessOrEqual(t, detected, latest, "keepalive took too long")
		}
	case <-time.After(hang):
		t.Fatalf("the stream still hangs %v after the freeze", hang)
	}

	select {
	case err := <-unaryErr:
		assert.Equal(t, codes.Unavailable, status.Code(err), "unary: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("the unary call sent after the freeze still hangs")
	}

	require.NoError(t, echoOnce(ctx, cc, "after", client.WaitForReady(true)))
}
