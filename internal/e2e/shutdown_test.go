package e2e

import (
	"bytes"
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/client"
	"github.com/h2rpc/h2rpc/codes"
	"github.com/h2rpc/h2rpc/resolver"
	"github.com/h2rpc/h2rpc/resolver/manual"
	"github.com/h2rpc/h2rpc/server"
	"github.com/h2rpc/h2rpc/status"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// slowDesc's one method waits for release, then answers.
func slowServer(t *testing.T, started chan<- struct{}, release <-chan struct{}) (*server.Server, string) {
	t.Helper()
	desc := server.ServiceDesc{
		ServiceName: "test.Slow",
		Methods: []server.MethodDesc{{
			MethodName: "Wait",
			Handler: func(_ any, ctx context.Context, dec func(any) error, _ server.UnaryInterceptor) (any, error) {
				in := new(wrapperspb.StringValue)
				if err := dec(in); err != nil {
					return nil, err
				}
				started <- struct{}{}
				select {
				case <-release:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
				return in, nil
			},
		}},
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := server.New()
	s.RegisterService(&desc, nil)
	go s.Serve(lis)
	return s, lis.Addr().String()
}

func TestGracefulStopFinishesAcceptedCalls(t *testing.T) {
	started := make(chan struct{}, 4)
	release := make(chan struct{})
	s, addr := slowServer(t, started, release)
	cc := dial(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	const calls = 3
	errs := make(chan error, calls)
	for range calls {
		go func() {
			out := new(wrapperspb.StringValue)
			err := cc.Invoke(ctx, "/test.Slow/Wait", wrapperspb.String("x"), out)
			if err == nil && out.Value != "x" {
				err = status.Error(codes.DataLoss, "wrong reply")
			}
			errs <- err
		}()
	}
	for range calls {
		<-started
	}
	stopped := make(chan struct{})
	go func() { s.GracefulStop(); close(stopped) }()

	select {
	case <-stopped:
		t.Fatal("GracefulStop returned while calls were running")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	for range calls {
		assert.NoError(t, <-errs)
	}
	select {
	case <-stopped:
	case <-ctx.Done():
		t.Fatal("GracefulStop did not return after the calls finished")
	}
	// The server is gone: a new call fails fast with UNAVAILABLE.
	err := cc.Invoke(ctx, "/test.Slow/Wait", wrapperspb.String("x"), new(wrapperspb.StringValue))
	assert.Equal(t, codes.Unavailable, status.Code(err))
}

func TestStopCancelsRunningCalls(t *testing.T) {
	started := make(chan struct{}, 1)
	s, addr := slowServer(t, started, make(chan struct{}))
	cc := dial(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		errc <- cc.Invoke(ctx, "/test.Slow/Wait", wrapperspb.String("x"), new(wrapperspb.StringValue))
	}()
	<-started
	s.Stop()
	assert.Equal(t, codes.Unavailable, status.Code(<-errc))
}

func TestCloseFailsLaterCalls(t *testing.T) {
	cc, err := client.New(startServer(t), client.WithInsecure())
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, cc.Invoke(ctx, "/test.Echo/Unary", wrapperspb.String("a"), new(wrapperspb.StringValue)))
	require.NoError(t, cc.Close())
	err = cc.Invoke(ctx, "/test.Echo/Unary", wrapperspb.String("a"), new(wrapperspb.StringValue))
	assert.Equal(t, codes.Canceled, status.Code(err))
}

// TestCloseEndsRunningCalls: Close fails the calls in flight with
// CANCELED at once, a stream on a connection the balancer had already
// let go of (new addresses) included, instead of waiting for them.
func TestCloseEndsRunningCalls(t *testing.T) {
	started := make(chan struct{}, 1)
	slowSrv, slow := slowServer(t, started, make(chan struct{}))
	t.Cleanup(slowSrv.Stop)
	a, b := startServer(t), startServer(t)
	r := manual.NewBuilderWithScheme("e2e-close")
	r.InitialState(resolver.State{Addresses: []resolver.Address{{Addr: a}}})
	resolver.Register(r)
	t.Cleanup(func() { resolver.Unregister(r.Scheme()) })
	cc, err := client.New(r.Scheme()+":///x", client.WithInsecure())
	require.NoError(t, err)
	ccSlow := dial(t, slow)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A stream on a's connection, which the balancer then drains.
	old, err := cc.NewStream(ctx, &client.StreamDesc{ServerStreams: true, ClientStreams: true}, "/test.Echo/Bidi")
	require.NoError(t, err)
	require.NoError(t, old.SendMsg(wrapperspb.String("x")))
	require.NoError(t, old.RecvMsg(new(wrapperspb.StringValue)))
	require.NoError(t, r.UpdateState(resolver.State{Addresses: []resolver.Address{{Addr: b}}}))
	require.Eventually(t, func() bool {
		return cc.Invoke(ctx, "/test.Echo/Unary", wrapperspb.String("on b"), new(wrapperspb.StringValue)) == nil
	}, 5*time.Second, 10*time.Millisecond)
	// And a unary call in progress on the other ClientConn.
	errc := make(chan error, 1)
	go func() {
		errc <- ccSlow.Invoke(ctx, "/test.Slow/Wait", wrapperspb.String("x"), new(wrapperspb.StringValue))
	}()
	<-started

	closed := make(chan struct{})
	go func() {
		cc.Close()
		ccSlow.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(3 * time.Second):
		cancel()
		<-closed
		t.Fatal("Close waited for the calls in flight")
	}
	assert.Equal(t, codes.Canceled, status.Code(old.RecvMsg(new(wrapperspb.StringValue))), "stream on the drained connection")
	assert.Equal(t, codes.Canceled, status.Code(<-errc), "unary call")
}

// stuckClient opens a connection that grants the largest windows, starts
// a Download (the server then sends without end) and never reads.
func stuckClient(t *testing.T, addr string) {
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	_, err = nc.Write([]byte(http2.ClientPreface))
	require.NoError(t, err)
	fr := http2.NewFramer(nc, nc)
	require.NoError(t, fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1<<31 - 1}))
	require.NoError(t, fr.WriteWindowUpdate(0, 1<<31-1-65535))
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{{":method", "POST"}, {":scheme", "http"}, {":path", "/test.Echo/Download"},
		{":authority", "x"}, {"content-type", "application/grpc"}, {"te", "trailers"}} {
		require.NoError(t, enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]}))
	}
	require.NoError(t, fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndHeaders: true}))
	require.NoError(t, fr.WriteData(1, true, []byte{0, 0, 0, 0, 0}))
}

