package e2e

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/client"
	"github.com/h2rpc/h2rpc/codes"
	"github.com/h2rpc/h2rpc/metadata"
	"github.com/h2rpc/h2rpc/server"
	"github.com/h2rpc/h2rpc/status"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// echoService echoes strings; special inputs make it fail or sleep.
type echoService struct{}

func (echoService) unary(ctx context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
	switch {
	case strings.HasPrefix(in.Value, "fail:"):
		return nil, status.Error(codes.InvalidArgument, strings.TrimPrefix(in.Value, "fail:"))
	case in.Value == "sleep":
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Second):
		}
	case in.Value == "bad header":
		if err := server.SetHeader(ctx, metadata.Pairs("x-note", "a\r\nb")); err != nil {
			return nil, err
		}
	case in.Value == "header":
		md, _ := metadata.FromIncomingContext(ctx)
		server.SetHeader(ctx, metadata.Pairs("echo-h", strings.Join(md.Get("x-in"), ",")))
		server.SetTrailer(ctx, metadata.Pairs("echo-t-bin", "\x00\x01"))
	}
	return wrapperspb.String(in.Value), nil
}

var echoDesc = server.ServiceDesc{
	ServiceName: "test.Echo",
	Methods: []server.MethodDesc{{
		MethodName: "Unary",
		Handler: func(srv any, ctx context.Context, dec func(any) error, in server.UnaryInterceptor) (any, error) {
			req := new(wrapperspb.StringValue)
			if err := dec(req); err != nil {
				return nil, err
			}
			h := func(ctx context.Context, r any) (any, error) {
				return srv.(echoService).unary(ctx, r.(*wrapperspb.StringValue))
			}
			if in == nil {
				return h(ctx, req)
			}
			return in(ctx, req, &server.UnaryInfo{Server: srv, FullMethod: "/test.Echo/Unary"}, h)
		},
	}},
	Streams: []server.StreamDesc{{
		// Download sends 1 MiB messages until the client goes away.
		StreamName:    "Download",
		ServerStreams: true,
		Handler: func(srv any, st server.Stream) error {
			if err := st.RecvMsg(new(wrapperspb.StringValue)); err != nil {
				return err
			}
			chunk := wrapperspb.Bytes(make([]byte, 1<<20))
			for st.Context().Err() == nil {
				if err := st.SendMsg(chunk); err != nil {
					return err
				}
			}
			return st.Context().Err()
		},
	}, {
		StreamName:    "Bidi",
		ServerStreams: true,
		ClientStreams: true,
		Handler: func(srv any, st server.Stream) error {
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
		},
	}},
}

func startServer(t testing.TB, opts ...server.Option) string {
	t.Helper()
	_, addr := serveDesc(t, &echoDesc, echoService{}, opts...)
	return addr
}

// serveDesc serves desc (implemented by impl) on a loopback port until
// the test ends.
func serveDesc(t testing.TB, desc *server.ServiceDesc, impl any, opts ...server.Option) (*server.Server, string) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := server.New(opts...)
	s.RegisterService(desc, impl)
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	return s, lis.Addr().String()
}

func dial(t *testing.T, addr string) *client.ClientConn {
	t.Helper()
	cc, err := client.New(addr, client.WithInsecure())
	require.NoError(t, err)
	t.Cleanup(func() { cc.Close() })
	return cc
}

func TestUnaryEcho(t *testing.T) {
	cc := dial(t, startServer(t))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, v := range []string{"a", "", strings.Repeat("x", 300000)} {
		out := new(wrapperspb.StringValue)
		require.NoError(t, cc.Invoke(ctx, "/test.Echo/Unary", wrapperspb.String(v), out))
		assert.Equal(t, v, out.Value)
	}
}

