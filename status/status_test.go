package status

import (
	"errors"
	"fmt"
	"testing"

	"github.com/h2rpc/h2rpc/codes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func TestNewAndAccessors(t *testing.T) {
	s := New(codes.NotFound, "no such thing")
	assert.Equal(t, codes.NotFound, s.Code())
	assert.Equal(t, "no such thing", s.Message())
	assert.Equal(t, "rpc error: code = NotFound desc = no such thing", s.String())
	assert.Nil(t, s.Details())

	s = Newf(codes.InvalidArgument, "field %q: %d", "x", 3)
	assert.Equal(t, `field "x": 3`, s.Message())
}

func TestNilStatus(t *testing.T) {
	var s *Status
	assert.Equal(t, codes.OK, s.Code())
	assert.Equal(t, "", s.Message())
	assert.Nil(t, s.Proto())
	assert.NoError(t, s.Err())
	assert.Nil(t, s.Details())
	assert.Equal(t, "rpc error: code = OK desc = ", s.String())
	_, err := s.WithDetails(wrapperspb.String("x"))
	assert.Error(t, err)
}

func TestErr(t *testing.T) {
	assert.NoError(t, New(codes.OK, "fine").Err())
	assert.NoError(t, Error(codes.OK, "fine"))
	assert.NoError(t, Errorf(codes.OK, "fine %d", 1))

	err := Errorf(codes.Unavailable, "backend %s down", "b1")
	require.Error(t, err)
	assert.Equal(t, "rpc error: code = Unavailable desc = backend b1 down", err.Error())
	gs, ok := err.(interface{ GRPCStatus() *Status })
	require.True(t, ok)
	assert.Equal(t, codes.Unavailable, gs.GRPCStatus().Code())
}

func TestErrorIs(t *testing.T) {
	a := Error(codes.NotFound, "x")
	assert.ErrorIs(t, a, Error(codes.NotFound, "x"))
	assert.ErrorIs(t, fmt.Errorf("wrapped: %w", a), Error(codes.NotFound, "x"))
	assert.NotErrorIs(t, a, Error(codes.NotFound, "y"))
	assert.NotErrorIs(t, a, Error(codes.Internal, "x"))
	assert.NotErrorIs(t, a, errors.New("rpc error: code = NotFound desc = x"))

	d1, err := New(codes.NotFound, "x").WithDetails(wrapperspb.String("a"))
	require.NoError(t, err)
	d2, err := New(codes.NotFound, "x").WithDetails(wrapperspb.String("b"))
	require.NoError(t, err)
	assert.NotErrorIs(t, d1.Err(), d2.Err())
	assert.NotErrorIs(t, d1.Err(), a)
	d1again, err := New(codes.NotFound, "x").WithDetails(wrapperspb.String("a"))
	require.NoError(t, err)
	assert.ErrorIs(t, d1.Err(), d1again.Err())
}

func TestProtoIsACopy(t *testing.T) {
	p := &spb.Status{Code: int32(codes.Aborted), Message: "m"}
	s := FromProto(p)
	p.Message = "changed"
	assert.Equal(t, "m", s.Message())

	out := s.Proto()
	out.Message = "changed too"
	assert.Equal(t, "m", s.Message())

	assert.Equal(t, codes.OK, FromProto(nil).Code())
	assert.NoError(t, FromProto(nil).Err())
}

func TestDetailsRoundTrip(t *testing.T) {
	br := &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
		{Field: "name", Description: "required"},
	}}
	ri := &errdetails.RetryInfo{RetryDelay: durationpb.New(1500_000_000)}
	s, err := New(codes.InvalidArgument, "bad").WithDetails(br, ri)
	require.NoError(t, err)

	// The details survive a trip through google.rpc.Status bytes, as they
	// do through grpc-status-details-bin.
	b, err := proto.Marshal(s.Proto())
	require.NoError(t, err)
	var p spb.Status
	require.NoError(t, proto.Unmarshal(b, &p))
	got := FromProto(&p)

	assert.Equal(t, codes.InvalidArgument, got.Code())
	assert.Equal(t, "bad", got.Message())
	details := got.Details()
	require.Len(t, details, 2)
	assert.True(t, proto.Equal(br, details[0].(proto.Message)))
	assert.True(t, proto.Equal(ri, details[1].(proto.Message)))

	// WithDetails appends and leaves the original alone.
	more, err := got.WithDetails(wrapperspb.Int32(7))
	require.NoError(t, err)
	assert.Len(t, more.Details(), 3)
	assert.Len(t, got.Details(), 2)
}

func TestDetailsUnknownType(t *testing.T) {
	p := &spb.Status{
		Code:    int32(codes.Internal),
		Message: "m",
		Details: []*anypb.Any{
			{TypeUrl: "type.googleapis.com/no.such.Type", Value: []byte{1, 2}},
			mustAny(t, wrapperspb.String("ok")),
		},
	}
	details := FromProto(p).Details()
	require.Len(t, details, 2)
	assert.ErrorContains(t, details[0].(error), "no.such.Type")
	assert.True(t, proto.Equal(wrapperspb.String("ok"), details[1].(proto.Message)))
}

func TestWithDetailsOnOK(t *testing.T) {
	_, err := New(codes.OK, "").WithDetails(wrapperspb.String("x"))
	assert.Error(t, err)
}

func mustAny(t *testing.T, m proto.Message) *anypb.Any {
	t.Helper()
	a, err := anypb.New(m)
	require.NoError(t, err)
	return a
}
