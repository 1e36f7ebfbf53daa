// Service stubs for grpc.testing.TestService and grpc.testing.UnimplementedService
// (proto/grpc/testing/test.proto) on the h2rpc client and server packages.
//
// They are written by hand, not generated, but keep the shape users of
// protoc-gen-go-grpc expect: a FooClient interface and NewFooClient, a
// FooServer interface with an UnimplementedFooServer to embed, RegisterFooServer
// taking a server.Registrar, a Foo_ServiceDesc and one typed stream interface
// per streaming method. The other services of test.proto (reconnect, xDS, load
// balancer stats, hooks) are not part of the interop cases and have no stubs.

package grpc_testing

import (
	"context"
	"io"

	"github.com/h2rpc/h2rpc/client"
	"github.com/h2rpc/h2rpc/codes"
	"github.com/h2rpc/h2rpc/server"
	"github.com/h2rpc/h2rpc/status"
)

// Full method names, as they appear in :path.
const (
	TestService_EmptyCall_FullMethodName           = "/grpc.testing.TestService/EmptyCall"
	TestService_UnaryCall_FullMethodName           = "/grpc.testing.TestService/UnaryCall"
	TestService_CacheableUnaryCall_FullMethodName  = "/grpc.testing.TestService/CacheableUnaryCall"
	TestService_StreamingOutputCall_FullMethodName = "/grpc.testing.TestService/StreamingOutputCall"
	TestService_StreamingInputCall_FullMethodName  = "/grpc.testing.TestService/StreamingInputCall"
	TestService_FullDuplexCall_FullMethodName      = "/grpc.testing.TestService/FullDuplexCall"
	TestService_HalfDuplexCall_FullMethodName      = "/grpc.testing.TestService/HalfDuplexCall"
	TestService_UnimplementedCall_FullMethodName   = "/grpc.testing.TestService/UnimplementedCall"

	UnimplementedService_UnimplementedCall_FullMethodName = "/grpc.testing.UnimplementedService/UnimplementedCall"
)

// ---------------------------------------------------------------------------
// Typed streams shared by every streaming method.
//
// One generic type on each side implements all the per-method stream
// interfaces below; the interfaces exist so that callers name a stream by its
// method, as with generated code.

// clientStream wraps a client.Stream that sends Req and receives Resp.
type clientStream[Req, Resp any] struct {
	client.Stream
}

func (s *clientStream[Req, Resp]) Send(m *Req) error { return s.SendMsg(m) }

func (s *clientStream[Req, Resp]) Recv() (*Resp, error) {
	m := new(Resp)
	if err := s.RecvMsg(m); err != nil {
		return nil, err
	}
	return m, nil
}

// CloseAndRecv half-closes and waits for the single response of a
// client-streaming call. io.EOF from CloseSend only means the call is already
// over; its status is what RecvMsg reports.
func (s *clientStream[Req, Resp]) CloseAndRecv() (*Resp, error) {
	if err := s.CloseSend(); err != nil && err != io.EOF {
		return nil, err
	}
	return s.Recv()
}

// serverStream wraps a server.Stream that receives Req and sends Resp.
type serverStream[Req, Resp any] struct {
	server.Stream
}

func (s *serverStream[Req, Resp]) Send(m *Resp) error         { return s.SendMsg(m) }
func (s *serverStream[Req, Resp]) SendAndClose(m *Resp) error { return s.SendMsg(m) }

func (s *serverStream[Req, Resp]) Recv() (*Req, error) {
	m := new(Req)
	if err := s.RecvMsg(m); err != nil {
		return nil, err
	}
	return m, nil
}

// invokeUnary is the body of every unary client method.
func invokeUnary[Req, Resp any](ctx context.Context, cc client.Conn, method string, in *Req, opts []client.CallOption) (*Resp, error) {
	out := new(Resp)
	if err := cc.Invoke(ctx, method, in, out, opts...); err != nil {
		return nil, err
	}
	return out, nil
}

