package e2e

import (
	"bytes"
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/client"
	"github.com/h2rpc/h2rpc/codes"
	"github.com/h2rpc/h2rpc/server"
	"github.com/h2rpc/h2rpc/status"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

const (
	size64M = 64 << 20
	limit   = size64M + 1024 // room for the protobuf framing
)

// Test64MiBMessages sends 64 MiB both ways, unary and streaming, and checks
// that memory stays bounded: a few copies of the message in flight, not
// one per frame or per buffer layer.
func Test64MiBMessages(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 512 MiB")
	}
	addr := startServer(t, server.MaxRecvMsgSize(limit), server.MaxSendMsgSize(limit))
	cc, err := client.New(addr, client.WithInsecure(),
		client.WithDefaultCallOptions(client.MaxRecvMsgSize(limit), client.MaxSendMsgSize(limit)))
	require.NoError(t, err)
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	payload := bytes.Repeat([]byte("0123456789abcdef"), size64M/16)
	req := wrapperspb.String(string(payload))
	payload = nil

	runtime.GC()
	var before, peak runtime.MemStats
	runtime.ReadMemStats(&before)
	stop := make(chan struct{})
	sampled := make(chan uint64)
	go func() {
		var max uint64
		var ms runtime.MemStats
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				sampled <- max
				return
			case <-tick.C:
				runtime.ReadMemStats(&ms)
				max = maxU(max, ms.HeapInuse)
			}
		}
	}()

	out := new(wrapperspb.StringValue)
	require.NoError(t, cc.Invoke(ctx, "/test.Echo/Unary", req, out))
	require.Equal(t, len(req.Value), len(out.Value))
	require.True(t, req.Value == out.Value)
	out = new(wrapperspb.StringValue)

	st, err := cc.NewStream(ctx, &client.StreamDesc{ServerStreams: true, ClientStreams: true}, "/test.Echo/Bidi")
	require.NoError(t, err)
	for range 2 {
		require.NoError(t, st.SendMsg(req))
		got := new(wrapperspb.StringValue)
		require.NoError(t, st.RecvMsg(got))
		require.True(t, req.Value == got.Value)
	}
	require.NoError(t, st.CloseSend())
	close(stop)
	peakInuse := <-sampled
	runtime.ReadMemStats(&peak)
	grown := int64(peakInuse) - int64(before.HeapInuse)
	t.Logf("64 MiB messages: heap in use grew by at most %d MiB (%.1f message sizes)", grown>>20, float64(grown)/size64M)
	// Each side holds the message as a Go string (user data), its encoded
	// form and its received form; anything near one copy per layer more
	// would show up here.
	assert.Less(t, grown, int64(8*size64M), "heap grew by %d bytes", grown)

	// Over the limit fails cleanly with RESOURCE_EXHAUSTED.
	big := wrapperspb.String(req.Value + "x")
	err = cc.Invoke(ctx, "/test.Echo/Unary", big, out, client.MaxSendMsgSize(size64M))
	assert.Equal(t, codes.ResourceExhausted, status.Code(err))
}

func maxU(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

// TestLargeFrames: with both sides advertising 256 KiB frames (and so
// writing up to that), a 1 MB message crosses intact both ways.
func TestLargeFrames(t *testing.T) {
	addr := startServer(t, server.MaxFrameSize(256<<10))
	cc, err := client.New(addr, client.WithInsecure(), client.WithMaxFrameSize(256<<10))
	require.NoError(t, err)
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	big := string(bytes.Repeat([]byte("frame"), 200_000))
	out := new(wrapperspb.StringValue)
	require.NoError(t, cc.Invoke(ctx, "/test.Echo/Unary", wrapperspb.String(big), out))
	assert.True(t, big == out.Value)
}
