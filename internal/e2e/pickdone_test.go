package e2e

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/balancer"
	"github.com/h2rpc/h2rpc/client"
	"github.com/h2rpc/h2rpc/codes"
	"github.com/h2rpc/h2rpc/connectivity"
	"github.com/h2rpc/h2rpc/peer"
	"github.com/h2rpc/h2rpc/server"
	"github.com/h2rpc/h2rpc/status"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// doneLog records what a picker's Done hears.
type doneLog struct {
	mu   sync.Mutex
	errs []error
}

func (l *doneLog) add(d balancer.DoneInfo) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, d.Err)
}

func (l *doneLog) take() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	errs := l.errs
	l.errs = nil
	return errs
}

// doneBalancer uses one SubConn for the first address and gives every
// pick a Done that logs.
type doneBalancer struct {
	cc  balancer.ClientConn
	log *doneLog
	sc  balancer.SubConn
}

type doneBuilder struct{ log *doneLog }

func (b doneBuilder) Build(cc balancer.ClientConn, _ balancer.BuildOptions) balancer.Balancer {
	return &doneBalancer{cc: cc, log: b.log}
}

func (doneBuilder) Name() string { return "e2e_pick_done" }

func (b *doneBalancer) UpdateClientConnState(s balancer.ClientConnState) error {
	if b.sc != nil {
		return nil
	}
	sc, err := b.cc.NewSubConn(s.ResolverState.Addresses[:1], balancer.NewSubConnOptions{StateListener: func(st balancer.SubConnState) {
		if st.State != connectivity.Ready {
			return
		}
		b.cc.UpdateState(balancer.State{ConnectivityState: connectivity.Ready, Picker: balancer.PickerFunc(func(balancer.PickInfo) (balancer.PickResult, error) {
			return balancer.PickResult{SubConn: b.sc, Done: b.log.add}, nil
		})})
	}})
	if err != nil {
		return err
	}
	b.sc = sc
	b.cc.UpdateState(balancer.State{ConnectivityState: connectivity.Connecting, Picker: balancer.NewErrPicker(balancer.ErrNoSubConnAvailable)})
	sc.Connect()
	return nil
}

func (b *doneBalancer) ResolverError(error) {}
func (b *doneBalancer) Close()              {}

// TestPickDoneWhenTheCallEnds: a picker's Done hears of a call once, when
// it ends, with its error: not when the stream starts.
func TestPickDoneWhenTheCallEnds(t *testing.T) {
	log := new(doneLog)
	balancer.Register(doneBuilder{log})
	t.Cleanup(func() { balancer.Unregister(doneBuilder{}.Name()) })
	cc, err := client.New(startServer(t), client.WithInsecure(), client.WithBalancer(doneBuilder{}.Name()))
	require.NoError(t, err)
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	require.NoError(t, cc.Invoke(ctx, "/test.Echo/Unary", wrapperspb.String("a"), new(wrapperspb.StringValue)))
	assert.Equal(t, []error{nil}, log.take(), "a unary call that succeeded")

	err = cc.Invoke(ctx, "/test.Echo/Unary", wrapperspb.String("fail:no"), new(wrapperspb.StringValue))
	errs := log.take()
	require.Len(t, errs, 1, "a unary call that failed")
	assert.Equal(t, codes.InvalidArgument, status.Code(errs[0]))
	assert.Equal(t, err, errs[0])

	st, err := cc.NewStream(ctx, &client.StreamDesc{ServerStreams: true, ClientStreams: true}, "/test.Echo/Bidi")
	require.NoError(t, err)
	require.NoError(t, st.SendMsg(wrapperspb.String("x")))
	require.NoError(t, st.RecvMsg(new(wrapperspb.StringValue)))
	assert.Empty(t, log.take(), "a stream still open")
	require.NoError(t, st.CloseSend())
	assert.Equal(t, io.EOF, st.RecvMsg(new(wrapperspb.StringValue)))
	assert.Equal(t, []error{nil}, log.take(), "a stream that ended well")

	sctx, scancel := context.WithCancel(ctx)
	st, err = cc.NewStream(sctx, &client.StreamDesc{ServerStreams: true, ClientStreams: true}, "/test.Echo/Bidi")
	require.NoError(t, err)
	require.NoError(t, st.SendMsg(wrapperspb.String("x")))
	require.NoError(t, st.RecvMsg(new(wrapperspb.StringValue)))
	scancel() // and the application reads no more
	require.Eventually(t, func() bool {
		log.mu.Lock()
		defer log.mu.Unlock()
		return len(log.errs) > 0
	}, 5*time.Second, time.Millisecond)
	errs = log.take()
	require.Len(t, errs, 1, "a stream cancelled")
	assert.Equal(t, codes.Canceled, status.Code(errs[0]))
	assert.Equal(t, codes.Canceled, status.Code(st.RecvMsg(new(wrapperspb.StringValue))))

	// Header is where the application may learn that a stream failed;
	// the call ends there, call options filled.
	var p peer.Peer
	st, err = cc.NewStream(ctx, &client.StreamDesc{ServerStreams: true}, "/test.Echo/NoSuchMethod", client.Peer(&p))
	require.NoError(t, err)
	_, err = st.Header()
	assert.Equal(t, codes.Unimplemented, status.Code(err), "%v", err)
	errs = log.take()
	require.Len(t, errs, 1, "a stream whose Header failed")
	assert.Equal(t, codes.Unimplemented, status.Code(errs[0]))
	assert.NotNil(t, p.Addr, "the Peer call option is filled")
	assert.Equal(t, codes.Unimplemented, status.Code(st.RecvMsg(new(wrapperspb.StringValue))))
	assert.Empty(t, log.take(), "Done is called once")
	// A second Done could come late, from whatever tears the stream or
	// its connection down; once the ClientConn is closed, that is over.
	require.NoError(t, cc.Close())
	assert.Empty(t, log.take(), "Done is called once per call")
}