func TestUnaryStatusAndMetadata(t *testing.T) {
	cc := dial(t, startServer(t))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := cc.Invoke(ctx, "/test.Echo/Unary", wrapperspb.String("fail:bad thing ✓ 100%"), new(wrapperspb.StringValue))
	st := status.Convert(err)
	assert.Equal(t, codes.InvalidArgument, st.Code())
	assert.Equal(t, "bad thing ✓ 100%", st.Message())

	var hdr, trl metadata.MD
	ctx = metadata.AppendToOutgoingContext(ctx, "x-in", "v1")
	require.NoError(t, cc.Invoke(ctx, "/test.Echo/Unary", wrapperspb.String("header"), new(wrapperspb.StringValue),
		client.Header(&hdr), client.Trailer(&trl)))
	assert.Equal(t, []string{"v1"}, hdr.Get("echo-h"))
	assert.Equal(t, []string{"\x00\x01"}, trl.Get("echo-t-bin"))

	err = cc.Invoke(ctx, "/test.Echo/Nope", wrapperspb.String(""), new(wrapperspb.StringValue))
	assert.Equal(t, codes.Unimplemented, status.Code(err))
	err = cc.Invoke(ctx, "/test.Nope/Nope", wrapperspb.String(""), new(wrapperspb.StringValue))
	assert.Equal(t, codes.Unimplemented, status.Code(err))
}

func TestUnaryDeadline(t *testing.T) {
	cc := dial(t, startServer(t))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := cc.Invoke(ctx, "/test.Echo/Unary", wrapperspb.String("sleep"), new(wrapperspb.StringValue))
	assert.Equal(t, codes.DeadlineExceeded, status.Code(err))
}

func TestBidi(t *testing.T) {
	cc := dial(t, startServer(t))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := cc.NewStream(ctx, &client.StreamDesc{ServerStreams: true, ClientStreams: true}, "/test.Echo/Bidi")
	require.NoError(t, err)
	for i := range 100 {
		v := strings.Repeat("y", i*1000)
		require.NoError(t, st.SendMsg(wrapperspb.String(v)))
		out := new(wrapperspb.StringValue)
		require.NoError(t, st.RecvMsg(out))
		require.Equal(t, v, out.Value)
	}
	require.NoError(t, st.CloseSend())
	assert.ErrorIs(t, st.RecvMsg(new(wrapperspb.StringValue)), io.EOF)
}

func startServerB(b *testing.B) string { return startServer(b) }

// TestInvalidMetadataIsRefusedBeforeSending: metadata HTTP/2 cannot carry
// fails the call with INTERNAL on the side that would send it, as in
// grpc-go: the client's outgoing metadata before the call starts, a
// server's headers when the handler sets them.
func TestInvalidMetadataIsRefusedBeforeSending(t *testing.T) {
	cc := dial(t, startServer(t))
	base, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tests := []struct {
		name string
		ctx  context.Context
		code codes.Code
	}{
		{"valid", metadata.NewOutgoingContext(base, metadata.MD{"x-a": {"b"}, "x-bin": {"\x00\n"}}), codes.OK},
		{"added pair with capitals", metadata.AppendToOutgoingContext(base, "X-Up", "v"), codes.OK},
		{"control bytes", metadata.NewOutgoingContext(base, metadata.MD{"x-note": {"a\r\nb"}}), codes.Internal},
		{"capital in key", metadata.NewOutgoingContext(base, metadata.MD{"Grpc-Status": {"0"}}), codes.Internal},
		{"added pair, NUL", metadata.AppendToOutgoingContext(base, "x-a", "\x00"), codes.Internal},
	}
	for _, tt := range tests {
		err := cc.Invoke(tt.ctx, "/test.Echo/Unary", wrapperspb.String("a"), new(wrapperspb.StringValue))
		assert.Equal(t, tt.code, status.Code(err), "%s: %v", tt.name, err)
		if tt.code != codes.OK {
			// Refused here, not reset by the server as malformed.
			assert.Contains(t, status.Convert(err).Message(), "metadata: ", tt.name)
		}
	}

	err := cc.Invoke(base, "/test.Echo/Unary", wrapperspb.String("bad header"), new(wrapperspb.StringValue))
	assert.Equal(t, codes.Internal, status.Code(err), "%v", err)
	assert.Contains(t, status.Convert(err).Message(), "invalid byte", "the handler's SetHeader error is its status")
}
