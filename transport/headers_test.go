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

// TestStatusFromTrailers: the status a client makes of the trailers.
// grpc-status-details-bin is read as grpc-go reads it: not base64 is a
// malformed response (INTERNAL); not a google.rpc.Status, or sent twice,
// it is ignored; a google.rpc.Status whose code is not grpc-status makes
// the status INTERNAL; otherwise it is the status, message included.
func TestStatusFromTrailers(t *testing.T) {
	detail, err := anypb.New(&errdetails.ErrorInfo{Reason: "r"})
	if err != nil {
		t.Fatal(err)
	}
	good, err := proto.Marshal(&spb.Status{Code: 5, Message: "from details", Details: []*anypb.Any{detail}})
	if err != nil {
		t.Fatal(err)
	}
	noMsg, err := proto.Marshal(&spb.Status{Code: 5, Details: []*anypb.Any{detail}})
	if err != nil {
		t.Fatal(err)
	}
	goodBin, noMsgBin := wire.EncodeBinHeader(good), wire.EncodeBinHeader(noMsg)
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
		{"details", [][2]string{{"grpc-status", "5"}, {"grpc-message", "nf"}, {"grpc-status-details-bin", goodBin}}, codes.NotFound, "from details", true},
		{"details without a message", [][2]string{{"grpc-status", "5"}, {"grpc-message", "nf"}, {"grpc-status-details-bin", noMsgBin}}, codes.NotFound, "", true},
		{"details not base64", [][2]string{{"grpc-status", "5"}, {"grpc-status-details-bin", "!!!"}}, codes.Internal,
			"transport: malformed grpc-status-details-bin: wire: decoding binary header value: illegal base64 data at input byte 0", false},
		{"OK, details not base64", [][2]string{{"grpc-status", "0"}, {"grpc-status-details-bin", "!!!"}}, codes.Internal,
			"transport: malformed grpc-status-details-bin: wire: decoding binary header value: illegal base64 data at input byte 0", false},
		{"details not a proto", [][2]string{{"grpc-status", "5"}, {"grpc-message", "nf"}, {"grpc-status-details-bin", "/w"}}, codes.NotFound, "nf", false},
		{"details with another code", [][2]string{{"grpc-status", "3"}, {"grpc-message", "bad"}, {"grpc-status-details-bin", goodBin}}, codes.Internal,
			`transport: grpc-status-details-bin mismatch: grpc-status=InvalidArgument, grpc-message="bad", details code=NotFound, details message="from details"`, false},
		{"OK, details with another code", [][2]string{{"grpc-status", "0"}, {"grpc-status-details-bin", goodBin}}, codes.Internal,
			`transport: grpc-status-details-bin mismatch: grpc-status=OK, grpc-message="", details code=NotFound, details message="from details"`, false},
		{"details twice", [][2]string{{"grpc-status", "5"}, {"grpc-message", "nf"}, {"grpc-status-details-bin", goodBin}, {"grpc-status-details-bin", goodBin}}, codes.NotFound, "nf", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := statusParts{code: -1}
			for _, f := range tt.fields {
				p.add(f[0], f[1])
			}
			st := p.status()
			assert.Equal(t, tt.code, st.Code())
			assert.Equal(t, tt.msg, st.Message())
			assert.Equal(t, tt.hasDetails, len(st.Details()) > 0)
		})
	}
}
