package client

import (
	"context"
	"testing"

	"github.com/h2rpc/h2rpc/codec"
	"github.com/h2rpc/h2rpc/transport"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// subtypeCodec is a codec registered under a name of the test's own.
type subtypeCodec struct{ codec.Codec }

func (subtypeCodec) Name() string { return "x-subtype-test" }

// TestCallContentSubtype: the request's content-type carries the
// subtype in lower case whatever case the option was given in, as
// grpc-go sends it.
func TestCallContentSubtype(t *testing.T) {
	codec.Register(subtypeCodec{codec.Get(codec.ProtoName)})
	tests := []struct {
		subtype string
		want    string
	}{
		{"", "application/grpc"},
		{"proto", "application/grpc"},
		{"PROTO", "application/grpc"},
		{"x-subtype-test", "application/grpc+x-subtype-test"},
		{"X-Subtype-TEST", "application/grpc+x-subtype-test"},
	}
	cc, err := New("127.0.0.1:1", WithInsecure())
	require.NoError(t, err)
	t.Cleanup(func() { cc.Close() })
	for _, tt := range tests {
		ci, _, _, err := cc.callInfo([]CallOption{CallContentSubtype(tt.subtype)})
		require.NoError(t, err, tt.subtype)
		h, err := cc.callHdr(context.Background(), "/a.B/C", &ci)
		require.NoError(t, err, tt.subtype)
		assert.Equal(t, tt.want, transport.ContentType(h.ContentSubtype), "subtype %q", tt.subtype)
	}
}
