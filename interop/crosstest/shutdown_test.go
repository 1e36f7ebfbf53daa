package crosstest

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	gcodes "google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// TestGracefulStop: with calls in flight, GracefulStop makes the client
// leave the connection (GOAWAY) and stops accepting: a call started then
// fails UNAVAILABLE, while every call already accepted still completes
// OK; GracefulStop returns only after them. A call that waits for ready
// succeeds once a new server listens on the same port.
func TestGracefulStop(t *testing.T) {
	const calls = 8
	for _, d := range directions {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			svc := newService()
			lis, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			addr := lis.Addr().String()
			s := d.serve(t, lis, svc, serverConfig{})
			cc := d.dial(t, addr, clientConfig{})
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()

			errs := make(chan error, calls)
			for i := range calls {
				go func() {
					in := wrapperspb.Bytes(fmt.Appendf(nil, "call %d", i))
					out := new(wrapperspb.BytesValue)
					err := cc.invoke(ctx, mSlow, in, out, nil)
					if err == nil && string(out.Value) != string(in.Value) {
						err = fmt.Errorf("call %d: got %q back", i, out.Value)
					}
					errs <- err
				}()
			}
			for i := range calls {
				select {
				case <-svc.started:
				case <-time.After(5 * time.Second):
					t.Fatalf("only %d of %d calls reached the handler", i, calls)
				}
			}

			stopped := make(chan struct{})
			go func() {
				defer close(stopped)
				s.GracefulStop()
			}()
			wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
			defer wcancel()
			require.True(t, cc.waitReady(wctx, false), "the client stayed READY on a draining connection")

			lctx, lcancel := context.WithTimeout(ctx, 5*time.Second)
			defer lcancel()
			err = cc.invoke(lctx, mUnary, wrapperspb.Bytes([]byte("late")), new(wrapperspb.BytesValue), nil)
			t.Logf("call started during the drain: %v", err)
			assert.Equal(t, gcodes.Unavailable, codeOf(err), "call started during the drain")

			select {
			case <-stopped:
				t.Fatal("GracefulStop returned while calls were running")
			default:
			}
			close(svc.release)
			for range calls {
				select {
				case err := <-errs:
					assert.NoError(t, err, "accepted call")
				case <-ctx.Done():
					t.Fatal("accepted calls did not complete")
				}
			}
			select {
			case <-stopped:
			case <-time.After(5 * time.Second):
				t.Fatal("GracefulStop did not return after the calls completed")
			}

			err = cc.invoke(lctx, mUnary, wrapperspb.Bytes([]byte("no server")), new(wrapperspb.BytesValue), nil)
			assert.Equal(t, gcodes.Unavailable, codeOf(err), "call after the stop: %v", err)

			// The port was released by the stop; take it again.
			var lis2 net.Listener
			for range 50 {
				if lis2, err = net.Listen("tcp", addr); err == nil {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			require.NoError(t, err, "listening on %s again", addr)
			d.serve(t, lis2, newService(), serverConfig{})
			start := time.Now()
			err = cc.invoke(ctx, mUnary, wrapperspb.Bytes([]byte("again")), new(wrapperspb.BytesValue), &callOpts{waitForReady: true})
			require.NoError(t, err, "wait-for-ready call to the new server")
			t.Logf("the wait-for-ready call reached the new server after %v", time.Since(start))
		})
	}
}
