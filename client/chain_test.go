package client

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestChainUnaryOrder(t *testing.T) {
	var order []string
	mk := func(name string) UnaryInterceptor {
		return func(ctx context.Context, method string, req, reply any, cc *ClientConn, inv UnaryInvoker, opts ...CallOption) error {
			order = append(order, name)
			return inv(ctx, method, req, reply, cc, opts...)
		}
	}
	chained := chainUnary([]UnaryInterceptor{mk("a"), mk("b")})
	err := chained(context.Background(), "/a.B/C", nil, nil, nil, func(context.Context, string, any, any, *ClientConn, ...CallOption) error {
		order = append(order, "invoke")
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b", "invoke"}, order, "the first given is the outermost")
	assert.Nil(t, chainUnary(nil))
}

func TestChainStreamOrder(t *testing.T) {
	var order []string
	mk := func(name string) StreamInterceptor {
		return func(ctx context.Context, desc *StreamDesc, cc *ClientConn, method string, st Streamer, opts ...CallOption) (Stream, error) {
			order = append(order, name)
			return st(ctx, desc, cc, method, opts...)
		}
	}
	chained := chainStream([]StreamInterceptor{mk("a"), mk("b"), mk("c")})
	_, err := chained(context.Background(), &StreamDesc{}, nil, "/a.B/C", func(context.Context, *StreamDesc, *ClientConn, string, ...CallOption) (Stream, error) {
		order = append(order, "stream")
		return nil, nil
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b", "c", "stream"}, order)
}

func TestNewRequiresSecurityChoiceAndKnownNames(t *testing.T) {
	_, err := New("localhost:1")
	assert.ErrorContains(t, err, "no transport security")
	_, err = New("localhost:1", WithInsecure(), WithBalancer("no_such_policy"))
	assert.ErrorContains(t, err, "no_such_policy")
	cc, err := New("localhost:1", WithInsecure())
	require.NoError(t, err)
	assert.Equal(t, "passthrough", cc.Target().Scheme)
	assert.Equal(t, "localhost:1", cc.Target().Endpoint)
	require.NoError(t, cc.Close())
}
