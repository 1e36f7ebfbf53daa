// Package testservice implements grpc.testing.TestService on h2rpc: the
// server side of the gRPC interop cases described in grpc/grpc's
// doc/interop-test-descriptions.md.
//
// The server features it provides:
//   - EmptyCall, UnaryCall, CacheableUnaryCall, StreamingOutputCall,
//     StreamingInputCall, FullDuplexCall and HalfDuplexCall;
//   - Echo Status: a response_status with a non-zero code in UnaryCall or in
//     any FullDuplexCall request ends the call with that code and message;
//   - Echo Metadata: x-grpc-test-echo-initial comes back in the response
//     headers and x-grpc-test-echo-trailing-bin in the trailers, for
//     UnaryCall and FullDuplexCall;
//   - ResponseParameters.interval_us: a delay before each streamed response.
//
// UnimplementedCall is deliberately not implemented (the interop cases
// expect UNIMPLEMENTED). Compression is not supported by the runtime yet, so a
// request with expect_compressed set fails with INVALID_ARGUMENT, as the
// descriptions prescribe for a server without CompressedRequest, and
// response_compressed is ignored.
//
// A Server has no mutable state; its methods are safe for concurrent use.
package testservice

import (
	"context"
	"io"
	"strconv"
	"time"

	"github.com/h2rpc/h2rpc/codes"
	pb "github.com/h2rpc/h2rpc/interop/grpc_testing"
	"github.com/h2rpc/h2rpc/metadata"
	"github.com/h2rpc/h2rpc/server"
	"github.com/h2rpc/h2rpc/status"
)

// Metadata keys that the server echoes back.
const (
	EchoInitialKey  = "x-grpc-test-echo-initial"
	EchoTrailingKey = "x-grpc-test-echo-trailing-bin"
)

// cacheControl is what CacheableUnaryCall puts in its response headers so
// that a caching proxy may keep the answer for a minute.
const cacheControl = "max-age=60, public"

// Server is the TestService implementation.
type Server struct {
	pb.UnimplementedTestServiceServer

	// ID is returned in SimpleResponse.server_id when a request sets
	// fill_server_id. Empty by default.
	ID string
	// Hostname is returned in SimpleResponse.hostname under the same
	// condition. Empty by default.
	Hostname string
}

// New returns a TestService implementation with no server ID.
func New() *Server { return &Server{} }

// Register registers a new TestService implementation on r.
func Register(r server.Registrar) {
	pb.RegisterTestServiceServer(r, New())
}

// EmptyCall answers at once with an empty message.
func (s *Server) EmptyCall(context.Context, *pb.Empty) (*pb.Empty, error) {
	return &pb.Empty{}, nil
}

// UnaryCall answers with a payload of response_size bytes, after echoing the
// test metadata and, when response_status asks for it, fails with that status.
func (s *Server) UnaryCall(ctx context.Context, in *pb.SimpleRequest) (*pb.SimpleResponse, error) {
	if err := echoUnaryMetadata(ctx); err != nil {
		return nil, err
	}
	if err := echoStatus(in.GetResponseStatus()); err != nil {
		return nil, err
	}
	if in.GetExpectCompressed().GetValue() {
		return nil, errCompressionUnsupported
	}
	pl, err := newPayload(in.GetResponseType(), in.GetResponseSize())
	if err != nil {
		return nil, err
	}
	resp := &pb.SimpleResponse{Payload: pl}
	if in.GetFillServerId() {
		resp.ServerId = s.ID
		resp.Hostname = s.Hostname
	}
	return resp, nil
}

// CacheableUnaryCall ignores its request and answers with the current time in
// nanoseconds, as decimal ASCII, and a cache-control header.
func (s *Server) CacheableUnaryCall(ctx context.Context, _ *pb.SimpleRequest) (*pb.SimpleResponse, error) {
	if err := server.SetHeader(ctx, metadata.Pairs("cache-control", cacheControl)); err != nil {
		return nil, err
	}
	now := strconv.FormatInt(time.Now().UnixNano(), 10)
	return &pb.SimpleResponse{
		Payload: &pb.Payload{Type: pb.PayloadType_COMPRESSABLE, Body: []byte(now)},
	}, nil
}

// StreamingOutputCall sends one response per response_parameters entry.
func (s *Server) StreamingOutputCall(in *pb.StreamingOutputCallRequest, stream pb.TestService_StreamingOutputCallServer) error {
	if err := echoStatus(in.GetResponseStatus()); err != nil {
		return err
	}
	return sendResponses(stream.Context(), in, stream.Send)
}

