package interop_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	pb "github.com/h2rpc/h2rpc/interop/grpc_testing"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

// ghzBin builds ghz at the version go.mod pins, once.
var ghzBin = sync.OnceValues(func() (toolBin, error) {
	return buildTool("github.com/bojand/ghz/cmd/ghz", "github.com/bojand/ghz")
})

// ghzTimeout bounds one ghz process. It is far beyond what a run needs: it
// bounds a hang and times nothing. ghz's own --max-duration is no use here:
// in v0.121.0 it makes ghz ignore --total and call until the time is up.
const ghzTimeout = 4 * time.Minute

// ghzReport is the part of ghz's JSON report the test reads.
type ghzReport struct {
	EndReason      string         `json:"endReason"`
	Count          int            `json:"count"`
	ErrorDist      map[string]int `json:"errorDistribution"`
	StatusCodeDist map[string]int `json:"statusCodeDistribution"`
	Details        []struct {
		Status string `json:"status"`
		Error  string `json:"error"`
	} `json:"details"`
}

// TestGhz puts a bounded load on an h2rpc server with ghz: a fixed number of
// calls of each kind, described to ghz with the checked-in .proto files,
// and requires from ghz's JSON report that every one of them ended OK.
func TestGhz(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs ghz")
	}
	tool, err := ghzBin()
	require.NoError(t, err)
	t.Logf("ghz %s", tool.version)
	addr := serveTestService(t)

	payload := func(n int32) *pb.Payload { return &pb.Payload{Body: make([]byte, n)} }
	streamReq := func(sizes ...int32) *pb.StreamingOutputCallRequest {
		req := &pb.StreamingOutputCallRequest{Payload: payload(10)}
		for _, n := range sizes {
			req.ResponseParameters = append(req.ResponseParameters, &pb.ResponseParameters{Size: n})
		}
		return req
	}
	for _, tc := range []struct {
		name   string
		method string
		n, c   int
		data   []proto.Message // more than one: a stream of requests
		extra  []string
		// want is the status every call ends with, as ghz names it;
		// "" for OK.
		want string
	}{{
		name: "unary", method: "UnaryCall", n: 2000, c: 16,
		data: []proto.Message{&pb.SimpleRequest{ResponseSize: 100, Payload: payload(100)}},
	}, {
		// Compressed requests, spread over several connections.
		name: "unary_gzip", method: "UnaryCall", n: 500, c: 8,
		data:  []proto.Message{&pb.SimpleRequest{ResponseSize: 1000, Payload: payload(1000)}},
		extra: []string{"--enable-compression", "--connections=4"},
	}, {
		name: "server_streaming", method: "StreamingOutputCall", n: 500, c: 8,
		data: []proto.Message{streamReq(10, 1000, 20000)},
	}, {
		name: "client_streaming", method: "StreamingInputCall", n: 500, c: 8,
		data: []proto.Message{
			&pb.StreamingInputCallRequest{Payload: payload(27182)},
			&pb.StreamingInputCallRequest{Payload: payload(8)},
			&pb.StreamingInputCallRequest{Payload: payload(1828)},
		},
	}, {
		name: "bidi", method: "FullDuplexCall", n: 500, c: 8,
		data: []proto.Message{streamReq(31415), streamReq(9, 2653), streamReq(58979)},
	}, {
		// Calls the server fails on purpose: the report must say so.
		name: "unary_status", method: "UnaryCall", n: 200, c: 8,
		data: []proto.Message{&pb.SimpleRequest{ResponseStatus: &pb.EchoStatus{Code: 5, Message: "gone"}}},
		want: "NotFound",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			data := make([]string, len(tc.data))
			for i, m := range tc.data {
				data[i] = marshalJSON(t, m)
			}
			arg := data[0]
			if len(data) > 1 {
				arg = "[" + strings.Join(data, ",") + "]"
			}
			args := append([]string{
				"--insecure",
				"--import-paths=" + protoDir,
				"--proto=" + protoDir + "/" + testProto,
				"--call=grpc.testing.TestService." + tc.method,
				"--total=" + strconv.Itoa(tc.n),
				"--concurrency=" + strconv.Itoa(tc.c),
				"--data=" + arg,
				"--format=json",
			}, tc.extra...)
			run := runTool(t, ghzTimeout, tool.path, "", append(args, addr)...)
			requireExit(t, 0, run)

			var rep ghzReport
			require.NoError(t, json.Unmarshal([]byte(run.stdout), &rep), "ghz's report:\n%s\nstderr:\n%s", run.stdout, run.stderr)
			assert.Equal(t, "normal", rep.EndReason)
			assert.Equal(t, tc.n, rep.Count)
			want, wantErr := "OK", ""
			if tc.want != "" {
				want, wantErr = tc.want, "rpc error: code = "+tc.want+" desc = gone"
			}
			assert.Equal(t, map[string]int{want: tc.n}, rep.StatusCodeDist)
			if wantErr == "" {
				assert.Empty(t, rep.ErrorDist)
			} else {
				assert.Equal(t, map[string]int{wantErr: tc.n}, rep.ErrorDist)
			}
			require.Len(t, rep.Details, tc.n)
			for i, d := range rep.Details {
				if d.Status != want || d.Error != wantErr {
					t.Errorf("call %d ended %s (%q), want %s", i, d.Status, d.Error, want)
					break
				}
			}
		})
	}
}
