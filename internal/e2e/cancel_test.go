package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/client"
	"github.com/h2rpc/h2rpc/server"
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
