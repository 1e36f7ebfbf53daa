package attack

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// withField returns request fields with name set to value (added if
// absent).
func withField(fields []hpack.HeaderField, name, value string) []hpack.HeaderField {
	out := make([]hpack.HeaderField, 0, len(fields)+1)
	found := false
	for _, f := range fields {
		if f.Name == name {
			f.Value, found = value, true
		}
		out = append(out, f)
	}
	if !found {
		out = append(out, hpack.HeaderField{Name: name, Value: value})
	}
	return out
}

// TestRejectedRequests: a request the server will not serve gets a whole
// HTTP answer. One that says it is gRPC gets a gRPC answer (content-type
// application/grpc, grpc-status, no body), which gRPC clients read, as
// grpc-go answers; any other gets text for people. A bad content-type is
// INVALID_ARGUMENT, as in grpc-go.
func TestRejectedRequests(t *testing.T) {
	tgt := startServer(t)
	tests := []struct {
		name        string
		fields      []hpack.HeaderField
		status      string
		contentType string
		grpcStatus  string
		body        bool
	}{
		{"not gRPC", withField(request(holdPath), "content-type", "text/html"), "415", "text/plain; charset=utf-8", "3", true},
		{"gRPC, wrong method", withField(request(holdPath), ":method", "PUT"), "405", "application/grpc", "13", false},
		{"gRPC, bad grpc-timeout", withField(request(holdPath), "grpc-timeout", "soon"), "400", "application/grpc", "13", false},
		{"not gRPC, wrong method", withField(withField(request(holdPath), ":method", "GET"), "content-type", "text/html"), "405", "text/plain; charset=utf-8", "13", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := connect(t, tgt.addr)
			id := p.newID()
			p.headers(id, true, tt.fields)
			require.NoError(t, p.flush())
			e, ok := p.await(3*time.Second, func(e event) bool { return e.stream == id && e.typ == http2.FrameHeaders })
			require.True(t, ok, "no answer; server sent %v", p.summary())
			assert.Equal(t, tt.status, e.header(":status"))
			assert.Equal(t, tt.contentType, e.header("content-type"))
			assert.Equal(t, tt.grpcStatus, e.header("grpc-status"))
			assert.Equal(t, !tt.body, e.flags.Has(http2.FlagHeadersEndStream), "END_STREAM on the headers (no body)")
		})
	}
}
