package interop_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/credentials"
	pb "github.com/h2rpc/h2rpc/interop/grpc_testing"
	"github.com/h2rpc/h2rpc/interop/testservice"
	"github.com/h2rpc/h2rpc/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// grpcurlBin builds grpcurl at the version go.mod pins, once.
var grpcurlBin = sync.OnceValues(func() (toolBin, error) {
	return buildTool("github.com/fullstorydev/grpcurl/cmd/grpcurl", "github.com/fullstorydev/grpcurl")
})

// grpcurlTimeout bounds one grpcurl process; grpcurlMaxTime, which grpcurl
// enforces itself, is a little shorter so that a hung call reports
// DEADLINE_EXCEEDED rather than being killed.
const (
	grpcurlTimeout = 60 * time.Second
	grpcurlMaxTime = "30"
)

// grpcurl's exit status for a call that ends with a non-OK status is 64 plus
// the status code.
const grpcurlStatusExit = 64

// TestGrpcurl calls the interop TestService on an h2rpc server with
// grpcurl, describing the service to it with the checked-in .proto files
// (the server offers no reflection), and checks grpcurl's exit status and
// what it prints.
func TestGrpcurl(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs grpcurl")
	}
	tool, err := grpcurlBin()
	require.NoError(t, err)
	t.Logf("grpcurl %s", tool.version)
	addr := serveTestService(t)
	protoArgs := []string{"-import-path", protoDir, "-proto", testProto}
	// call runs one call against the cleartext server, with the request
	// (JSON, "" for none) on stdin.
	call := func(t *testing.T, method, request string, extra ...string) toolRun {
		t.Helper()
		args := append([]string{"-plaintext", "-max-time", grpcurlMaxTime}, protoArgs...)
		if request != "" {
			args = append(args, "-d", "@")
		}
		args = append(append(args, extra...), addr, "grpc.testing."+method)
		return runTool(t, grpcurlTimeout, tool.path, request, args...)
	}

	t.Run("list", func(t *testing.T) {
		run := runTool(t, grpcurlTimeout, tool.path, "", append(protoArgs, "list")...)
		requireExit(t, 0, run)
		assert.Equal(t, []string{
			"grpc.testing.HookService",
			"grpc.testing.LoadBalancerStatsService",
			"grpc.testing.ReconnectService",
			"grpc.testing.TestService",
			"grpc.testing.UnimplementedService",
			"grpc.testing.XdsUpdateClientConfigureService",
			"grpc.testing.XdsUpdateHealthService",
		}, strings.Fields(run.stdout))

		run = runTool(t, grpcurlTimeout, tool.path, "", append(protoArgs, "list", "grpc.testing.TestService")...)
		requireExit(t, 0, run)
		assert.Contains(t, strings.Fields(run.stdout), "grpc.testing.TestService.StreamingOutputCall")
	})

	t.Run("EmptyCall", func(t *testing.T) {
		run := call(t, "TestService/EmptyCall", "")
		requireExit(t, 0, run)
		assert.JSONEq(t, "{}", run.stdout)
	})

	t.Run("UnaryCall", func(t *testing.T) {
		// large_unary's sizes: a request of 271828 bytes (sent as JSON on
		// stdin, too long for one argument) for a response of 314159.
		run := call(t, "TestService/UnaryCall", marshalJSON(t, &pb.SimpleRequest{
			ResponseSize: 314159,
			Payload:      &pb.Payload{Body: make([]byte, 271828)},
		}))
		requireExit(t, 0, run)
		resps := decodeJSONStream(t, run.stdout, func() *pb.SimpleResponse { return new(pb.SimpleResponse) })
		require.Len(t, resps, 1)
		assert.Equal(t, make([]byte, 314159), resps[0].GetPayload().GetBody())
	})

	t.Run("StreamingOutputCall", func(t *testing.T) {
		sizes := []int32{31415, 9, 2653, 58979}
		req := &pb.StreamingOutputCallRequest{}
		for _, n := range sizes {
			req.ResponseParameters = append(req.ResponseParameters, &pb.ResponseParameters{Size: n})
		}
		run := call(t, "TestService/StreamingOutputCall", marshalJSON(t, req))
		requireExit(t, 0, run)
		resps := decodeJSONStream(t, run.stdout, func() *pb.StreamingOutputCallResponse { return new(pb.StreamingOutputCallResponse) })
		require.Len(t, resps, len(sizes))
		for i, r := range resps {
			assert.Len(t, r.GetPayload().GetBody(), int(sizes[i]), "response %d", i)
		}
	})

	t.Run("FullDuplexCall", func(t *testing.T) {
		// Two requests in one stream; each is answered as it arrives.
		var in strings.Builder
		for _, n := range []int32{27182, 8} {
			in.WriteString(marshalJSON(t, &pb.StreamingOutputCallRequest{
				ResponseParameters: []*pb.ResponseParameters{{Size: n}},
				Payload:            &pb.Payload{Body: make([]byte, n)},
			}))
		}
		run := call(t, "TestService/FullDuplexCall", in.String())
		requireExit(t, 0, run)
		resps := decodeJSONStream(t, run.stdout, func() *pb.StreamingOutputCallResponse { return new(pb.StreamingOutputCallResponse) })
		require.Len(t, resps, 2)
		assert.Len(t, resps[0].GetPayload().GetBody(), 27182)
		assert.Len(t, resps[1].GetPayload().GetBody(), 8)
	})

	t.Run("status", func(t *testing.T) {
		run := call(t, "TestService/UnaryCall", marshalJSON(t, &pb.SimpleRequest{
			ResponseStatus: &pb.EchoStatus{Code: 2, Message: "test status message"},
		}))
		requireExit(t, grpcurlStatusExit+2, run)
		assert.Equal(t, "ERROR:\n  Code: Unknown\n  Message: test status message\n", run.stderr)
		assert.Empty(t, run.stdout)
	})

	t.Run("special_status_message", func(t *testing.T) {
		// The message travels percent-encoded in grpc-message; -format-error
		// prints the decoded status as JSON, so it can be compared exactly.
		const msg = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n"
		run := call(t, "TestService/UnaryCall", marshalJSON(t, &pb.SimpleRequest{
			ResponseStatus: &pb.EchoStatus{Code: 2, Message: msg},
		}), "-format-error")
		requireExit(t, grpcurlStatusExit+2, run)
		var st struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}
		require.NoError(t, json.Unmarshal([]byte(run.stderr), &st), "grpcurl's stderr:\n%s", run.stderr)
		assert.Equal(t, 2, st.Code)
		assert.Equal(t, msg, st.Message)
	})

	t.Run("streaming_status", func(t *testing.T) {
		run := call(t, "TestService/StreamingOutputCall", marshalJSON(t, &pb.StreamingOutputCallRequest{
			ResponseStatus: &pb.EchoStatus{Code: 9, Message: "not now"},
		}))
		requireExit(t, grpcurlStatusExit+9, run)
		assert.Equal(t, "ERROR:\n  Code: FailedPrecondition\n  Message: not now\n", run.stderr)
	})

	t.Run("unimplemented", func(t *testing.T) {
		for _, method := range []string{"TestService/UnimplementedCall", "UnimplementedService/UnimplementedCall"} {
			run := call(t, method, "")
			requireExit(t, grpcurlStatusExit+12, run)
			assert.Contains(t, run.stderr, "Code: Unimplemented\n", method)
		}
	})

	t.Run("metadata", func(t *testing.T) {
		// grpcurl base64-decodes -bin header values before sending them and
		// prints received -bin values base64-encoded again.
		trailing := base64.StdEncoding.EncodeToString([]byte{0xab, 0xab, 0xab})
		run := call(t, "TestService/UnaryCall", marshalJSON(t, &pb.SimpleRequest{ResponseSize: 1}),
			"-v",
			"-H", testservice.EchoInitialKey+": test_initial_metadata_value",
			"-H", testservice.EchoTrailingKey+": "+trailing)
		requireExit(t, 0, run)
		assert.Contains(t, verboseSection(t, run.stdout, "Response headers received"),
			testservice.EchoInitialKey+": test_initial_metadata_value")
		assert.Contains(t, verboseSection(t, run.stdout, "Response trailers received"),
			testservice.EchoTrailingKey+": "+trailing)
		assert.Contains(t, run.stdout, "Sent 1 request and received 1 response")
	})

	t.Run("tls", func(t *testing.T) {
		dir := grpcTestdata(t)
		creds, err := credentials.NewServerTLSFromFile(filepath.Join(dir, "server1.pem"), filepath.Join(dir, "server1.key"))
		require.NoError(t, err)
		tlsAddr := serveTestService(t, server.Creds(creds))
		args := append([]string{
			"-max-time", grpcurlMaxTime,
			"-cacert", filepath.Join(dir, "ca.pem"),
			"-servername", tlsServerName,
			"-d", "@",
		}, protoArgs...)
		args = append(args, tlsAddr, "grpc.testing.TestService/UnaryCall")
		run := runTool(t, grpcurlTimeout, tool.path, marshalJSON(t, &pb.SimpleRequest{ResponseSize: 10}), args...)
		requireExit(t, 0, run)
		resps := decodeJSONStream(t, run.stdout, func() *pb.SimpleResponse { return new(pb.SimpleResponse) })
		require.Len(t, resps, 1)
		assert.Len(t, resps[0].GetPayload().GetBody(), 10)
	})
}