// TestStopDoesNotWaitForStuckClientsInTurn: Stop gives each connection a
// while to write its GOAWAY; connections whose clients stopped reading
// take all of it, and Stop must not take it once per connection.
func TestStopDoesNotWaitForStuckClientsInTurn(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := server.New()
	s.RegisterService(&echoDesc, echoService{})
	go s.Serve(lis)
	const stuck = 6
	for range stuck {
		stuckClient(t, lis.Addr().String())
	}
	time.Sleep(1500 * time.Millisecond) // the server fills every socket buffer
	stopped := make(chan struct{})
	go func() { s.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(stuck * time.Second * 2 / 3):
		t.Fatalf("Stop is still waiting on %d stuck clients after %v", stuck, stuck*time.Second*2/3)
	}
}

// TestStopAndHandlersThatIgnoreTheirContext: Stop cancels every handler's
// context and closes the connections; a handler that goes on regardless
// does not hold Stop up (as in grpc-go), unless WaitForHandlers(true)
// asks Stop to wait for it.
func TestStopAndHandlersThatIgnoreTheirContext(t *testing.T) {
	for _, wait := range []bool{false, true} {
		t.Run(map[bool]string{false: "default", true: "WaitForHandlers"}[wait], func(t *testing.T) {
			started, release := make(chan struct{}, 1), make(chan struct{})
			var once sync.Once
			unblock := func() { once.Do(func() { close(release) }) }
			desc := server.ServiceDesc{ServiceName: "test.Stubborn", Methods: []server.MethodDesc{{
				MethodName: "Call",
				Handler: func(_ any, ctx context.Context, dec func(any) error, _ server.UnaryInterceptor) (any, error) {
					if err := dec(new(wrapperspb.StringValue)); err != nil {
						return nil, err
					}
					started <- struct{}{}
					<-release // ignores ctx
					return wrapperspb.String("late"), nil
				},
			}}}
			s, addr := serveDesc(t, &desc, nil, server.WaitForHandlers(wait))
			t.Cleanup(unblock)
			cc := dial(t, addr)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			go cc.Invoke(ctx, "/test.Stubborn/Call", wrapperspb.String("x"), new(wrapperspb.StringValue))
			<-started

			stopped := make(chan struct{})
			go func() { s.Stop(); close(stopped) }()
			if !wait {
				select {
				case <-stopped:
				case <-time.After(5 * time.Second):
					t.Fatal("Stop waited for a handler that ignores its context")
				}
				return
			}
			select {
			case <-stopped:
				t.Fatal("Stop returned while a handler still ran, with WaitForHandlers(true)")
			case <-time.After(300 * time.Millisecond):
			}
			unblock()
			select {
			case <-stopped:
			case <-time.After(5 * time.Second):
				t.Fatal("Stop did not return once the handler had")
			}
		})
	}
}
