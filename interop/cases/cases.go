// Package cases holds the client side of the gRPC interop test cases
// (grpc/grpc doc/interop-test-descriptions.md) written against h2rpc.
//
// Each case is a function that runs its procedure against a
// grpc_testing.TestServiceClient and returns nil when every assertion the
// descriptions make holds, or an error that says which one failed. Run picks a
// case by its interop name, so the same code serves the interop client binary
// (cmd/client) and in-process tests.
//
// Cases are safe to run concurrently against one connection.
package cases

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/h2rpc/h2rpc/client"
	"github.com/h2rpc/h2rpc/codes"
	pb "github.com/h2rpc/h2rpc/interop/grpc_testing"
	"github.com/h2rpc/h2rpc/metadata"
	"github.com/h2rpc/h2rpc/status"
)

// Sizes the descriptions prescribe.
var (
	streamReqSizes  = []int{27182, 8, 1828, 45904}
	streamRespSizes = []int{31415, 9, 2653, 58979}
)

const (
	largeReqSize  = 271828
	largeRespSize = 314159
)

// Echo Metadata keys and the values the custom_metadata case sends.
const (
	echoInitialKey    = "x-grpc-test-echo-initial"
	echoInitialValue  = "test_initial_metadata_value"
	echoTrailingKey   = "x-grpc-test-echo-trailing-bin"
	echoTrailingValue = "\xab\xab\xab"
)

// Env is what a case may use besides the TestServiceClient.
type Env struct {
	// Conn is the connection every case except channel_soak calls through.
	Conn client.Conn
	// Dial opens a fresh connection; channel_soak uses one per iteration and
	// calls the returned close function after it. Nil makes channel_soak fail.
	Dial func() (conn client.Conn, close func(), err error)
	// Soak configures rpc_soak and channel_soak.
	Soak SoakConfig
	// CallOptions are passed to every call.
	CallOptions []client.CallOption
	// Log receives progress lines (soak iterations, summaries). Nil discards them.
	Log func(format string, args ...any)
}

func (e *Env) logf(format string, args ...any) {
	if e.Log != nil {
		e.Log(format, args...)
	}
}

// Case is one interop test case.
type Case func(ctx context.Context, env *Env) error

// All maps every supported test case name to its implementation.
var All = map[string]Case{
	"empty_unary":                 withClient(EmptyUnary),
	"large_unary":                 withClient(LargeUnary),
	"client_streaming":            withClient(ClientStreaming),
	"server_streaming":            withClient(ServerStreaming),
	"ping_pong":                   withClient(PingPong),
	"empty_stream":                withClient(EmptyStream),
	"timeout_on_sleeping_server":  withClient(TimeoutOnSleepingServer),
	"cancel_after_begin":          withClient(CancelAfterBegin),
	"cancel_after_first_response": withClient(CancelAfterFirstResponse),
	"status_code_and_message":     withClient(StatusCodeAndMessage),
	"special_status_message":      withClient(SpecialStatusMessage),
	"custom_metadata":             withClient(CustomMetadata),
	"unimplemented_method":        withClient(UnimplementedMethod),
	"unimplemented_service": func(ctx context.Context, env *Env) error {
		return UnimplementedService(ctx, pb.NewUnimplementedServiceClient(env.Conn), env.CallOptions...)
	},
	"rpc_soak":     RPCSoak,
	"channel_soak": ChannelSoak,
}

// Names lists the keys of All in the order of the interop descriptions.
var Names = []string{
	"empty_unary", "large_unary", "client_streaming", "server_streaming",
	"ping_pong", "empty_stream", "timeout_on_sleeping_server",
	"cancel_after_begin", "cancel_after_first_response",
	"status_code_and_message", "special_status_message", "custom_metadata",
	"unimplemented_method", "unimplemented_service", "rpc_soak", "channel_soak",
}

// Run runs the case called name.
func Run(ctx context.Context, name string, env *Env) error {
	c, ok := All[name]
	if !ok {
		return fmt.Errorf("unknown test case %q (supported: %v)", name, Names)
	}
	return c(ctx, env)
}

