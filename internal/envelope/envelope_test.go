package envelope

import (
	"crypto/rand"
	"testing"

	"github.com/h2rpc/h2rpc/codec"
	"github.com/h2rpc/h2rpc/codes"
	"github.com/h2rpc/h2rpc/compress"
	"github.com/h2rpc/h2rpc/internal/bufpool"
	"github.com/h2rpc/h2rpc/status"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// TestEncodeSendLimit: the send limit applies to the payload that goes
// on the wire, compressed if it is, as in grpc-go; what is sent decodes
// back to the message.
func TestEncodeSendLimit(t *testing.T) {
	zeros := make([]byte, 1000) // compresses to a few dozen bytes
	noise := make([]byte, 1000) // does not compress
	rand.Read(noise)
	tests := []struct {
		name     string
		data     []byte
		comp     compress.Compressor
		maxSend  int
		tooLarge bool
	}{
		{"plain, at the limit", zeros, nil, 1003, false},
		{"plain, over", zeros, nil, 1002, true},
		{"compressible, over the limit uncompressed", zeros, compress.Gzip, 100, false},
		{"incompressible, over the limit compressed", noise, compress.Gzip, 1010, true},
		{"incompressible, within the limit compressed", noise, compress.Gzip, 1100, false},
	}
	c := codec.Get("proto")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf, framed, err := Encode(c, tt.comp, wrapperspb.Bytes(tt.data), tt.maxSend)
			if tt.tooLarge {
				assert.Equal(t, codes.ResourceExhausted, status.Code(err), "%v", err)
				return
			}
			require.NoError(t, err)
			defer bufpool.Put(buf)
			compressed, n := framed[0] == 1, int(framed[1])<<24|int(framed[2])<<16|int(framed[3])<<8|int(framed[4])
			assert.Equal(t, tt.comp != nil, compressed)
			assert.Equal(t, len(framed)-codec.PrefixLen, n)
			assert.LessOrEqual(t, n, tt.maxSend)
			out := new(wrapperspb.BytesValue)
			name := ""
			if tt.comp != nil {
				name = tt.comp.Name()
			}
			require.NoError(t, Decode(Client, c, tt.comp, name, framed[codec.PrefixLen:], compressed, 1<<20, out))
			assert.Equal(t, tt.data, out.Value)
		})
	}
}

// TestDecodeCompressedFlag: a compressed message the receiver cannot
// decompress is UNIMPLEMENTED on a server and INTERNAL on a client, as
// in grpc-go; the flag with no encoding at all is INTERNAL on both.
func TestDecodeCompressedFlag(t *testing.T) {
	tests := []struct {
		name     string
		side     Side
		encoding string
		want     codes.Code
	}{
		{"server, unknown encoding", Server, "snappy", codes.Unimplemented},
		{"client, unknown encoding", Client, "snappy", codes.Internal},
		{"server, no encoding", Server, "", codes.Internal},
		{"client, no encoding", Client, "", codes.Internal},
		{"server, identity", Server, "identity", codes.Internal},
		{"client, identity", Client, "identity", codes.Internal},
	}
	c := codec.Get("proto")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Decode(tt.side, c, nil, tt.encoding, []byte{1, 2, 3}, true, 1<<20, new(wrapperspb.BytesValue))
			assert.Equal(t, tt.want, status.Code(err), "%v", err)
		})
	}
}
