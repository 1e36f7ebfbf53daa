// Package status owns the gRPC status of a call: a code, a message and
// optional details, backed by the google.rpc.Status protocol buffer, and the
// error values that carry it through Go code.
//
// Every error an h2rpc call returns can be turned back into a *Status with
// FromError or Convert. The package also maps HTTP and HTTP/2 failures
// (an HTTP status without grpc-status, a RST_STREAM or GOAWAY error code) to
// status codes, as the gRPC protocol prescribes. It never encodes statuses
// for the wire (package internal/wire does the header values) and never
// touches the network.
//
// A *Status is immutable once made, so it is safe for concurrent use and
// may be shared; methods that would change it return a new one.
package status

import (
	"errors"
	"fmt"

	"github.com/h2rpc/h2rpc/codes"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// Status is the outcome of a gRPC call. A nil *Status means OK.
type Status struct {
	p *spb.Status // never nil, never mutated after construction
}

// New returns a Status with code c and message msg.
func New(c codes.Code, msg string) *Status {
	return &Status{p: &spb.Status{Code: int32(c), Message: msg}}
}

// Newf returns a Status with code c and a message formatted as by
// fmt.Sprintf.
func Newf(c codes.Code, format string, args ...any) *Status {
	return New(c, fmt.Sprintf(format, args...))
}

// Error returns an error carrying code c and message msg, or nil if c is OK.
func Error(c codes.Code, msg string) error {
	return New(c, msg).Err()
}

// Errorf returns an error carrying code c and a message formatted as by
// fmt.Sprintf, or nil if c is OK.
func Errorf(c codes.Code, format string, args ...any) error {
	return Error(c, fmt.Sprintf(format, args...))
}

// FromProto returns a Status holding a copy of p; later changes to p do not
// affect it. A nil p gives an OK status.
func FromProto(p *spb.Status) *Status {
	if p == nil {
		return &Status{p: &spb.Status{}}
	}
	return &Status{p: proto.CloneOf(p)}
}

// Code returns the status code; OK for a nil Status.
func (s *Status) Code() codes.Code {
	if s == nil {
		return codes.OK
	}
	return codes.Code(s.p.GetCode())
}

// Message returns the status message; empty for a nil Status.
func (s *Status) Message() string {
	if s == nil {
		return ""
	}
	return s.p.GetMessage()
}

// Proto returns a copy of the status as a google.rpc.Status, or nil for a
// nil Status.
func (s *Status) Proto() *spb.Status {
	if s == nil {
		return nil
	}
	return proto.CloneOf(s.p)
}

// Err returns an error carrying s, or nil if s is OK. The error's
// GRPCStatus method returns s.
func (s *Status) Err() error {
	if s.Code() == codes.OK {
		return nil
	}
	return &statusError{s: s}
}

// Details returns the status details, each unmarshalled from its
// google.protobuf.Any into the registered Go type. A detail whose type is not
// linked into the binary, or which does not parse, appears as the error
// describing why, so one bad detail does not hide the others.
func (s *Status) Details() []any {
	if s == nil || len(s.p.GetDetails()) == 0 {
		return nil
	}
	out := make([]any, 0, len(s.p.Details))
	for _, a := range s.p.Details {
		m, err := a.UnmarshalNew()
		if err != nil {
			out = append(out, fmt.Errorf("status: detail %q: %w", a.GetTypeUrl(), err))
			continue
		}
		out = append(out, m)
	}
	return out
}

// WithDetails returns a new Status with s's code, message and details
// followed by details. Details make no sense on success, so it fails if s
// is OK; it also fails if a detail cannot be marshalled.
func (s *Status) WithDetails(details ...proto.Message) (*Status, error) {
	if s.Code() == codes.OK {
		return nil, errors.New("status: cannot add details to an OK status")
	}
	p := s.Proto()
	for _, d := range details {
		a, err := anypb.New(d)
		if err != nil {
			return nil, fmt.Errorf("status: marshalling detail %T: %w", d, err)
		}
		p.Details = append(p.Details, a)
	}
	return &Status{p: p}, nil
}

// String describes s in the same form as the error Err returns.
func (s *Status) String() string {
	return fmt.Sprintf("rpc error: code = %s desc = %s", s.Code(), s.Message())
}

// statusError is the error Err returns.
type statusError struct {
	s *Status // never nil, never OK
}

// Error formats the status as grpc-go does, so logs and tests that match
// on error text keep working.
func (e *statusError) Error() string {
	return e.s.String()
}

// GRPCStatus returns the status the error carries. Any error type with this
// method is understood by FromError, Convert and Code.
func (e *statusError) GRPCStatus() *Status {
	return e.s
}

// Is reports whether target is a status error with the same code, message
// and details.
func (e *statusError) Is(target error) bool {
	t, ok := target.(*statusError)
	if !ok {
		return false
	}
	return proto.Equal(e.s.p, t.s.p)
}