func withClient(f func(context.Context, pb.TestServiceClient, ...client.CallOption) error) Case {
	return func(ctx context.Context, env *Env) error {
		return f(ctx, pb.NewTestServiceClient(env.Conn), env.CallOptions...)
	}
}

func zeros(n int) *pb.Payload {
	return &pb.Payload{Type: pb.PayloadType_COMPRESSABLE, Body: make([]byte, n)}
}

// checkPayload checks that a response payload is n zero bytes.
func checkPayload(what string, p *pb.Payload, n int) error {
	if t := p.GetType(); t != pb.PayloadType_COMPRESSABLE {
		return fmt.Errorf("%s: payload type %v, want COMPRESSABLE", what, t)
	}
	body := p.GetBody()
	if len(body) != n {
		return fmt.Errorf("%s: payload of %d bytes, want %d", what, len(body), n)
	}
	if i := slices.IndexFunc(body, func(b byte) bool { return b != 0 }); i >= 0 {
		return fmt.Errorf("%s: payload byte %d is %#x, want zero", what, i, body[i])
	}
	return nil
}

// checkStatus checks that err carries exactly code and msg.
func checkStatus(what string, err error, code codes.Code, msg string) error {
	if err == nil {
		return fmt.Errorf("%s: succeeded, want status %v %q", what, code, msg)
	}
	st := status.Convert(err)
	if st.Code() != code || st.Message() != msg {
		return fmt.Errorf("%s: status %v %q, want %v %q", what, st.Code(), st.Message(), code, msg)
	}
	return nil
}

// checkCode checks that err carries code.
func checkCode(what string, err error, code codes.Code) error {
	if got := status.Code(err); got != code {
		return fmt.Errorf("%s: got %v (%v), want %v", what, got, err, code)
	}
	return nil
}

// EmptyUnary: EmptyCall with an empty request succeeds with a non-nil response.
func EmptyUnary(ctx context.Context, tc pb.TestServiceClient, opts ...client.CallOption) error {
	resp, err := tc.EmptyCall(ctx, &pb.Empty{}, opts...)
	if err != nil {
		return fmt.Errorf("EmptyCall: %w", err)
	}
	if resp == nil {
		return fmt.Errorf("EmptyCall: nil response")
	}
	return nil
}

// LargeUnary: UnaryCall with 271828 request bytes gets 314159 response bytes.
func LargeUnary(ctx context.Context, tc pb.TestServiceClient, opts ...client.CallOption) error {
	return largeUnary(ctx, tc, largeReqSize, largeRespSize, opts...)
}

func largeUnary(ctx context.Context, tc pb.TestServiceClient, reqSize, respSize int, opts ...client.CallOption) error {
	resp, err := tc.UnaryCall(ctx, &pb.SimpleRequest{
		ResponseType: pb.PayloadType_COMPRESSABLE,
		ResponseSize: int32(respSize),
		Payload:      zeros(reqSize),
	}, opts...)
	if err != nil {
		return fmt.Errorf("UnaryCall: %w", err)
	}
	return checkPayload("UnaryCall", resp.GetPayload(), respSize)
}

// ClientStreaming: four requests, then half-close; the response adds up to 74922.
func ClientStreaming(ctx context.Context, tc pb.TestServiceClient, opts ...client.CallOption) error {
	stream, err := tc.StreamingInputCall(ctx, opts...)
	if err != nil {
		return fmt.Errorf("StreamingInputCall: %w", err)
	}
	sum := 0
	for i, n := range streamReqSizes {
		if err := stream.Send(&pb.StreamingInputCallRequest{Payload: zeros(n)}); err != nil {
			return fmt.Errorf("StreamingInputCall: sending request %d: %w", i, err)
		}
		sum += n
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return fmt.Errorf("StreamingInputCall: CloseAndRecv: %w", err)
	}
	if got := resp.GetAggregatedPayloadSize(); got != int32(sum) {
		return fmt.Errorf("StreamingInputCall: aggregated_payload_size %d, want %d", got, sum)
	}
	return nil
}

