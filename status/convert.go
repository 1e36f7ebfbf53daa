package status

import (
	"context"
	"errors"

	"github.com/h2rpc/h2rpc/codes"
)

// grpcStatuser is implemented by errors that carry a Status: the errors Err
// returns, and any of the caller's own error types that want to choose the
// status they turn into.
type grpcStatuser interface {
	GRPCStatus() *Status
}

// FromError returns the status carried by err and whether err carried one:
//   - a nil err is success: (nil, true), and a nil *Status reports OK;
//   - an err with a GRPCStatus() *Status method gives that status;
//   - an err that wraps such an error (found with errors.As) gives its code
//     and details with err.Error() as the message, so the context added by
//     wrapping is not lost;
//   - any other err, or one whose GRPCStatus returns nil, gives
//     (Unknown with err.Error() as message, false).
func FromError(err error) (s *Status, ok bool) {
	if err == nil {
		return nil, true
	}
	if gs, isStatuser := err.(grpcStatuser); isStatuser {
		if s := gs.GRPCStatus(); s != nil {
			return s, true
		}
		return New(codes.Unknown, err.Error()), false
	}
	var gs grpcStatuser
	if errors.As(err, &gs) {
		inner := gs.GRPCStatus()
		if inner == nil {
			return New(codes.Unknown, err.Error()), false
		}
		p := inner.Proto()
		p.Message = err.Error()
		return &Status{p: p}, true
	}
	return New(codes.Unknown, err.Error()), false
}

// Convert is FromError without the boolean: the status err carries, or
// Unknown for errors that carry none. It returns nil (OK) for a nil err.
func Convert(err error) *Status {
	s, _ := FromError(err)
	return s
}

// Code returns the code of the status err carries: OK for nil, Unknown for
// errors that carry no status. It is cheaper than Convert(err).Code() for
// wrapped errors.
func Code(err error) codes.Code {
	if err == nil {
		return codes.OK
	}
	var gs grpcStatuser
	if errors.As(err, &gs) {
		if s := gs.GRPCStatus(); s != nil {
			return s.Code()
		}
	}
	return codes.Unknown
}

// FromContextError converts an error from a context (ctx.Err() or one
// wrapping it) to a status: DeadlineExceeded for context.DeadlineExceeded,
// Canceled for context.Canceled, Unknown otherwise, each with err.Error() as
// message. It returns nil for a nil err.
func FromContextError(err error) *Status {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.DeadlineExceeded):
		return New(codes.DeadlineExceeded, err.Error())
	case errors.Is(err, context.Canceled):
		return New(codes.Canceled, err.Error())
	default:
		return New(codes.Unknown, err.Error())
	}
}
