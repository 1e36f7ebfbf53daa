package transport

import (
	"testing"

	"github.com/h2rpc/h2rpc/codes"
	"github.com/h2rpc/h2rpc/internal/wire"
	"github.com/stretchr/testify/assert"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// TestStatusFromTrailers: the status a client makes of the trailers; a
// grpc-status-details-bin that cannot be read is the server's fault and
// ends the call with INTERNAL, as in grpc-go, rather than being dropped.
func TestStatusFromTrailers(t *testing.T) {
	detail, err := anypb.New(&errdetails.ErrorInfo{Reason: "r"})
	if err != nil {
		t.Fatal(err)
	}
	good, err := proto.Marshal(&spb.Status{Code: 5, Message: "from details", Details: []*anypb.Any{detail}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		fields     [][2]string
		code       codes.Code
		msg        string
		hasDetails bool
	}{
		{"OK", [][2]string{{"grpc-status", "0"}}, codes.OK, "", false},
		{"code and message", [][2]string{{"grpc-status", "5"}, {"grpc-message", "nf"}}, codes.NotFound, "nf", false},
		{"malformed code", [][2]string{{"grpc-status", "x"}}, codes.Unknown, "transport: malformed grpc-status: x", false},
		{"details", [][2]string{{"grpc-status", "5"}, {"grpc-message", "nf"}, {"grpc-status-details-bin", wire.EncodeBinHeader(good)}}, codes.NotFound, "from details", true},
		{"details not base64", [][2]string{{"grpc-status", "5"}, {"grpc-status-details-bin", "!!!"}}, codes.Internal, "transport: malformed grpc-status-details-bin: not base64", false},
		{"details not a proto", [][2]string{{"grpc-status", "5"}, {"grpc-status-details-bin", "/w"}}, codes.Internal, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := statusParts{code: -1}
			for _, f := range tt.fields {
				p.add(f[0], f[1])
			}
			st := p.status()
			assert.Equal(t, tt.code, st.Code())
			if tt.msg != "" {
				assert.Equal(t, tt.msg, st.Message())
			}
			assert.Equal(t, tt.hasDetails, len(st.Details()) > 0)
		})
	}
}
