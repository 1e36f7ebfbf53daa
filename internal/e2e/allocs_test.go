package e2e

import (
	"context"
	"net"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/client"
	"github.com/h2rpc/h2rpc/codes"
	"github.com/h2rpc/h2rpc/status"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Allocation budgets for the hot paths, client and server together (they
// share the process). They count allocations, not time, so they hold on
// any machine; they skip under the race detector, whose sync.Pool drops
// items at random, and make test runs them without it.
const (
	// userAllocsPerUnary is what the echo handler and the codec allocate
	// for the user's messages: the server's request and response messages
	// and the strings unmarshalled on both sides.
	userAllocsPerUnary = 4
	// runtimeAllocsPerUnary is h2rpc's budget for one unary round trip.
	runtimeAllocsPerUnary = 20
	// allocsPerPingPong is the budget for one bidi round trip of a
	// streaming call (user message strings included).
	allocsPerPingPong = 4
	// idleHeapPerConn is the heap an idle connection may keep, client
	// and server side together (8 KiB each).
	idleHeapPerConn = 16 << 10
)

func TestAllocsUnaryRoundTrip(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts under the race detector are not the product's")
	}
	cc := dial(t, startServer(t))
	ctx := context.Background()
	req := wrapperspb.String(string(make([]byte, 100)))
	out := new(wrapperspb.StringValue)
	require.NoError(t, cc.Invoke(ctx, "/test.Echo/Unary", req, out))
	allocs := testing.AllocsPerRun(500, func() {
		if err := cc.Invoke(ctx, "/test.Echo/Unary", req, out); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("unary 100 B round trip: %.1f allocations (client+server, %d of them the user's messages)", allocs, userAllocsPerUnary)
	assert.LessOrEqual(t, allocs, float64(runtimeAllocsPerUnary+userAllocsPerUnary))
}

func TestAllocsBidiPingPong(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts under the race detector are not the product's")
	}
	cc := dial(t, startServer(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := cc.NewStream(ctx, &client.StreamDesc{ServerStreams: true, ClientStreams: true}, "/test.Echo/Bidi")
	require.NoError(t, err)
	req := wrapperspb.String(string(make([]byte, 1024)))
	out := new(wrapperspb.StringValue)
	allocs := testing.AllocsPerRun(500, func() {
		if err := st.SendMsg(req); err != nil {
			t.Fatal(err)
		}
		if err := st.RecvMsg(out); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("bidi ping-pong 1 KiB: %.1f allocations per round trip", allocs)
	assert.LessOrEqual(t, allocs, float64(allocsPerPingPong))
	require.NoError(t, st.CloseSend())
}

// TestAllocsIdleConnection holds the heap an idle connection keeps, both
// sides together, after one call: what 10,000 idle connections cost is
// this times 10,000.
func TestAllocsIdleConnection(t *testing.T) {
	if raceEnabled {
		t.Skip("heap sizes under the race detector are not the product's")
	}
	addr := startServer(t)
	ctx := context.Background()
	heap := func() uint64 {
		debug.FreeOSMemory() // a full collection first
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	const n = 500
	ccs := make([]*client.ClientConn, 0, n)
	defer func() {
		for _, cc := range ccs {
			cc.Close()
		}
	}()
	before := heap()
	for range n {
		cc, err := client.New(addr, client.WithInsecure())
		require.NoError(t, err)
		ccs = append(ccs, cc)
		require.NoError(t, cc.Invoke(ctx, "/test.Echo/Unary", wrapperspb.String(""), new(wrapperspb.StringValue)))
	}
	perConn := float64(heap()-before) / n
	t.Logf("idle connection after one call: %.0f B of heap, client and server side together", perConn)
	assert.LessOrEqual(t, perConn, float64(idleHeapPerConn))
}

// TestAllocsFailedPickReturnsTheRequestBuffer: a call that fails before it gets
// a connection (fail-fast, no server) gives its encoded request's pooled
// buffer back, so a client in an outage does not allocate one per call.
func TestAllocsFailedPickReturnsTheRequestBuffer(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts under the race detector are not the product's")
	}
	cc, err := client.New(closedAddr(t), client.WithInsecure())
	require.NoError(t, err)
	defer cc.Close()
	req := wrapperspb.Bytes(make([]byte, 64<<10))
	invoke := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := cc.Invoke(ctx, "/test.Echo/Unary", req, new(wrapperspb.BytesValue))
		require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
	}
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return status.Code(cc.Invoke(ctx, "/test.Echo/Unary", req, new(wrapperspb.BytesValue))) == codes.Unavailable
	}, 5*time.Second, 10*time.Millisecond, "the channel never failed fast")
	invoke()
	defer debug.SetGCPercent(debug.SetGCPercent(-1)) // no collection empties the pool
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const calls = 50
	for range calls {
		invoke()
	}
	runtime.ReadMemStats(&after)
	perCall := (after.TotalAlloc - before.TotalAlloc) / calls
	t.Logf("a failed call allocates %d B", perCall)
	assert.Less(t, perCall, uint64(32<<10), "each failed call allocated a new 64 KiB request buffer")
}

// closedAddr returns an address nothing listens on.
func closedAddr(t *testing.T) string {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := lis.Addr().String()
	lis.Close()
	return addr
}
