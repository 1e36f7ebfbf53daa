package server

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
		return func(ctx context.Context, req any, info *UnaryInfo, h UnaryHandler) (any, error) {
			order = append(order, name+">")
			resp, err := h(ctx, req)
			order = append(order, "<"+name)
			return resp, err
		}
	}
	for n := 0; n <= 3; n++ {
		order = nil
		var is []UnaryInterceptor
		names := []string{"a", "b", "c"}[:n]
		for _, name := range names {
			is = append(is, mk(name))
		}
		chained := chainUnary(is)
		handler := func(ctx context.Context, req any) (any, error) {
			order = append(order, "handler")
			return req.(string) + "!", nil
		}
		var resp any
		var err error
		if chained == nil {
			require.Zero(t, n)
			resp, err = handler(context.Background(), "x")
		} else {
			resp, err = chained(context.Background(), "x", &UnaryInfo{FullMethod: "/a.B/C"}, handler)
		}
		require.NoError(t, err)
		assert.Equal(t, "x!", resp)
		var want []string
		for _, name := range names {
			want = append(want, name+">")
		}
		want = append(want, "handler")
		for i := len(names) - 1; i >= 0; i-- {
			want = append(want, "<"+names[i])
		}
		assert.Equal(t, want, order, "%d interceptors: the first given is the outermost", n)
	}
}

func TestChainStreamOrder(t *testing.T) {
	var order []string
	mk := func(name string) StreamInterceptor {
		return func(srv any, ss Stream, info *StreamInfo, h StreamHandler) error {
			order = append(order, name)
			return h(srv, ss)
		}
	}
	chained := chainStream([]StreamInterceptor{mk("a"), mk("b"), mk("c")})
	err := chained(nil, nil, &StreamInfo{}, func(any, Stream) error {
		order = append(order, "handler")
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b", "c", "handler"}, order)
}

func TestSplitMethod(t *testing.T) {
	for _, tt := range []struct {
		in, svc, method string
		ok              bool
	}{
		{"/pkg.Svc/Method", "pkg.Svc", "Method", true},
		{"/a/b/c", "a/b", "c", true},
		{"pkg.Svc/Method", "", "", false},
		{"/", "", "", false},
		{"", "", "", false},
	} {
		svc, method, ok := splitMethod(tt.in)
		assert.Equal(t, tt.ok, ok, tt.in)
		if ok {
			assert.Equal(t, tt.svc, svc, tt.in)
			assert.Equal(t, tt.method, method, tt.in)
		}
	}
}
