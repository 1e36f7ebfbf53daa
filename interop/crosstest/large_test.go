package crosstest

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	gcodes "google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Test64MiBMessages sends a 64 MiB message each way, in a unary call and
// over a bidi stream, with the limits raised on both sides. The directions
// run one after the other to keep the heap bounded; the test as a whole
// runs alongside the keepalive tests, which mostly wait.
func Test64MiBMessages(t *testing.T) {
	t.Parallel()
	const (
		size  = 64 << 20
		limit = size + 1024 // room for the protobuf framing
	)
	payload := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	for _, d := range directions {
		t.Run(d.name, func(t *testing.T) {
			_, addr := d.start(t, newService(), serverConfig{maxMsg: limit})
			cc := d.dial(t, addr, clientConfig{maxMsg: limit})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()

			start := time.Now()
			out := new(wrapperspb.BytesValue)
			require.NoError(t, cc.invoke(ctx, mUnary, wrapperspb.Bytes(payload), out, nil))
			require.True(t, bytes.Equal(payload, out.Value), "unary echo differs")
			out = nil
			t.Logf("unary: %v", time.Since(start))

			start = time.Now()
			st, err := cc.bidi(ctx, mBidi, nil)
			require.NoError(t, err)
			require.NoError(t, st.SendMsg(wrapperspb.Bytes(payload)))
			got := new(wrapperspb.BytesValue)
			require.NoError(t, st.RecvMsg(got))
			require.True(t, bytes.Equal(payload, got.Value), "stream echo differs")
			got = nil
			require.NoError(t, st.CloseSend())
			require.ErrorIs(t, st.RecvMsg(new(wrapperspb.BytesValue)), io.EOF)
			t.Logf("bidi: %v", time.Since(start))
		})
	}
}

// TestMessageLimits: each side enforces its own receive limit on the
// other's messages with RESOURCE_EXHAUSTED, and the connection survives.
func TestMessageLimits(t *testing.T) {
	for _, d := range directions {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			// The server takes up to 8 MiB; the client keeps the 4 MiB default.
			_, addr := d.start(t, newService(), serverConfig{maxMsg: 8 << 20})
			cc := d.dial(t, addr, clientConfig{})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()

			err := cc.invoke(ctx, mUnary, wrapperspb.Bytes(make([]byte, 9<<20)), new(wrapperspb.BytesValue), nil)
			t.Logf("9 MiB request: %v", err)
			assert.Equal(t, gcodes.ResourceExhausted, codeOf(err), "request over the server's limit")

			err = cc.invoke(ctx, mUnary, wrapperspb.Bytes(make([]byte, 5<<20)), new(wrapperspb.BytesValue), nil)
			t.Logf("5 MiB response: %v", err)
			assert.Equal(t, gcodes.ResourceExhausted, codeOf(err), "response over the client's limit")

			st, err := cc.bidi(ctx, mBidi, nil)
			require.NoError(t, err)
			require.NoError(t, st.SendMsg(wrapperspb.Bytes(make([]byte, 5<<20))))
			err = st.RecvMsg(new(wrapperspb.BytesValue))
			t.Logf("5 MiB stream response: %v", err)
			assert.Equal(t, gcodes.ResourceExhausted, codeOf(err), "stream response over the client's limit")

			require.NoError(t, cc.invoke(ctx, mUnary, wrapperspb.Bytes([]byte("small")), new(wrapperspb.BytesValue), nil))
		})
	}
}
