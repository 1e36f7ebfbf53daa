package server

import (
	"context"

	"github.com/h2rpc/h2rpc/metadata"
)

// MethodHandler runs a unary method: it decodes the request with dec and
// calls the implementation through interceptor (nil for none).
type MethodHandler func(srv any, ctx context.Context, dec func(any) error, interceptor UnaryInterceptor) (any, error)

// MethodDesc describes a unary method.
type MethodDesc struct {
	MethodName string
	Handler    MethodHandler
}

// StreamHandler runs a streaming method on stream.
type StreamHandler func(srv any, stream Stream) error

// StreamDesc describes a streaming method.
type StreamDesc struct {
	StreamName    string
	Handler       StreamHandler
	ServerStreams bool
	ClientStreams bool
}

// ServiceDesc describes a service: its full name (package.Service), the
// interface its implementation must satisfy, and its methods.
type ServiceDesc struct {
	ServiceName string
	// HandlerType is a pointer to the service interface; RegisterService
	// checks that the implementation satisfies it.
	HandlerType any
	Methods     []MethodDesc
	Streams     []StreamDesc
	// Metadata is free-form (conventionally the .proto file name).
	Metadata any
}

// Registrar is what generated stubs register services with.
type Registrar interface {
	RegisterService(desc *ServiceDesc, impl any)
}

// UnaryInfo describes a unary call to interceptors.
type UnaryInfo struct {
	// Server is the service implementation.
	Server any
	// FullMethod is /package.Service/Method.
	FullMethod string
}

// UnaryHandler is the next step of a unary call: the next interceptor or
// the method itself.
type UnaryHandler func(ctx context.Context, req any) (any, error)

// UnaryInterceptor wraps unary calls. It must call handler to go on.
type UnaryInterceptor func(ctx context.Context, req any, info *UnaryInfo, handler UnaryHandler) (any, error)

// StreamInfo describes a streaming call to interceptors.
type StreamInfo struct {
	FullMethod     string
	IsClientStream bool
	IsServerStream bool
}

// StreamInterceptor wraps streaming calls. It must call handler to go on.
type StreamInterceptor func(srv any, ss Stream, info *StreamInfo, handler StreamHandler) error

// Stream is the server side of a streaming call. One goroutine may send
// while another receives; no other concurrent use is safe.
type Stream interface {
	// SetHeader adds md to the response headers; it fails once they are
	// sent.
	SetHeader(md metadata.MD) error
	// SendHeader sends the response headers with md added.
	SendHeader(md metadata.MD) error
	// SetTrailer adds md to the trailers sent when the handler returns.
	SetTrailer(md metadata.MD)
	// Context is the call's context: request metadata (metadata.
	// FromIncomingContext), peer, deadline; cancelled when the call ends.
	Context() context.Context
	// SendMsg sends a response message.
	SendMsg(m any) error
	// RecvMsg receives a request message into m; io.EOF once the client
	// has half-closed.
	RecvMsg(m any) error
}