// ServerStreaming: one request with four response_parameters gets exactly
// four responses of the asked sizes, in order, then OK.
func ServerStreaming(ctx context.Context, tc pb.TestServiceClient, opts ...client.CallOption) error {
	req := &pb.StreamingOutputCallRequest{ResponseType: pb.PayloadType_COMPRESSABLE}
	for _, n := range streamRespSizes {
		req.ResponseParameters = append(req.ResponseParameters, &pb.ResponseParameters{Size: int32(n)})
	}
	stream, err := tc.StreamingOutputCall(ctx, req, opts...)
	if err != nil {
		return fmt.Errorf("StreamingOutputCall: %w", err)
	}
	for i := 0; ; i++ {
		resp, err := stream.Recv()
		if err == io.EOF {
			if i != len(streamRespSizes) {
				return fmt.Errorf("StreamingOutputCall: %d responses, want %d", i, len(streamRespSizes))
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("StreamingOutputCall: receiving response %d: %w", i, err)
		}
		if i >= len(streamRespSizes) {
			return fmt.Errorf("StreamingOutputCall: more than %d responses", len(streamRespSizes))
		}
		if err := checkPayload(fmt.Sprintf("StreamingOutputCall response %d", i), resp.GetPayload(), streamRespSizes[i]); err != nil {
			return err
		}
	}
}

// PingPong: four request/response rounds on FullDuplexCall, then half-close
// and OK.
func PingPong(ctx context.Context, tc pb.TestServiceClient, opts ...client.CallOption) error {
	stream, err := tc.FullDuplexCall(ctx, opts...)
	if err != nil {
		return fmt.Errorf("FullDuplexCall: %w", err)
	}
	for i := range streamReqSizes {
		req := &pb.StreamingOutputCallRequest{
			ResponseType:       pb.PayloadType_COMPRESSABLE,
			ResponseParameters: []*pb.ResponseParameters{{Size: int32(streamRespSizes[i])}},
			Payload:            zeros(streamReqSizes[i]),
		}
		if err := stream.Send(req); err != nil {
			return fmt.Errorf("FullDuplexCall: sending request %d: %w", i, err)
		}
		resp, err := stream.Recv()
		if err != nil {
			return fmt.Errorf("FullDuplexCall: receiving response %d: %w", i, err)
		}
		if err := checkPayload(fmt.Sprintf("FullDuplexCall response %d", i), resp.GetPayload(), streamRespSizes[i]); err != nil {
			return err
		}
	}
	if err := stream.CloseSend(); err != nil {
		return fmt.Errorf("FullDuplexCall: CloseSend: %w", err)
	}
	return expectEOF("FullDuplexCall", stream)
}

// expectEOF checks that a stream ends OK with no further response.
func expectEOF(what string, stream interface {
	Recv() (*pb.StreamingOutputCallResponse, error)
}) error {
	_, err := stream.Recv()
	switch {
	case err == io.EOF:
		return nil
	case err == nil:
		return fmt.Errorf("%s: got an extra response, want the end of the stream", what)
	default:
		return fmt.Errorf("%s: ended with %w, want OK", what, err)
	}
}

// EmptyStream: FullDuplexCall with an immediate half-close gets zero responses and OK.
func EmptyStream(ctx context.Context, tc pb.TestServiceClient, opts ...client.CallOption) error {
	stream, err := tc.FullDuplexCall(ctx, opts...)
	if err != nil {
		return fmt.Errorf("FullDuplexCall: %w", err)
	}
	if err := stream.CloseSend(); err != nil {
		return fmt.Errorf("FullDuplexCall: CloseSend: %w", err)
	}
	return expectEOF("FullDuplexCall", stream)
}

// TimeoutOnSleepingServer: a FullDuplexCall with a 1 ms deadline, whose server
// never answers, ends DEADLINE_EXCEEDED.
func TimeoutOnSleepingServer(ctx context.Context, tc pb.TestServiceClient, opts ...client.CallOption) error {
	ctx, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	stream, err := tc.FullDuplexCall(ctx, opts...)
	if err != nil {
		// The deadline may pass before the stream is even open.
		return checkCode("FullDuplexCall", err, codes.DeadlineExceeded)
	}
	req := &pb.StreamingOutputCallRequest{
		ResponseType: pb.PayloadType_COMPRESSABLE,
		Payload:      zeros(27182),
	}
	// The send races the deadline: io.EOF (the call is over, Recv tells
	// why) and DEADLINE_EXCEEDED are both fine.
	if err := stream.Send(req); err != nil && err != io.EOF {
		return checkCode("FullDuplexCall: Send", err, codes.DeadlineExceeded)
	}
	_, err = stream.Recv()
	return checkCode("FullDuplexCall: Recv", err, codes.DeadlineExceeded)
}

// CancelAfterBegin: a StreamingInputCall cancelled before any message is sent
// ends CANCELLED.
func CancelAfterBegin(ctx context.Context, tc pb.TestServiceClient, opts ...client.CallOption) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := tc.StreamingInputCall(ctx, opts...)
	if err != nil {
		return fmt.Errorf("StreamingInputCall: %w", err)
	}
	cancel()
	_, err = stream.CloseAndRecv()
	return checkCode("StreamingInputCall after cancel", err, codes.Canceled)
}