// openStream is the body of every streaming client method. For a
// server-streaming method (one request) it also sends in and half-closes.
func openStream[Req, Resp any](ctx context.Context, cc client.Conn, desc *client.StreamDesc, method string, in *Req, opts []client.CallOption) (*clientStream[Req, Resp], error) {
	st, err := cc.NewStream(ctx, desc, method, opts...)
	if err != nil {
		return nil, err
	}
	cs := &clientStream[Req, Resp]{Stream: st}
	if !desc.ClientStreams {
		if err := cs.SendMsg(in); err != nil {
			return nil, err
		}
		if err := cs.CloseSend(); err != nil {
			return nil, err
		}
	}
	return cs, nil
}

// unaryHandler adapts one unary method of a service implementation (type S)
// to a server.MethodHandler, running the server's interceptor chain if any.
func unaryHandler[S, Req, Resp any](fullMethod string, call func(S, context.Context, *Req) (*Resp, error)) server.MethodHandler {
	return func(srv any, ctx context.Context, dec func(any) error, interceptor server.UnaryInterceptor) (any, error) {
		in := new(Req)
		if err := dec(in); err != nil {
			return nil, err
		}
		impl := srv.(S)
		if interceptor == nil {
			return call(impl, ctx, in)
		}
		info := &server.UnaryInfo{Server: srv, FullMethod: fullMethod}
		return interceptor(ctx, in, info, func(ctx context.Context, req any) (any, error) {
			return call(impl, ctx, req.(*Req))
		})
	}
}

// ---------------------------------------------------------------------------
// TestService client.

// TestServiceClient is the client API for grpc.testing.TestService.
// It is safe for concurrent use when the underlying client.Conn is.
type TestServiceClient interface {
	// EmptyCall sends one empty request and gets one empty response.
	EmptyCall(ctx context.Context, in *Empty, opts ...client.CallOption) (*Empty, error)
	// UnaryCall sends one request and gets one response.
	UnaryCall(ctx context.Context, in *SimpleRequest, opts ...client.CallOption) (*SimpleResponse, error)
	// CacheableUnaryCall is UnaryCall whose response carries cache-control headers.
	CacheableUnaryCall(ctx context.Context, in *SimpleRequest, opts ...client.CallOption) (*SimpleResponse, error)
	// StreamingOutputCall sends one request and receives a stream of responses.
	StreamingOutputCall(ctx context.Context, in *StreamingOutputCallRequest, opts ...client.CallOption) (TestService_StreamingOutputCallClient, error)
	// StreamingInputCall sends a stream of requests and receives one response.
	StreamingInputCall(ctx context.Context, opts ...client.CallOption) (TestService_StreamingInputCallClient, error)
	// FullDuplexCall streams both ways; the server answers each request as it comes.
	FullDuplexCall(ctx context.Context, opts ...client.CallOption) (TestService_FullDuplexCallClient, error)
	// HalfDuplexCall streams both ways; the server answers after the client half-closes.
	HalfDuplexCall(ctx context.Context, opts ...client.CallOption) (TestService_HalfDuplexCallClient, error)
	// UnimplementedCall is a method test servers do not implement.
	UnimplementedCall(ctx context.Context, in *Empty, opts ...client.CallOption) (*Empty, error)
}

type testServiceClient struct {
	cc client.Conn
}

// NewTestServiceClient returns a TestServiceClient that calls through cc.
func NewTestServiceClient(cc client.Conn) TestServiceClient {
	return &testServiceClient{cc: cc}
}

func (c *testServiceClient) EmptyCall(ctx context.Context, in *Empty, opts ...client.CallOption) (*Empty, error) {
	return invokeUnary[Empty, Empty](ctx, c.cc, TestService_EmptyCall_FullMethodName, in, opts)
}

func (c *testServiceClient) UnaryCall(ctx context.Context, in *SimpleRequest, opts ...client.CallOption) (*SimpleResponse, error) {
	return invokeUnary[SimpleRequest, SimpleResponse](ctx, c.cc, TestService_UnaryCall_FullMethodName, in, opts)
}

func (c *testServiceClient) CacheableUnaryCall(ctx context.Context, in *SimpleRequest, opts ...client.CallOption) (*SimpleResponse, error) {
	return invokeUnary[SimpleRequest, SimpleResponse](ctx, c.cc, TestService_CacheableUnaryCall_FullMethodName, in, opts)
}

