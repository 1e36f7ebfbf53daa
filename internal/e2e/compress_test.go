package e2e

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/client"
	"github.com/h2rpc/h2rpc/codec"
	"github.com/h2rpc/h2rpc/codes"
	"github.com/h2rpc/h2rpc/server"
	"github.com/h2rpc/h2rpc/status"
	"github.com/h2rpc/h2rpc/transport"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func TestGzipUnaryAndStream(t *testing.T) {
	cc := dial(t, startServer(t))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	big := strings.Repeat("compress me ", 50000)
	out := new(wrapperspb.StringValue)
	require.NoError(t, cc.Invoke(ctx, "/test.Echo/Unary", wrapperspb.String(big), out, client.UseCompressor("gzip")))
	assert.Equal(t, big, out.Value)

	st, err := cc.NewStream(ctx, &client.StreamDesc{ServerStreams: true, ClientStreams: true}, "/test.Echo/Bidi", client.UseCompressor("gzip"))
	require.NoError(t, err)
	for i := range 5 {
		v := strings.Repeat("z", i*10000)
		require.NoError(t, st.SendMsg(wrapperspb.String(v)))
		got := new(wrapperspb.StringValue)
		require.NoError(t, st.RecvMsg(got))
		assert.Equal(t, v, got.Value)
	}
	require.NoError(t, st.CloseSend())

	err = cc.Invoke(ctx, "/test.Echo/Unary", wrapperspb.String("x"), out, client.UseCompressor("nope"))
	assert.Equal(t, codes.Internal, status.Code(err))
}

// The decompressed size counts against the server's limit: a message that
// is small on the wire but large inflated is refused.
func TestGzipRespectsRecvLimit(t *testing.T) {
	cc := dial(t, startServer(t, server.MaxRecvMsgSize(64<<10)))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := cc.Invoke(ctx, "/test.Echo/Unary", wrapperspb.String(strings.Repeat("a", 1<<20)), new(wrapperspb.StringValue), client.UseCompressor("gzip"))
	assert.Equal(t, codes.ResourceExhausted, status.Code(err))
}

func TestUnknownEncodingIsUnimplemented(t *testing.T) {
	addr := startServer(t)
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := transport.NewClientConn(ctx, nc, transport.ClientConfig{Authority: addr})
	require.NoError(t, err)
	defer func() { c.Close(transport.ErrConnClosed); <-c.Done() }()
	buf, framed, err := codec.MarshalWithPrefix(codec.Proto, wrapperspb.String("x"), codec.PrefixLen)
	require.NoError(t, err)
	framed[0] = 1 // claims to be compressed with the unknown encoding
	codec.WritePrefix(framed, true, len(framed)-codec.PrefixLen)
	s, err := c.NewStream(ctx, &transport.CallHdr{Method: "/test.Echo/Unary", SendCompress: "snappy", Data: framed, Buf: buf, EndStream: true})
	require.NoError(t, err)
	_, err = s.RecvMsg()
	st := status.Convert(err)
	assert.Equal(t, codes.Unimplemented, st.Code())
	assert.Contains(t, st.Message(), "snappy")
}