// StreamingInputCall adds up the payload sizes of all requests and answers
// with the total once the client half-closes.
func (s *Server) StreamingInputCall(stream pb.TestService_StreamingInputCallServer) error {
	var sum int
	for {
		in, err := stream.Recv()
		if err == io.EOF {
			return stream.SendAndClose(&pb.StreamingInputCallResponse{AggregatedPayloadSize: int32(sum)})
		}
		if err != nil {
			return err
		}
		if in.GetExpectCompressed().GetValue() {
			return errCompressionUnsupported
		}
		sum += len(in.GetPayload().GetBody())
	}
}

// FullDuplexCall answers each request as it arrives, and ends OK once the
// client half-closes, or with a request's response_status.
func (s *Server) FullDuplexCall(stream pb.TestService_FullDuplexCallServer) error {
	if err := echoStreamMetadata(stream); err != nil {
		return err
	}
	for {
		in, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := echoStatus(in.GetResponseStatus()); err != nil {
			return err
		}
		if err := sendResponses(stream.Context(), in, stream.Send); err != nil {
			return err
		}
	}
}

// HalfDuplexCall buffers every request until the client half-closes, then
// answers them in order.
func (s *Server) HalfDuplexCall(stream pb.TestService_HalfDuplexCallServer) error {
	var reqs []*pb.StreamingOutputCallRequest
	for {
		in, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		reqs = append(reqs, in)
	}
	for _, in := range reqs {
		if err := echoStatus(in.GetResponseStatus()); err != nil {
			return err
		}
		if err := sendResponses(stream.Context(), in, stream.Send); err != nil {
			return err
		}
	}
	return nil
}

var errCompressionUnsupported = status.Error(codes.InvalidArgument, "compressed requests are not supported by this server")

// echoStatus turns a requested response_status into the call's error; a nil
// or OK status asks for nothing.
func echoStatus(st *pb.EchoStatus) error {
	if st == nil || st.GetCode() == 0 {
		return nil
	}
	return status.Error(codes.Code(st.GetCode()), st.GetMessage())
}

// echoedMetadata picks the metadata that Echo Metadata sends back: the first
// value of each echo key that the client sent.
func echoedMetadata(ctx context.Context) (header, trailer metadata.MD) {
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return nil, nil
	}
	if v := md[EchoInitialKey]; len(v) > 0 {
		header = metadata.Pairs(EchoInitialKey, v[0])
	}
	if v := md[EchoTrailingKey]; len(v) > 0 {
		trailer = metadata.Pairs(EchoTrailingKey, v[0])
	}
	return header, trailer
}

func echoUnaryMetadata(ctx context.Context) error {
	header, trailer := echoedMetadata(ctx)
	if header != nil {
		if err := server.SendHeader(ctx, header); err != nil {
			return err
		}
	}
	if trailer != nil {
		if err := server.SetTrailer(ctx, trailer); err != nil {
			return err
		}
	}
	return nil
}

func echoStreamMetadata(stream server.Stream) error {
	header, trailer := echoedMetadata(stream.Context())
	if header != nil {
		if err := stream.SendHeader(header); err != nil {
			return err
		}
	}
	if trailer != nil {
		stream.SetTrailer(trailer)
	}
	return nil
}

// sendResponses sends one response per entry of in.response_parameters,
// each after sleeping its interval_us.
func sendResponses(ctx context.Context, in *pb.StreamingOutputCallRequest, send func(*pb.StreamingOutputCallResponse) error) error {
	for _, p := range in.GetResponseParameters() {
		if err := sleep(ctx, time.Duration(p.GetIntervalUs())*time.Microsecond); err != nil {
			return err
		}
		pl, err := newPayload(in.GetResponseType(), p.GetSize())
		if err != nil {
			return err
		}
		if err := send(&pb.StreamingOutputCallResponse{Payload: pl}); err != nil {
			return err
		}
	}
	return nil
}

// sleep waits for d, or until the call ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	}
}

// newPayload returns a payload of size zero bytes. COMPRESSABLE is the only
// payload type test.proto defines; anything else is INVALID_ARGUMENT.
func newPayload(t pb.PayloadType, size int32) (*pb.Payload, error) {
	if t != pb.PayloadType_COMPRESSABLE {
		return nil, status.Errorf(codes.InvalidArgument, "unsupported response type %d", t)
	}
	if size < 0 {
		return nil, status.Errorf(codes.InvalidArgument, "negative response size %d", size)
	}
	return &pb.Payload{Type: t, Body: make([]byte, size)}, nil
}
