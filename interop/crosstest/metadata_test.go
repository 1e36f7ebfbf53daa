package crosstest

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	gcodes "google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// requestMD exercises text, repeated and binary keys; the binary values
// are not UTF-8 and one is empty.
var requestMD = []string{
	"x-text", "hello",
	"x-multi", "a",
	"x-multi", "b",
	"x-bin", "\x00\x01\xfe\xff binary ✓",
	"x-multi-bin", "\xff",
	"x-multi-bin", "",
}

// checkEchoed checks that md holds requestMD's x-* keys renamed with
// prefix (echo- in headers, trail- in trailers).
func checkEchoed(t *testing.T, prefix string, md map[string][]string) {
	t.Helper()
	want := map[string][]string{
		"text":      {"hello"},
		"multi":     {"a", "b"},
		"bin":       {"\x00\x01\xfe\xff binary ✓"},
		"multi-bin": {"\xff", ""},
	}
	for k, v := range want {
		assert.Equal(t, v, md[prefix+k], "%s%s", prefix, k)
	}
}

// headersDropped checks that a call that fails before sending anything
// still delivers the headers its handler set (in their own HEADERS frame).
func headersDropped(t *testing.T, _ direction, header map[string][]string) {
	t.Helper()
	assert.NotEmpty(t, header["echo-text"], "headers set by a failing handler were dropped")
}

func checkFailStatus(t *testing.T, err error) {
	t.Helper()
	st := statusOf(err)
	assert.Equal(t, gcodes.FailedPrecondition, st.code, "%v", err)
	assert.Equal(t, failMessage, st.msg)
	want := failDetails()
	if assert.Len(t, st.details, len(want)) {
		for i, d := range st.details {
			m, ok := d.(proto.Message)
			if assert.True(t, ok, "detail %d is %T: %v", i, d, d) {
				assert.True(t, proto.Equal(want[i], m), "detail %d: got %v, want %v", i, m, want[i])
			}
		}
	}
}

// TestMetadataAndStatus: text, repeated and -bin metadata cross in request
// headers, response headers and trailers; a status with a non-ASCII
// message and google.rpc.Status details crosses whole; all in unary calls
// and streams, after success and after failure.
func TestMetadataAndStatus(t *testing.T) {
	for _, d := range directions {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			_, addr := d.start(t, newService(), serverConfig{})
			cc := d.dial(t, addr, clientConfig{})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()

			for _, fail := range []bool{false, true} {
				name := map[bool]string{false: "ok", true: "fail"}[fail]
				req := wrapperspb.Bytes([]byte(name))
				t.Run("unary_"+name, func(t *testing.T) {
					o := &callOpts{md: requestMD}
					out := new(wrapperspb.BytesValue)
					err := cc.invoke(ctx, mMeta, req, out, o)
					if fail {
						checkFailStatus(t, err)
					} else {
						require.NoError(t, err)
						assert.Equal(t, req.Value, out.Value)
					}
					checkEchoed(t, "trail-", o.trailer)
					t.Run("header", func(t *testing.T) {
						if fail {
							headersDropped(t, d, o.header)
						}
						checkEchoed(t, "echo-", o.header)
					})
				})
				t.Run("bidi_"+name, func(t *testing.T) {
					st, err := cc.bidi(ctx, mMetaStream, &callOpts{md: requestMD})
					require.NoError(t, err)
					require.NoError(t, st.SendMsg(req))
					require.NoError(t, st.CloseSend())
					var recvErr error
					for range 10 {
						if recvErr = st.RecvMsg(new(wrapperspb.BytesValue)); recvErr != nil {
							break
						}
					}
					if fail {
						checkFailStatus(t, recvErr)
					} else {
						require.ErrorIs(t, recvErr, io.EOF)
					}
					hdr, err := st.header()
					require.NoError(t, err)
					checkEchoed(t, "echo-", hdr)
					checkEchoed(t, "trail-", st.trailer())
				})
			}
		})
	}
}

