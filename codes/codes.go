// Package codes owns the gRPC status code numbers and their names.
//
// The numbering and names match the gRPC specification (and grpc-go's
// codes package, so moving code over is a rename of the import). The package
// only defines values: it never maps codes from HTTP or HTTP/2 (package
// status does that) and never touches the network.
package codes

import "strconv"

// Code is a gRPC status code, sent on the wire as the decimal value of the
// grpc-status trailer.
type Code uint32

// The status codes defined by gRPC. Their meanings follow
// https://github.com/grpc/grpc/blob/master/doc/statuscodes.md.
const (
	// OK means the call succeeded.
	OK Code = 0
	// Canceled means the call was cancelled, typically by the caller.
	Canceled Code = 1
	// Unknown is used for errors without more specific information, such as
	// an error from another address space whose code is not known here.
	Unknown Code = 2
	// InvalidArgument means the client sent an argument that is invalid
	// regardless of the system's state.
	InvalidArgument Code = 3
	// DeadlineExceeded means the deadline expired before the call finished.
	DeadlineExceeded Code = 4
	// NotFound means a requested entity was not found.
	NotFound Code = 5
	// AlreadyExists means an entity the client tried to create exists.
	AlreadyExists Code = 6
	// PermissionDenied means the caller is not allowed to do this.
	PermissionDenied Code = 7
	// ResourceExhausted means some resource (quota, memory, message size
	// limit) has run out.
	ResourceExhausted Code = 8
	// FailedPrecondition means the system is not in a state that allows the
	// operation; the client should not retry until the state changes.
	FailedPrecondition Code = 9
	// Aborted means the operation was aborted, typically by a concurrency
	// conflict; retrying at a higher level may succeed.
	Aborted Code = 10
	// OutOfRange means the operation went past the valid range.
	OutOfRange Code = 11
	// Unimplemented means the operation is not implemented or not supported.
	Unimplemented Code = 12
	// Internal means an invariant the system relies on was broken.
	Internal Code = 13
	// Unavailable means the service is currently unavailable; retrying with
	// backoff is usually right.
	Unavailable Code = 14
	// DataLoss means unrecoverable data loss or corruption.
	DataLoss Code = 15
	// Unauthenticated means the request lacks valid credentials.
	Unauthenticated Code = 16
)

// MaxCode is the largest code defined by gRPC.
const MaxCode = Unauthenticated

var names = [...]string{
	OK:                 "OK",
	Canceled:           "Canceled",
	Unknown:            "Unknown",
	InvalidArgument:    "InvalidArgument",
	DeadlineExceeded:   "DeadlineExceeded",
	NotFound:           "NotFound",
	AlreadyExists:      "AlreadyExists",
	PermissionDenied:   "PermissionDenied",
	ResourceExhausted:  "ResourceExhausted",
	FailedPrecondition: "FailedPrecondition",
	Aborted:            "Aborted",
	OutOfRange:         "OutOfRange",
	Unimplemented:      "Unimplemented",
	Internal:           "Internal",
	Unavailable:        "Unavailable",
	DataLoss:           "DataLoss",
	Unauthenticated:    "Unauthenticated",
}

// String returns the Go-style name of c ("OK", "InvalidArgument", …), or
// "Code(n)" for a code gRPC does not define.
func (c Code) String() string {
	if c <= MaxCode {
		return names[c]
	}
	return "Code(" + strconv.FormatUint(uint64(c), 10) + ")"
}
