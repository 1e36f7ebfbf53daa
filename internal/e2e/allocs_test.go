package e2e

import (
	"context"
	"testing"

	"github.com/h2rpc/h2rpc/client"
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