func (c *testServiceClient) StreamingOutputCall(ctx context.Context, in *StreamingOutputCallRequest, opts ...client.CallOption) (TestService_StreamingOutputCallClient, error) {
	return openStream[StreamingOutputCallRequest, StreamingOutputCallResponse](ctx, c.cc,
		&testServiceStreamingOutputCallDesc, TestService_StreamingOutputCall_FullMethodName, in, opts)
}

func (c *testServiceClient) StreamingInputCall(ctx context.Context, opts ...client.CallOption) (TestService_StreamingInputCallClient, error) {
	return openStream[StreamingInputCallRequest, StreamingInputCallResponse](ctx, c.cc,
		&testServiceStreamingInputCallDesc, TestService_StreamingInputCall_FullMethodName, nil, opts)
}

func (c *testServiceClient) FullDuplexCall(ctx context.Context, opts ...client.CallOption) (TestService_FullDuplexCallClient, error) {
	return openStream[StreamingOutputCallRequest, StreamingOutputCallResponse](ctx, c.cc,
		&testServiceFullDuplexCallDesc, TestService_FullDuplexCall_FullMethodName, nil, opts)
}

func (c *testServiceClient) HalfDuplexCall(ctx context.Context, opts ...client.CallOption) (TestService_HalfDuplexCallClient, error) {
	return openStream[StreamingOutputCallRequest, StreamingOutputCallResponse](ctx, c.cc,
		&testServiceHalfDuplexCallDesc, TestService_HalfDuplexCall_FullMethodName, nil, opts)
}

func (c *testServiceClient) UnimplementedCall(ctx context.Context, in *Empty, opts ...client.CallOption) (*Empty, error) {
	return invokeUnary[Empty, Empty](ctx, c.cc, TestService_UnimplementedCall_FullMethodName, in, opts)
}

var (
	testServiceStreamingOutputCallDesc = client.StreamDesc{StreamName: "StreamingOutputCall", ServerStreams: true}
	testServiceStreamingInputCallDesc  = client.StreamDesc{StreamName: "StreamingInputCall", ClientStreams: true}
	testServiceFullDuplexCallDesc      = client.StreamDesc{StreamName: "FullDuplexCall", ServerStreams: true, ClientStreams: true}
	testServiceHalfDuplexCallDesc      = client.StreamDesc{StreamName: "HalfDuplexCall", ServerStreams: true, ClientStreams: true}
)

// TestService_StreamingOutputCallClient receives the responses of a
// StreamingOutputCall. Recv returns io.EOF after the last one when the call
// ended OK, and the call's status error otherwise.
type TestService_StreamingOutputCallClient interface {
	Recv() (*StreamingOutputCallResponse, error)
	client.Stream
}

// TestService_StreamingInputCallClient sends the requests of a
// StreamingInputCall; CloseAndRecv half-closes and returns the response.
type TestService_StreamingInputCallClient interface {
	Send(*StreamingInputCallRequest) error
	CloseAndRecv() (*StreamingInputCallResponse, error)
	client.Stream
}

// TestService_FullDuplexCallClient is the client side of a FullDuplexCall.
// One goroutine may Send while another Recvs.
type TestService_FullDuplexCallClient interface {
	Send(*StreamingOutputCallRequest) error
	Recv() (*StreamingOutputCallResponse, error)
	client.Stream
}

// TestService_HalfDuplexCallClient is the client side of a HalfDuplexCall.
type TestService_HalfDuplexCallClient interface {
	Send(*StreamingOutputCallRequest) error
	Recv() (*StreamingOutputCallResponse, error)
	client.Stream
}

// ---------------------------------------------------------------------------
// TestService server.

// TestServiceServer is the server API for grpc.testing.TestService.
// Methods are called concurrently, one goroutine per call.
type TestServiceServer interface {
	EmptyCall(context.Context, *Empty) (*Empty, error)
	UnaryCall(context.Context, *SimpleRequest) (*SimpleResponse, error)
	CacheableUnaryCall(context.Context, *SimpleRequest) (*SimpleResponse, error)
	StreamingOutputCall(*StreamingOutputCallRequest, TestService_StreamingOutputCallServer) error
	StreamingInputCall(TestService_StreamingInputCallServer) error
	FullDuplexCall(TestService_FullDuplexCallServer) error
	HalfDuplexCall(TestService_HalfDuplexCallServer) error
	UnimplementedCall(context.Context, *Empty) (*Empty, error)
}

