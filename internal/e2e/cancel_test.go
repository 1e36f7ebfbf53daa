package e2e

import (
	"context"
	"sync"
	"sync/atomic"
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

// TestCancelAfterTheHandlerReturnedFreesTheSlot: a server-streaming
// handler queues more than the client's window and returns; the client
// cancels without reading the rest. Its RST_STREAM must end what the
// server still held for the stream: the stream's slot (one allowed here)
// serves the next calls, and GracefulStop, with the client still connected,
// does not wait for the stream.
func TestCancelAfterTheHandlerReturnedFreesTheSlot(t *testing.T) {
	returned := make(chan struct{}, 1)
	desc := server.ServiceDesc{
		ServiceName: "test.Burst",
		Methods: []server.MethodDesc{{
			MethodName: "Unary",
			Handler: func(_ any, ctx context.Context, dec func(any) error, _ server.UnaryInterceptor) (any, error) {
				in := new(wrapperspb.StringValue)
				if err := dec(in); err != nil {
					return nil, err
				}
				return in, nil
			},
		}},
		Streams: []server.StreamDesc{{
			StreamName: "Burst", ServerStreams: true,
			Handler: func(_ any, st server.Stream) error {
				if err := st.RecvMsg(new(wrapperspb.StringValue)); err != nil {
					return err
				}
				for range 14 { // 112 KB: more than the 64 KiB window
					if err := st.SendMsg(wrapperspb.Bytes(make([]byte, 8000))); err != nil {
						return err
					}
				}
				returned <- struct{}{}
				return nil
			},
		}},
	}
	s, addr := serveDesc(t, &desc, nil, server.MaxConcurrentStreams(1), server.StaticWindow(true))
	cc, err := client.New(addr, client.WithInsecure(), client.WithStaticWindow(true))
	require.NoError(t, err)
	defer cc.Close()

	ctx, cancel := context.WithCancel(context.Background())
	st, err := cc.NewStream(ctx, &client.StreamDesc{ServerStreams: true}, "/test.Burst/Burst")
	require.NoError(t, err)
	require.NoError(t, st.SendMsg(wrapperspb.String("go")))
	require.NoError(t, st.CloseSend())
	select {
	case <-returned:
	case <-time.After(5 * time.Second):
		t.Fatal("the handler did not return")
	}
	cancel()

	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		return cc.Invoke(ctx, "/test.Burst/Unary", wrapperspb.String("x"), new(wrapperspb.StringValue)) == nil
	}, 3*time.Second, 10*time.Millisecond, "no call got the slot after the cancelled stream")

	// The client stays connected: only the reset can have ended the
	// stream GracefulStop would otherwise wait for.
	stopped := make(chan struct{})
	go func() { s.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("GracefulStop still waits for the cancelled stream")
	}
}

// TestCallAfterACancelledOneWaitsForItsSlot: with MaxConcurrentStreams(1),
// a client that cancels a call may open the next at once (its stream is
// closed), while the server's handler of the first is still finishing.
// The new call waits for that handler instead of being refused: it
// succeeds, and no two handlers ever run at once.
func TestCallAfterACancelledOneWaitsForItsSlot(t *testing.T) {
	var running, peak atomic.Int32
	started := make(chan struct{}, 1)
	unwind := make(chan struct{})
	desc := server.ServiceDesc{ServiceName: "test.Slot", Methods: []server.MethodDesc{{
		MethodName: "Call",
		Handler: func(_ any, ctx context.Context, dec func(any) error, _ server.UnaryInterceptor) (any, error) {
			n := running.Add(1)
			defer running.Add(-1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			in := new(wrapperspb.StringValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			if in.Value == "wait" {
				started <- struct{}{}
				<-ctx.Done()
				<-unwind // a handler that takes its time to notice
				return nil, ctx.Err()
			}
			return in, nil
		},
	}}}
	_, addr := serveDesc(t, &desc, nil, server.MaxConcurrentStreams(1))
	var once sync.Once
	release := func() { once.Do(func() { close(unwind) }) }
	t.Cleanup(release) // before the server stops, on any failure
	cc := dial(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	first, cancelFirst := context.WithCancel(ctx)
	firstDone := make(chan error, 1)
	go func() {
		firstDone <- cc.Invoke(first, "/test.Slot/Call", wrapperspb.String("wait"), new(wrapperspb.StringValue))
	}()
	select {
	case <-started:
	case <-ctx.Done():
		t.Fatal("the first handler did not start")
	}
	cancelFirst()
	require.Equal(t, codes.Canceled, status.Code(<-firstDone))

	nextDone := make(chan error, 1)
	go func() {
		nextDone <- cc.Invoke(ctx, "/test.Slot/Call", wrapperspb.String("next"), new(wrapperspb.StringValue))
	}()
	select {
	case err := <-nextDone:
		t.Fatalf("the next call ended while the cancelled handler still ran: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	release()
	require.NoError(t, <-nextDone)
	assert.Equal(t, int32(1), peak.Load(), "handlers running at once")
}