// CancelAfterFirstResponse: a FullDuplexCall cancelled after its first
// response ends CANCELLED.
func CancelAfterFirstResponse(ctx context.Context, tc pb.TestServiceClient, opts ...client.CallOption) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := tc.FullDuplexCall(ctx, opts...)
	if err != nil {
		return fmt.Errorf("FullDuplexCall: %w", err)
	}
	req := &pb.StreamingOutputCallRequest{
		ResponseType:       pb.PayloadType_COMPRESSABLE,
		ResponseParameters: []*pb.ResponseParameters{{Size: 31415}},
		Payload:            zeros(27182),
	}
	if err := stream.Send(req); err != nil {
		return fmt.Errorf("FullDuplexCall: Send: %w", err)
	}
	if _, err := stream.Recv(); err != nil {
		return fmt.Errorf("FullDuplexCall: first Recv: %w", err)
	}
	cancel()
	_, err = stream.Recv()
	return checkCode("FullDuplexCall after cancel", err, codes.Canceled)
}

// StatusCodeAndMessage: a response_status sent in UnaryCall and in
// FullDuplexCall comes back as the calls' status, code and message unchanged.
func StatusCodeAndMessage(ctx context.Context, tc pb.TestServiceClient, opts ...client.CallOption) error {
	return echoStatusBothWays(ctx, tc, codes.Unknown, "test status message", opts...)
}

// SpecialStatusMessage: a status message with whitespace, control characters
// and non-ASCII Unicode survives the round trip through UnaryCall unchanged.
func SpecialStatusMessage(ctx context.Context, tc pb.TestServiceClient, opts ...client.CallOption) error {
	const msg = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n"
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := tc.UnaryCall(ctx, &pb.SimpleRequest{
		ResponseStatus: &pb.EchoStatus{Code: int32(codes.Unknown), Message: msg},
	}, opts...)
	return checkStatus("UnaryCall", err, codes.Unknown, msg)
}

func echoStatusBothWays(ctx context.Context, tc pb.TestServiceClient, code codes.Code, msg string, opts ...client.CallOption) error {
	echo := &pb.EchoStatus{Code: int32(code), Message: msg}
	_, err := tc.UnaryCall(ctx, &pb.SimpleRequest{ResponseStatus: echo}, opts...)
	if err := checkStatus("UnaryCall", err, code, msg); err != nil {
		return err
	}
	stream, err := tc.FullDuplexCall(ctx, opts...)
	if err != nil {
		return fmt.Errorf("FullDuplexCall: %w", err)
	}
	if err := stream.Send(&pb.StreamingOutputCallRequest{ResponseStatus: echo}); err != nil && err != io.EOF {
		return fmt.Errorf("FullDuplexCall: Send: %w", err)
	}
	if err := stream.CloseSend(); err != nil && err != io.EOF {
		return fmt.Errorf("FullDuplexCall: CloseSend: %w", err)
	}
	_, err = stream.Recv()
	return checkStatus("FullDuplexCall", err, code, msg)
}

