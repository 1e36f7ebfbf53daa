package status

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/h2rpc/h2rpc/codes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// customErr chooses its own status, as user error types may.
type customErr struct{ s *Status }

func (e customErr) Error() string       { return "custom" }
func (e customErr) GRPCStatus() *Status { return e.s }

func TestFromError(t *testing.T) {
	s, ok := FromError(nil)
	assert.True(t, ok)
	assert.Nil(t, s)
	assert.Equal(t, codes.OK, s.Code())
	assert.Equal(t, "", s.Message())

	orig := New(codes.NotFound, "gone")
	s, ok = FromError(orig.Err())
	assert.True(t, ok)
	assert.Same(t, orig, s)

	s, ok = FromError(io.EOF)
	assert.False(t, ok)
	assert.Equal(t, codes.Unknown, s.Code())
	assert.Equal(t, "EOF", s.Message())

	s, ok = FromError(customErr{New(codes.PermissionDenied, "nope")})
	assert.True(t, ok)
	assert.Equal(t, codes.PermissionDenied, s.Code())
	assert.Equal(t, "nope", s.Message())

	// A GRPCStatus method returning nil (OK) on an error is nonsense; it is
	// treated as an error without status.
	s, ok = FromError(customErr{nil})
	assert.False(t, ok)
	assert.Equal(t, codes.Unknown, s.Code())
	assert.Equal(t, "custom", s.Message())
}

func TestFromErrorWrapped(t *testing.T) {
	inner, err := New(codes.FailedPrecondition, "not ready").WithDetails(wrapperspb.String("d"))
	require.NoError(t, err)
	wrapped := fmt.Errorf("loading user: %w", inner.Err())

	s, ok := FromError(wrapped)
	require.True(t, ok)
	assert.Equal(t, codes.FailedPrecondition, s.Code())
	assert.Equal(t, "loading user: rpc error: code = FailedPrecondition desc = not ready", s.Message())
	require.Len(t, s.Details(), 1)
	assert.True(t, proto.Equal(wrapperspb.String("d"), s.Details()[0].(proto.Message)))
	assert.Equal(t, "not ready", inner.Message(), "the wrapped status must not change")

	twice := fmt.Errorf("outer: %w", wrapped)
	s, ok = FromError(twice)
	require.True(t, ok)
	assert.Equal(t, codes.FailedPrecondition, s.Code())
	assert.Equal(t, twice.Error(), s.Message())

	joined := errors.Join(io.EOF, Error(codes.Aborted, "x"))
	s, ok = FromError(joined)
	require.True(t, ok)
	assert.Equal(t, codes.Aborted, s.Code())

	s, ok = FromError(fmt.Errorf("w: %w", customErr{nil}))
	assert.False(t, ok)
	assert.Equal(t, codes.Unknown, s.Code())
	assert.Equal(t, "w: custom", s.Message())
}

func TestConvertAndCode(t *testing.T) {
	tests := []struct {
		err  error
		want codes.Code
	}{
		{nil, codes.OK},
		{io.EOF, codes.Unknown},
		{Error(codes.ResourceExhausted, "big"), codes.ResourceExhausted},
		{fmt.Errorf("ctx: %w", Error(codes.DataLoss, "x")), codes.DataLoss},
		{customErr{New(codes.Unauthenticated, "who")}, codes.Unauthenticated},
		{customErr{nil}, codes.Unknown},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, Code(tt.err), "err=%v", tt.err)
		assert.Equal(t, tt.want, Convert(tt.err).Code(), "err=%v", tt.err)
	}
}

func TestFromContextError(t *testing.T) {
	assert.Nil(t, FromContextError(nil))

	s := FromContextError(context.DeadlineExceeded)
	assert.Equal(t, codes.DeadlineExceeded, s.Code())
	assert.Equal(t, context.DeadlineExceeded.Error(), s.Message())

	assert.Equal(t, codes.Canceled, FromContextError(context.Canceled).Code())
	assert.Equal(t, codes.Canceled, FromContextError(fmt.Errorf("op: %w", context.Canceled)).Code())
	assert.Equal(t, codes.Unknown, FromContextError(io.EOF).Code())

	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("shutting down"))
	assert.Equal(t, codes.Canceled, FromContextError(ctx.Err()).Code())
}

func BenchmarkErr(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = Error(codes.NotFound, "x")
	}
}

func BenchmarkCodeWrapped(b *testing.B) {
	err := fmt.Errorf("ctx: %w", Error(codes.DataLoss, "x"))
	b.ReportAllocs()
	for b.Loop() {
		_ = Code(err)
	}
}
