package transport

import (
	"strconv"
	"testing"
	"unicode/utf8"

	"github.com/h2rpc/h2rpc/codes"
	"github.com/h2rpc/h2rpc/internal/wire"
	"github.com/h2rpc/h2rpc/status"
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

// FuzzStatusFromHeaders: whatever grpc-status, grpc-message and
// grpc-status-details-bin a server sends, in any order, the status made
// of them never panics and is what the headers say: grpc-status's code
// (UNKNOWN if it is not a number), the last grpc-message, and the details
// of a grpc-status-details-bin that decodes, with grpc-status's code; a
// details header that does not decode is INTERNAL. And the headers
// statusFields writes for a status give that status back.
func FuzzStatusFromHeaders(f *testing.F) {
	detail, err := anypb.New(&errdetails.ErrorInfo{Reason: "r"})
	if err != nil {
		f.Fatal(err)
	}
	good, err := proto.Marshal(&spb.Status{Code: 5, Message: "from details", Details: []*anypb.Any{detail}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("0", "", []byte(nil), byte(statusPresent))
	f.Add("5", "nf", []byte(nil), byte(statusPresent|messagePresent))
	f.Add("x", "after", []byte(nil), byte(statusPresent|messagePresent))
	f.Add("x", "before", []byte(nil), byte(statusPresent|messagePresent|messageFirst))
	f.Add("5", "nf", good, byte(statusPresent|messagePresent|detailsPresent))
	f.Add("3", "mismatch", good, byte(statusPresent|messagePresent|detailsPresent|messageFirst))
	f.Add("4294967295", "", good, byte(statusPresent|detailsPresent))
	f.Add("5", "", []byte("!!!"), byte(statusPresent|detailsPresent|detailsRaw))
	f.Add("5", "%41%zz", []byte{0xff}, byte(statusPresent|messagePresent|detailsPresent))
	f.Add("", "m", good, byte(messagePresent|detailsPresent))
	f.Fuzz(func(t *testing.T, code, msg string, details []byte, layout byte) {
		detailsValue := wire.EncodeBinHeader(details)
		if layout&detailsRaw != 0 {
			detailsValue = string(details)
		}
		var fields [][2]string
		if layout&detailsPresent != 0 {
			fields = append(fields, [2]string{"grpc-status-details-bin", detailsValue})
		}
		if layout&statusPresent != 0 {
			fields = append(fields, [2]string{"grpc-status", code})
		}
		if layout&messagePresent != 0 {
			m := [2]string{"grpc-message", msg}
			if layout&messageFirst != 0 {
				fields = append([][2]string{m}, fields...)
			} else {
				fields = append(fields, m)
			}
		}
		p := statusParts{code: -1}
		for _, hf := range fields {
			if !p.add(hf[0], hf[1]) {
				t.Fatalf("%s not taken as a status header", hf[0])
			}
		}
		if layout&statusPresent == 0 {
			// The caller ends the call INTERNAL without grpc-status.
			if p.code != -1 {
				t.Fatalf("no grpc-status, but code %d", p.code)
			}
			return
		}

		// What the headers say.
		wantCode := codes.Unknown
		n, err := strconv.ParseUint(code, 10, 32)
		malformed := err != nil
		if !malformed {
			wantCode = codes.Code(n)
		}
		wantMsg := ""
		for _, hf := range fields {
			switch {
			case hf[0] == "grpc-message":
				wantMsg = wire.DecodeGrpcMessage(msg)
			case hf[0] == "grpc-status" && malformed:
				wantMsg = "transport: malformed grpc-status: " + code
			}
		}
		// Details that are not base64 fail the call; base64 that is not
		// a google.rpc.Status is ignored; a Status with another code than
		// grpc-status fails the call, as in grpc-go.
		var wantDetails *spb.Status
		base64OK := true
		if layout&detailsPresent != 0 {
			raw, err := wire.DecodeBinHeader(detailsValue)
			base64OK = err == nil
			wantDetails = new(spb.Status)
			if err != nil || proto.Unmarshal(raw, wantDetails) != nil {
				wantDetails = nil
			}
		}
		decodes := base64OK && wantDetails != nil

		st := p.status()
		switch {
		case !base64OK:
			if st.Code() != codes.Internal {
				t.Fatalf("details %q are not base64, but the status is %v", detailsValue, st)
			}
		case wantDetails != nil && wantDetails.GetCode() != int32(wantCode):
			if st.Code() != codes.Internal {
				t.Fatalf("details %v with grpc-status %q: status %v, want INTERNAL for the mismatch", wantDetails, code, st)
			}
		case wantDetails != nil:
			got := st.Proto()
			if st.Code() != wantCode || got.GetCode() != int32(wantCode) {
				t.Fatalf("details %v with grpc-status %q: status %v", wantDetails, code, st)
			}
			if m := wantDetails.GetMessage(); got.GetMessage() != m { // the details' own, even empty
				t.Fatalf("message %q, want %q", got.GetMessage(), m)
			}
			if !proto.Equal(&spb.Status{Details: got.GetDetails()}, &spb.Status{Details: wantDetails.GetDetails()}) {
				t.Fatalf("details %v, want %v", got.GetDetails(), wantDetails.GetDetails())
			}
		default:
			if st.Code() != wantCode || st.Message() != wantMsg || len(st.Proto().GetDetails()) != 0 {
				t.Fatalf("grpc-status %q, grpc-message %q: status %v, want code %v message %q", code, msg, st, wantCode, wantMsg)
			}
			if (st == nil) != (wantCode == codes.OK && wantMsg == "") {
				t.Fatalf("status %v for code %v message %q: nil only for a bare OK", st, wantCode, wantMsg)
			}
		}

		// The headers we send for a status give it back. (A message that
		// is not UTF-8 cannot go in the details' proto; those are dropped.)
		if !utf8.ValidString(msg) {
			return
		}
		sent := &spb.Status{Code: int32(wantCode), Message: msg}
		if wantDetails != nil && decodes {
			sent.Details = wantDetails.GetDetails()
		}
		p = statusParts{code: -1}
		for _, hf := range statusFields(nil, status.FromProto(sent)) {
			p.add(hf.Name, hf.Value)
		}
		back := p.status().Proto()
		if wantCode == codes.OK {
			sent.Details = nil
		}
		if back == nil {
			back = &spb.Status{}
		}
		if !proto.Equal(back, sent) {
			t.Fatalf("round trip of %v gave %v", sent, back)
		}
	})
}

// Bits of FuzzStatusFromHeaders' layout byte: which headers come, in
// which order, and how the details are written.
const (
	statusPresent  = 1 << iota
	messagePresent // after the other two, unless messageFirst
	detailsPresent // first
	detailsRaw     // the value as given, not base64 of it
	messageFirst
)
