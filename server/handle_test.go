package server

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/codec"
	"github.com/h2rpc/h2rpc/codes"
	"github.com/h2rpc/h2rpc/transport"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

var echoDesc = ServiceDesc{
	ServiceName: "test.Echo",
	Methods: []MethodDesc{{
		MethodName: "Unary",
		Handler: func(_ any, ctx context.Context, dec func(any) error, _ UnaryInterceptor) (any, error) {
			req := new(wrapperspb.StringValue)
			if err := dec(req); err != nil {
				return nil, err
			}
			return req, nil
		},
	}},
}

// TestContentSubtypeCodec: a request whose content-subtype has no codec
// is served with the proto codec, as grpc-go serves it, instead of being
// refused.
func TestContentSubtypeCodec(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := New()
	s.RegisterService(&echoDesc, nil)
	go s.Serve(lis)
	t.Cleanup(s.Stop)

	nc, err := net.Dial("tcp", lis.Addr().String())
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cc, err := transport.NewClientConn(ctx, nc, transport.ClientConfig{Authority: "test"})
	require.NoError(t, err)
	t.Cleanup(func() {
		cc.Close(transport.ErrConnClosed)
		<-cc.Done()
	})

	for _, subtype := range []string{"", "proto", "protox", "unknown-codec"} {
		t.Run("subtype "+subtype, func(t *testing.T) {
			buf, framed, err := codec.MarshalWithPrefix(codec.Proto, wrapperspb.String("hi"), codec.PrefixLen)
			require.NoError(t, err)
			codec.WritePrefix(framed, false, len(framed)-codec.PrefixLen)
			st, err := cc.NewStream(ctx, &transport.CallHdr{Method: "/test.Echo/Unary", ContentSubtype: subtype,
				Data: framed, Buf: buf, EndStream: true, SingleResponse: true})
			require.NoError(t, err)
			m, err := st.RecvMsg()
			require.NoError(t, err)
			out := new(wrapperspb.StringValue)
			require.NoError(t, codec.Proto.Unmarshal(m.Data, out))
			m.Release()
			assert.Equal(t, "hi", out.Value)
			_, err = st.RecvMsg()
			assert.Equal(t, io.EOF, err)
			assert.Equal(t, codes.OK, st.Status().Code())
		})
	}
}