// requireExit stops t unless run exited with code.
func requireExit(t *testing.T, code int, run toolRun) {
	t.Helper()
	require.Equal(t, code, run.exitCode, "exit status\nstdout:\n%s\nstderr:\n%s", run.stdout, run.stderr)
}

// marshalJSON returns m in protobuf's JSON mapping, as grpcurl reads it.
func marshalJSON(t *testing.T, m proto.Message) string {
	t.Helper()
	b, err := protojson.Marshal(m)
	require.NoError(t, err)
	return string(b)
}

// decodeJSONStream parses out, a sequence of JSON messages as grpcurl prints
// the responses of a call, into messages made by newMsg.
func decodeJSONStream[M proto.Message](t *testing.T, out string, newMsg func() M) []M {
	t.Helper()
	var msgs []M
	dec := json.NewDecoder(strings.NewReader(out))
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if err == io.EOF {
			return msgs
		}
		require.NoError(t, err, "grpcurl's output:\n%s", out)
		m := newMsg()
		require.NoError(t, protojson.Unmarshal(raw, m), "message %d of grpcurl's output:\n%s", len(msgs), out)
		msgs = append(msgs, m)
	}
}

// verboseSection returns the lines under heading in grpcurl's -v output,
// up to the blank line that ends them.
func verboseSection(t *testing.T, out, heading string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(heading) + `:\n((?:.+\n)*)`).FindStringSubmatch(out)
	require.NotNil(t, m, "no %q in grpcurl's output:\n%s", heading, out)
	return strings.TrimSpace(m[1])
}