// CustomMetadata: x-grpc-test-echo-initial comes back in the headers and
// x-grpc-test-echo-trailing-bin in the trailers, for UnaryCall and for
// FullDuplexCall.
func CustomMetadata(ctx context.Context, tc pb.TestServiceClient, opts ...client.CallOption) error {
	ctx = metadata.AppendToOutgoingContext(ctx,
		echoInitialKey, echoInitialValue,
		echoTrailingKey, echoTrailingValue)

	var header, trailer metadata.MD
	unaryOpts := append(slices.Clip(opts), client.Header(&header), client.Trailer(&trailer))
	resp, err := tc.UnaryCall(ctx, &pb.SimpleRequest{
		ResponseType: pb.PayloadType_COMPRESSABLE,
		ResponseSize: largeRespSize,
		Payload:      zeros(largeReqSize),
	}, unaryOpts...)
	if err != nil {
		return fmt.Errorf("UnaryCall: %w", err)
	}
	if err := checkPayload("UnaryCall", resp.GetPayload(), largeRespSize); err != nil {
		return err
	}
	if err := checkEchoedMetadata("UnaryCall", header, trailer); err != nil {
		return err
	}

	stream, err := tc.FullDuplexCall(ctx, opts...)
	if err != nil {
		return fmt.Errorf("FullDuplexCall: %w", err)
	}
	if err := stream.Send(&pb.StreamingOutputCallRequest{
		ResponseType:       pb.PayloadType_COMPRESSABLE,
		ResponseParameters: []*pb.ResponseParameters{{Size: largeRespSize}},
		Payload:            zeros(largeReqSize),
	}); err != nil {
		return fmt.Errorf("FullDuplexCall: Send: %w", err)
	}
	if err := stream.CloseSend(); err != nil {
		return fmt.Errorf("FullDuplexCall: CloseSend: %w", err)
	}
	streamHeader, err := stream.Header()
	if err != nil {
		return fmt.Errorf("FullDuplexCall: Header: %w", err)
	}
	sresp, err := stream.Recv()
	if err != nil {
		return fmt.Errorf("FullDuplexCall: Recv: %w", err)
	}
	if err := checkPayload("FullDuplexCall", sresp.GetPayload(), largeRespSize); err != nil {
		return err
	}
	if err := expectEOF("FullDuplexCall", stream); err != nil {
		return err
	}
	return checkEchoedMetadata("FullDuplexCall", streamHeader, stream.Trailer())
}

func checkEchoedMetadata(what string, header, trailer metadata.MD) error {
	if v := header[echoInitialKey]; len(v) != 1 || v[0] != echoInitialValue {
		return fmt.Errorf("%s: header %s = %q, want [%q]", what, echoInitialKey, v, echoInitialValue)
	}
	if v := trailer[echoTrailingKey]; len(v) != 1 || v[0] != echoTrailingValue {
		return fmt.Errorf("%s: trailer %s = %q, want [%q]", what, echoTrailingKey, v, echoTrailingValue)
	}
	return nil
}

// UnimplementedMethod: TestService/UnimplementedCall ends UNIMPLEMENTED.
func UnimplementedMethod(ctx context.Context, tc pb.TestServiceClient, opts ...client.CallOption) error {
	_, err := tc.UnimplementedCall(ctx, &pb.Empty{}, opts...)
	return checkCode("TestService/UnimplementedCall", err, codes.Unimplemented)
}

// UnimplementedService: UnimplementedService/UnimplementedCall ends UNIMPLEMENTED.
func UnimplementedService(ctx context.Context, uc pb.UnimplementedServiceClient, opts ...client.CallOption) error {
	_, err := uc.UnimplementedCall(ctx, &pb.Empty{}, opts...)
	return checkCode("UnimplementedService/UnimplementedCall", err, codes.Unimplemented)
}
