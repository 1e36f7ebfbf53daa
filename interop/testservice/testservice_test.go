package testservice_test

import (
	"context"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/h2rpc/h2rpc/client"
	"github.com/h2rpc/h2rpc/codes"
	pb "github.com/h2rpc/h2rpc/interop/grpc_testing"
	"github.com/h2rpc/h2rpc/interop/testservice"
	"github.com/h2rpc/h2rpc/metadata"
	"github.com/h2rpc/h2rpc/server"
	"github.com/h2rpc/h2rpc/status"
)

// newClient serves srv on a loopback port and returns a client for it; both
// end with the test.
func newClient(t *testing.T, srv pb.TestServiceServer) pb.TestServiceClient {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := server.New()
	pb.RegisterTestServiceServer(s, srv)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Serve(lis)
	}()
	cc, err := client.New(lis.Addr().String(), client.WithInsecure())
	require.NoError(t, err)
	t.Cleanup(func() {
		cc.Close()
		s.Stop()
		<-done
	})
	return pb.NewTestServiceClient(cc)
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestUnaryCallServerID(t *testing.T) {
	tc := newClient(t, &testservice.Server{ID: "id-1", Hostname: "host-1"})
	resp, err := tc.UnaryCall(testContext(t), &pb.SimpleRequest{ResponseSize: 3, FillServerId: true})
	require.NoError(t, err)
	assert.Len(t, resp.GetPayload().GetBody(), 3)
	assert.Equal(t, "id-1", resp.GetServerId())
	assert.Equal(t, "host-1", resp.GetHostname())
}

func TestUnaryCallRejects(t *testing.T) {
	tc := newClient(t, testservice.New())
	tests := []struct {
		name string
		req  *pb.SimpleRequest
	}{
		{"unknown payload type", &pb.SimpleRequest{ResponseType: pb.PayloadType(7), ResponseSize: 1}},
		{"negative size", &pb.SimpleRequest{ResponseSize: -1}},
		{"expect compressed", &pb.SimpleRequest{ExpectCompressed: &pb.BoolValue{Value: true}}},
	}
	for _, tt := range tests {
		_, err := tc.UnaryCall(testContext(t), tt.req)
		assert.Equal(t, codes.InvalidArgument, status.Code(err), "%s: %v", tt.name, err)
	}
}

func TestCacheableUnaryCall(t *testing.T) {
	tc := newClient(t, testservice.New())
	var header metadata.MD
	before := time.Now().UnixNano()
	resp, err := tc.CacheableUnaryCall(testContext(t), &pb.SimpleRequest{}, client.Header(&header))
	require.NoError(t, err)
	ns, err := strconv.ParseInt(string(resp.GetPayload().GetBody()), 10, 64)
	require.NoError(t, err, "payload should be a decimal timestamp")
	assert.GreaterOrEqual(t, ns, before)
	assert.NotEmpty(t, header.Get("cache-control"))
}

func TestHalfDuplexCallAnswersAfterHalfClose(t *testing.T) {
	tc := newClient(t, testservice.New())
	stream, err := tc.HalfDuplexCall(testContext(t))
	require.NoError(t, err)
	sizes := []int32{5, 0, 7}
	for _, n := range sizes {
		require.NoError(t, stream.Send(&pb.StreamingOutputCallRequest{
			ResponseParameters: []*pb.ResponseParameters{{Size: n}},
		}))
	}
	require.NoError(t, stream.CloseSend())
	for _, n := range sizes {
		resp, err := stream.Recv()
		require.NoError(t, err)
		assert.Len(t, resp.GetPayload().GetBody(), int(n))
	}
	_, err = stream.Recv()
	assert.Equal(t, io.EOF, err)
}

func TestStreamingOutputCallInterval(t *testing.T) {
	tc := newClient(t, testservice.New())
	const interval = 20 * time.Millisecond
	start := time.Now()
	stream, err := tc.StreamingOutputCall(testContext(t), &pb.StreamingOutputCallRequest{
		ResponseParameters: []*pb.ResponseParameters{
			{Size: 1, IntervalUs: int32(interval / time.Microsecond)},
			{Size: 2, IntervalUs: int32(interval / time.Microsecond)},
		},
	})
	require.NoError(t, err)
	for range 2 {
		_, err := stream.Recv()
		require.NoError(t, err)
	}
	_, err = stream.Recv()
	assert.Equal(t, io.EOF, err)
	assert.GreaterOrEqual(t, time.Since(start), 2*interval, "interval_us delays accumulate")
}

func TestStreamingOutputCallEchoStatus(t *testing.T) {
	tc := newClient(t, testservice.New())
	stream, err := tc.StreamingOutputCall(testContext(t), &pb.StreamingOutputCallRequest{
		ResponseStatus:     &pb.EchoStatus{Code: int32(codes.Aborted), Message: "stop"},
		ResponseParameters: []*pb.ResponseParameters{{Size: 1}},
	})
	require.NoError(t, err)
	_, err = stream.Recv()
	st := status.Convert(err)
	assert.Equal(t, codes.Aborted, st.Code())
	assert.Equal(t, "stop", st.Message())
}

func TestUnimplementedCall(t *testing.T) {
	tc := newClient(t, testservice.New())
	_, err := tc.UnimplementedCall(testContext(t), &pb.Empty{})
	assert.Equal(t, codes.Unimplemented, status.Code(err))
}
