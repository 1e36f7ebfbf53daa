package fault

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/client"
	"github.com/h2rpc/h2rpc/server"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

const (
	unaryMethod = "/fault.Echo/Unary"
	bidiMethod  = "/fault.Echo/Bidi"
	// holdRequest makes a unary call wait until it is cancelled, or
	// holdLimit passes, before answering.
	holdRequest = "hold"
	holdLimit   = 30 * time.Second
)

var bidiDesc = &client.StreamDesc{ServerStreams: true, ClientStreams: true}

// echoService is the service every test here calls: Unary answers with its
// request, Bidi echoes each message until the client half-closes. The
// hooks let a test see a handler start; they run on the handler's
// goroutine.
type echoService struct {
	// delay is how long each unary call takes before it answers.
	delay time.Duration
	// onUnary, if set, is called as a unary handler starts.
	onUnary func(ctx context.Context, req string)
	// onStream, if set, is called as a Bidi handler starts.
	onStream func(ctx context.Context)
}

func (e *echoService) unary(ctx context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
	if e.onUnary != nil {
		e.onUnary(ctx, in.Value)
	}
	wait := e.delay
	if in.Value == holdRequest {
		wait = holdLimit
	}
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return in, nil
}

func (e *echoService) bidi(st server.Stream) error {
	if e.onStream != nil {
		e.onStream(st.Context())
	}
	for {
		in := new(wrapperspb.StringValue)
		if err := st.RecvMsg(in); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if err := st.SendMsg(in); err != nil {
			return err
		}
	}
}

var echoDesc = server.ServiceDesc{
	ServiceName: "fault.Echo",
	Methods: []server.MethodDesc{{
		MethodName: "Unary",
		Handler: func(srv any, ctx context.Context, dec func(any) error, _ server.UnaryInterceptor) (any, error) {
			in := new(wrapperspb.StringValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			return srv.(*echoService).unary(ctx, in)
		},
	}},
	Streams: []server.StreamDesc{{
		StreamName:    "Bidi",
		ServerStreams: true,
		ClientStreams: true,
		Handler:       func(srv any, st server.Stream) error { return srv.(*echoService).bidi(st) },
	}},
}

// startServer serves svc on a fresh 127.0.0.1 port until the test ends.
func startServer(t *testing.T, svc *echoService, opts ...server.Option) (*server.Server, string) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return serve(t, lis, svc, opts...), lis.Addr().String()
}

// serve serves svc on lis until the test ends.
func serve(t *testing.T, lis net.Listener, svc *echoService, opts ...server.Option) *server.Server {
	t.Helper()
	s := server.New(opts...)
	s.RegisterService(&echoDesc, svc)
	served := make(chan struct{})
	go func() {
		defer close(served)
		s.Serve(lis)
	}()
	t.Cleanup(func() {
		s.Stop()
		<-served
	})
	return s
}

// dial returns a cleartext ClientConn to target, closed when the test ends.
func dial(t *testing.T, target string, opts ...client.DialOption) *client.ClientConn {
	t.Helper()
	cc, err := client.New(target, append([]client.DialOption{client.WithInsecure()}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { cc.Close() })
	return cc
}

// echoOnce runs one unary call and checks its answer.
func echoOnce(ctx context.Context, cc *client.ClientConn, v string, opts ...client.CallOption) error {
	out := new(wrapperspb.StringValue)
	if err := cc.Invoke(ctx, unaryMethod, wrapperspb.String(v), out, opts...); err != nil {
		return err
	}
	if out.Value != v {
		return errors.New("fault: echo answered " + out.Value + " to " + v)
	}
	return nil
}
