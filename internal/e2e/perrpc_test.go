package e2e

import (
	"context"
	"errors"
	"net"
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

type tokenCreds struct {
	secure bool
	err    error
	uris   chan string
}

func (c tokenCreds) GetRequestMetadata(_ context.Context, uri ...string) (map[string]string, error) {
	if c.uris != nil {
		c.uris <- uri[0]
	}
	return map[string]string{"authorization": "Bearer t0k3n"}, c.err
}

func (c tokenCreds) RequireTransportSecurity() bool { return c.secure }

func TestPerRPCCredentials(t *testing.T) {
	// The server checks the token in an interceptor.
	auth := func(ctx context.Context, req any, _ *server.UnaryInfo, h server.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		if v := md.Get("authorization"); len(v) != 1 || v[0] != "Bearer t0k3n" {
			return nil, status.Error(codes.Unauthenticated, "no token")
		}
		return h(ctx, req)
	}
	addr := startServer(t, server.ChainUnaryInterceptor(auth))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out := new(wrapperspb.StringValue)

	plain := dial(t, addr)
	err := plain.Invoke(ctx, "/test.Echo/Unary", wrapperspb.String("x"), out)
	assert.Equal(t, codes.Unauthenticated, status.Code(err), "a call without the token must be refused")

	uris := make(chan string, 1)
	cc, err := client.New(addr, client.WithInsecure(), client.WithPerRPCCredentials(tokenCreds{uris: uris}))
	require.NoError(t, err)
	defer cc.Close()
	require.NoError(t, cc.Invoke(ctx, "/test.Echo/Unary", wrapperspb.String("x"), out))
	assert.Equal(t, "https://"+addr+"/test.Echo", <-uris)

	// The audience leaves out the default port, as grpc-go's does.
	named, err := client.New("foo.example.com:443", client.WithInsecure(), client.WithPerRPCCredentials(tokenCreds{uris: uris}),
		client.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		}))
	require.NoError(t, err)
	defer named.Close()
	require.NoError(t, named.Invoke(ctx, "/test.Echo/Unary", wrapperspb.String("x"), out))
	assert.Equal(t, "https://foo.example.com/test.Echo", <-uris)

	err = plain.Invoke(ctx, "/test.Echo/Unary", wrapperspb.String("x"), out, client.PerRPCCredentials(tokenCreds{secure: true}))
	assert.Equal(t, codes.Unauthenticated, status.Code(err), "secure-only credentials must not go over cleartext")
	err = plain.Invoke(ctx, "/test.Echo/Unary", wrapperspb.String("x"), out, client.PerRPCCredentials(tokenCreds{err: errors.New("token service down")}))
	assert.Equal(t, codes.Unauthenticated, status.Code(err))
	assert.Contains(t, status.Convert(err).Message(), "token service down")
}