// UnimplementedTestServiceServer answers every method with UNIMPLEMENTED.
// Embed it by value in an implementation so that methods added to the
// service later keep it compiling.
type UnimplementedTestServiceServer struct{}

func unimplemented(method string) error {
	return status.Errorf(codes.Unimplemented, "method %s not implemented", method)
}

func (UnimplementedTestServiceServer) EmptyCall(context.Context, *Empty) (*Empty, error) {
	return nil, unimplemented("EmptyCall")
}

func (UnimplementedTestServiceServer) UnaryCall(context.Context, *SimpleRequest) (*SimpleResponse, error) {
	return nil, unimplemented("UnaryCall")
}

func (UnimplementedTestServiceServer) CacheableUnaryCall(context.Context, *SimpleRequest) (*SimpleResponse, error) {
	return nil, unimplemented("CacheableUnaryCall")
}

func (UnimplementedTestServiceServer) StreamingOutputCall(*StreamingOutputCallRequest, TestService_StreamingOutputCallServer) error {
	return unimplemented("StreamingOutputCall")
}

func (UnimplementedTestServiceServer) StreamingInputCall(TestService_StreamingInputCallServer) error {
	return unimplemented("StreamingInputCall")
}

func (UnimplementedTestServiceServer) FullDuplexCall(TestService_FullDuplexCallServer) error {
	return unimplemented("FullDuplexCall")
}

func (UnimplementedTestServiceServer) HalfDuplexCall(TestService_HalfDuplexCallServer) error {
	return unimplemented("HalfDuplexCall")
}

func (UnimplementedTestServiceServer) UnimplementedCall(context.Context, *Empty) (*Empty, error) {
	return nil, unimplemented("UnimplementedCall")
}

// TestService_StreamingOutputCallServer sends the responses of a StreamingOutputCall.
type TestService_StreamingOutputCallServer interface {
	Send(*StreamingOutputCallResponse) error
	server.Stream
}

// TestService_StreamingInputCallServer receives the requests of a
// StreamingInputCall (Recv returns io.EOF when the client half-closes) and
// sends its one response with SendAndClose.
type TestService_StreamingInputCallServer interface {
	SendAndClose(*StreamingInputCallResponse) error
	Recv() (*StreamingInputCallRequest, error)
	server.Stream
}

// TestService_FullDuplexCallServer is the server side of a FullDuplexCall.
type TestService_FullDuplexCallServer interface {
	Send(*StreamingOutputCallResponse) error
	Recv() (*StreamingOutputCallRequest, error)
	server.Stream
}

// TestService_HalfDuplexCallServer is the server side of a HalfDuplexCall.
type TestService_HalfDuplexCallServer interface {
	Send(*StreamingOutputCallResponse) error
	Recv() (*StreamingOutputCallRequest, error)
	server.Stream
}

// RegisterTestServiceServer registers srv as grpc.testing.TestService on s.
func RegisterTestServiceServer(s server.Registrar, srv TestServiceServer) {
	s.RegisterService(&TestService_ServiceDesc, srv)
}

// TestService_ServiceDesc describes grpc.testing.TestService for
// server.Registrar.RegisterService.
var TestService_ServiceDesc = server.ServiceDesc{
	ServiceName: "grpc.testing.TestService",
	HandlerType: (*TestServiceServer)(nil),
	Methods: []server.MethodDesc{
		{MethodName: "EmptyCall", Handler: unaryHandler(TestService_EmptyCall_FullMethodName, TestServiceServer.EmptyCall)},
		{MethodName: "UnaryCall", Handler: unaryHandler(TestService_UnaryCall_FullMethodName, TestServiceServer.UnaryCall)},
		{MethodName: "CacheableUnaryCall", Handler: unaryHandler(TestService_CacheableUnaryCall_FullMethodName, TestServiceServer.CacheableUnaryCall)},
		{MethodName: "UnimplementedCall", Handler: unaryHandler(TestService_UnimplementedCall_FullMethodName, TestServiceServer.UnimplementedCall)},
	},
	Streams: []server.StreamDesc{
		{StreamName: "StreamingOutputCall", Handler: testServiceStreamingOutputCallHandler, ServerStreams: true},
		{StreamName: "StreamingInputCall", Handler: testServiceStreamingInputCallHandler, ClientStreams: true},
		{StreamName: "FullDuplexCall", Handler: testServiceFullDuplexCallHandler, ServerStreams: true, ClientStreams: true},
		{StreamName: "HalfDuplexCall", Handler: testServiceHalfDuplexCallHandler, ServerStreams: true, ClientStreams: true},
	},
	Metadata: "grpc/testing/test.proto",
}