// TestDeadlinePropagation: the server's handler sees the client's deadline
// (grpc-timeout), give or take the time in flight and the rounding of the
// timeout's unit, for timeouts that need different units; and none when
// the client set none.
func TestDeadlinePropagation(t *testing.T) {
	for _, d := range directions {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			_, addr := d.start(t, newService(), serverConfig{})
			cc := d.dial(t, addr, clientConfig{})
			for _, timeout := range []time.Duration{0, 750 * time.Millisecond, 3 * time.Second, 10 * time.Hour, 1000 * time.Hour} {
				t.Run(timeout.String(), func(t *testing.T) {
					ctx, cancel := context.Background(), context.CancelFunc(func() {})
					if timeout > 0 {
						ctx, cancel = context.WithTimeout(ctx, timeout)
					}
					defer cancel()
					out := new(wrapperspb.Int64Value)
					require.NoError(t, cc.invoke(ctx, mDeadline, wrapperspb.Bytes(nil), out, nil))
					left := time.Duration(out.Value)
					if timeout == 0 {
						assert.Equal(t, time.Duration(-1), left, "the server saw a deadline")
						return
					}
					t.Logf("client timeout %v, server saw %v left", timeout, left)
					assert.LessOrEqual(t, left, timeout+10*time.Millisecond)
					assert.Greater(t, left, timeout-time.Second)
					assert.Greater(t, left, time.Duration(0))
				})
			}
		})
	}
}

// TestCancellation: a client that cancels a call, or whose deadline
// passes, ends it with CANCELLED or DEADLINE_EXCEEDED, and the server's
// handler sees its context end; the connection keeps serving.
func TestCancellation(t *testing.T) {
	for _, d := range directions {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			svc := newService()
			_, addr := d.start(t, svc, serverConfig{})
			cc := d.dial(t, addr, clientConfig{})
			for _, tc := range []struct {
				name      string
				streaming bool
				deadline  bool
			}{
				{"unary_cancel", false, false},
				{"unary_deadline", false, true},
				{"bidi_cancel", true, false},
				{"bidi_deadline", true, true},
			} {
				t.Run(tc.name, func(t *testing.T) {
					ctx, cancel := context.WithCancel(context.Background())
					if tc.deadline {
						ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
					}
					defer cancel()
					errc := make(chan error, 1)
					go func() {
						if !tc.streaming {
							errc <- cc.invoke(ctx, mWait, wrapperspb.Bytes(nil), new(wrapperspb.BytesValue), nil)
							return
						}
						st, err := cc.bidi(ctx, mWaitStream, nil)
						if err != nil {
							errc <- err
							return
						}
						errc <- st.RecvMsg(new(wrapperspb.BytesValue))
					}()
					select {
					case <-svc.started:
					case <-time.After(5 * time.Second):
						t.Fatal("the handler did not start")
					}
					if !tc.deadline {
						cancel()
					}
					var clientErr, serverErr error
					select {
					case clientErr = <-errc:
					case <-time.After(5 * time.Second):
						t.Fatal("the call did not end")
					}
					select {
					case serverErr = <-svc.ended:
					case <-time.After(5 * time.Second):
						t.Fatal("the handler's context did not end")
					}
					t.Logf("client: %v; server handler: %v", clientErr, serverErr)
					if tc.deadline {
						assert.Equal(t, gcodes.DeadlineExceeded, codeOf(clientErr))
						// The server's own timer and the client's RST_STREAM race.
						assert.True(t, errors.Is(serverErr, context.DeadlineExceeded) || errors.Is(serverErr, context.Canceled), "%v", serverErr)
					} else {
						assert.Equal(t, gcodes.Canceled, codeOf(clientErr))
						assert.ErrorIs(t, serverErr, context.Canceled)
					}
					ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel2()
					require.NoError(t, cc.invoke(ctx2, mUnary, wrapperspb.Bytes([]byte("after")), new(wrapperspb.BytesValue), nil))
				})
			}
		})
	}
}