// TestCallsThatFailOnTheClientEnd: errors the client finds itself end the
// call as the server's would: a message over the send limit cancels the
// stream (the server's slot is freed, RecvMsg reports the error, the
// picker hears of it), so does a response over the receive limit, and a
// call whose context has already ended sends nothing at all.
func TestCallsThatFailOnTheClientEnd(t *testing.T) {
	log := new(doneLog)
	balancer.Register(doneBuilder{log})
	t.Cleanup(func() { balancer.Unregister(doneBuilder{}.Name()) })
	var handled atomic.Int32
	count := func(ctx context.Context, req any, _ *server.UnaryInfo, h server.UnaryHandler) (any, error) {
		handled.Add(1)
		return h(ctx, req)
	}
	addr := startServer(t, server.MaxConcurrentStreams(1), server.ChainUnaryInterceptor(count))
	cc, err := client.New(addr, client.WithInsecure(), client.WithBalancer(doneBuilder{}.Name()))
	require.NoError(t, err)
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	bidi := &client.StreamDesc{ServerStreams: true, ClientStreams: true}

	st, err := cc.NewStream(ctx, bidi, "/test.Echo/Bidi", client.MaxSendMsgSize(10))
	require.NoError(t, err)
	err = st.SendMsg(wrapperspb.String("more than ten bytes"))
	assert.Equal(t, codes.ResourceExhausted, status.Code(err))
	assert.Equal(t, codes.ResourceExhausted, status.Code(st.RecvMsg(new(wrapperspb.StringValue))), "RecvMsg after a failed SendMsg")
	errs := log.take()
	require.Len(t, errs, 1, "picker Done after a failed SendMsg")
	assert.Equal(t, codes.ResourceExhausted, status.Code(errs[0]))
	require.NoError(t, cc.Invoke(ctx, "/test.Echo/Unary", wrapperspb.String("slot"), new(wrapperspb.StringValue)),
		"the server's only stream slot is free again")
	log.take()

	st, err = cc.NewStream(ctx, bidi, "/test.Echo/Bidi", client.MaxRecvMsgSize(10))
	require.NoError(t, err)
	require.NoError(t, st.SendMsg(wrapperspb.String("more than ten bytes")))
	assert.Equal(t, codes.ResourceExhausted, status.Code(st.RecvMsg(new(wrapperspb.StringValue))))
	errs = log.take()
	require.Len(t, errs, 1, "picker Done after a response over the limit")
	assert.Equal(t, codes.ResourceExhausted, status.Code(errs[0]))

	before := handled.Load()
	done, stop := context.WithCancel(ctx)
	stop()
	for range 20 {
		err := cc.Invoke(done, "/test.Echo/Unary", wrapperspb.String("late"), new(wrapperspb.StringValue))
		assert.Equal(t, codes.Canceled, status.Code(err))
	}
	require.NoError(t, cc.Invoke(ctx, "/test.Echo/Unary", wrapperspb.String("after"), new(wrapperspb.StringValue)))
	assert.Equal(t, before+1, handled.Load(), "a call cancelled before it began reached the handler")
}