func testServiceStreamingOutputCallHandler(srv any, stream server.Stream) error {
	in := new(StreamingOutputCallRequest)
	if err := stream.RecvMsg(in); err != nil {
		if err == io.EOF {
			return status.Error(codes.Internal, "StreamingOutputCall: client sent no request message")
		}
		return err
	}
	return srv.(TestServiceServer).StreamingOutputCall(in, &serverStream[StreamingOutputCallRequest, StreamingOutputCallResponse]{Stream: stream})
}

func testServiceStreamingInputCallHandler(srv any, stream server.Stream) error {
	return srv.(TestServiceServer).StreamingInputCall(&serverStream[StreamingInputCallRequest, StreamingInputCallResponse]{Stream: stream})
}

func testServiceFullDuplexCallHandler(srv any, stream server.Stream) error {
	return srv.(TestServiceServer).FullDuplexCall(&serverStream[StreamingOutputCallRequest, StreamingOutputCallResponse]{Stream: stream})
}

func testServiceHalfDuplexCallHandler(srv any, stream server.Stream) error {
	return srv.(TestServiceServer).HalfDuplexCall(&serverStream[StreamingOutputCallRequest, StreamingOutputCallResponse]{Stream: stream})
}

// ---------------------------------------------------------------------------
// UnimplementedService: a service that test servers never register.

// UnimplementedServiceClient is the client API for grpc.testing.UnimplementedService.
type UnimplementedServiceClient interface {
	// UnimplementedCall is a method no server should implement.
	UnimplementedCall(ctx context.Context, in *Empty, opts ...client.CallOption) (*Empty, error)
}

type unimplementedServiceClient struct {
	cc client.Conn
}

// NewUnimplementedServiceClient returns an UnimplementedServiceClient that
// calls through cc.
func NewUnimplementedServiceClient(cc client.Conn) UnimplementedServiceClient {
	return &unimplementedServiceClient{cc: cc}
}

func (c *unimplementedServiceClient) UnimplementedCall(ctx context.Context, in *Empty, opts ...client.CallOption) (*Empty, error) {
	return invokeUnary[Empty, Empty](ctx, c.cc, UnimplementedService_UnimplementedCall_FullMethodName, in, opts)
}

// UnimplementedServiceServer is the server API for grpc.testing.UnimplementedService.
type UnimplementedServiceServer interface {
	UnimplementedCall(context.Context, *Empty) (*Empty, error)
}

// UnimplementedUnimplementedServiceServer answers every method with UNIMPLEMENTED.
type UnimplementedUnimplementedServiceServer struct{}

func (UnimplementedUnimplementedServiceServer) UnimplementedCall(context.Context, *Empty) (*Empty, error) {
	return nil, unimplemented("UnimplementedCall")
}

// RegisterUnimplementedServiceServer registers srv as
// grpc.testing.UnimplementedService on s.
func RegisterUnimplementedServiceServer(s server.Registrar, srv UnimplementedServiceServer) {
	s.RegisterService(&UnimplementedService_ServiceDesc, srv)
}

// UnimplementedService_ServiceDesc describes grpc.testing.UnimplementedService.
var UnimplementedService_ServiceDesc = server.ServiceDesc{
	ServiceName: "grpc.testing.UnimplementedService",
	HandlerType: (*UnimplementedServiceServer)(nil),
	Methods: []server.MethodDesc{
		{MethodName: "UnimplementedCall", Handler: unaryHandler(UnimplementedService_UnimplementedCall_FullMethodName, UnimplementedServiceServer.UnimplementedCall)},
	},
	Metadata: "grpc/testing/test.proto",
}
