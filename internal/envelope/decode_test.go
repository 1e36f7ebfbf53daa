package envelope

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"math"
	"slices"
	"testing"

	"github.com/h2rpc/h2rpc/codec"
	"github.com/h2rpc/h2rpc/codes"
	"github.com/h2rpc/h2rpc/compress"
	"github.com/h2rpc/h2rpc/internal/bufpool"
	"github.com/h2rpc/h2rpc/status"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// payload returns the proto encoding of a BytesValue holding n bytes.
func payload(t testing.TB, n int) []byte {
	b, err := proto.Marshal(wrapperspb.Bytes(bytes.Repeat([]byte{'a'}, n)))
	require.NoError(t, err)
	return b
}

func gzipped(t testing.TB, b []byte) []byte {
	out, err := compress.Gzip.Compress(nil, b)
	require.NoError(t, err)
	return out
}

// TestDecodeErrors: each way a received message can fail, and its code.
func TestDecodeErrors(t *testing.T) {
	plain := payload(t, 100) // 102 bytes
	zipped := gzipped(t, plain)
	tests := []struct {
		name       string
		data       []byte
		compressed bool
		encoding   string
		maxRecv    int
		code       codes.Code
	}{
		{"plain", plain, false, "", 1000, codes.OK},
		{"plain with an encoding named", plain, false, "gzip", 1000, codes.OK},
		{"compressed", zipped, true, "gzip", 1000, codes.OK},
		{"decompressed at the limit", zipped, true, "gzip", len(plain), codes.OK},
		{"decompressed over the limit", zipped, true, "gzip", len(plain) - 1, codes.ResourceExhausted},
		{"compressed flag, no encoding", zipped, true, "", 1000, codes.Internal},
		{"compressed flag, identity", zipped, true, "identity", 1000, codes.Internal},
		{"compressed flag, unknown encoding", zipped, true, "zstd", 1000, codes.Unimplemented}, // on a server; see TestDecodeCompressedFlag
		{"not gzip", plain, true, "gzip", 1000, codes.Internal},
		{"gzip cut short", zipped[:len(zipped)-4], true, "gzip", 1000, codes.Internal},
		{"not the message", []byte{0xff}, false, "", 1000, codes.Internal},
		{"decompresses to something not the message", gzipped(t, []byte{0xff}), true, "gzip", 1000, codes.Internal},
	}
	c := codec.Get("proto")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := new(wrapperspb.BytesValue)
			err := Decode(Server, c, compress.Get(tt.encoding), tt.encoding, tt.data, tt.compressed, tt.maxRecv, out)
			if tt.code == codes.OK {
				require.NoError(t, err)
				assert.Len(t, out.Value, 100)
				return
			}
			st, ok := status.FromError(err)
			require.True(t, ok, "not a status error: %v", err)
			assert.Equal(t, tt.code, st.Code(), "%v", err)
		})
	}
}

// sizeCodec is the proto codec, noting the size of what it unmarshals.
type sizeCodec struct {
	codec.Codec
	seen int
}

func (c *sizeCodec) Unmarshal(data []byte, v any) error {
	c.seen = len(data)
	return c.Codec.Unmarshal(data, v)
}

// fuzzEncodings are the grpc-encoding values FuzzDecode picks from.
var fuzzEncodings = []string{"", "identity", "gzip", "zstd"}

// gunzipSize reports how many bytes data decompresses to, reading at most
// limit+1, and whether it is valid gzip.
func gunzipSize(data []byte, limit int) (int, bool) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return 0, false
	}
	n, err := io.Copy(io.Discard, io.LimitReader(zr, int64(limit)+1))
	if n > int64(limit) {
		return int(n), true
	}
	return int(n), err == nil
}

// FuzzDecode reads one framed message as a receiver does: the 5-byte
// prefix (the transport refuses a bad flag or a length over the limit),
// then Decode with the peer's grpc-encoding and the receive limit. It
// must never panic nor hand the codec more than the limit; its errors are
// status errors with the documented codes; and a message it accepts,
// encoded again (compressed with the same encoding if there is one),
// decodes to the same message.
func FuzzDecode(f *testing.F) {
	c := codec.Get("proto")
	for _, tc := range []struct {
		comp  compress.Compressor
		n     int
		enc   byte
		limit uint16
	}{
		{nil, 10, 0, 1000},
		{compress.Gzip, 10, 2, 1000},
		{compress.Gzip, 900, 2, 100},
		{compress.Gzip, 10, 0, 1000},
		{compress.Gzip, 10, 3, 1000},
	} {
		buf, framed, err := Encode(c, tc.comp, wrapperspb.Bytes(bytes.Repeat([]byte{'x'}, tc.n)), math.MaxInt32)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(bytes.Clone(framed), tc.enc, tc.limit)
		bufpool.Put(buf)
	}
	f.Add([]byte{1, 0, 0, 0, 4, 0x1f, 0x8b, 8, 0}, byte(2), uint16(10))
	f.Add([]byte{2, 0, 0, 0, 0}, byte(0), uint16(10))
	f.Fuzz(func(t *testing.T, framed []byte, enc byte, limit uint16) {
		compressed, n, err := codec.ParsePrefix(framed)
		if err != nil {
			if !errors.Is(err, codec.ErrBadPrefix) {
				t.Fatalf("ParsePrefix: %v does not wrap ErrBadPrefix", err)
			}
			return
		}
		maxRecv := int(limit)
		if uint64(n) > uint64(len(framed)-codec.PrefixLen) || int(n) > maxRecv {
			return // the transport waits for the rest, or refuses it
		}
		data := framed[codec.PrefixLen : codec.PrefixLen+int(n)]
		name := fuzzEncodings[int(enc)%len(fuzzEncodings)]
		comp := compress.Get(name)
		sc := &sizeCodec{Codec: c, seen: -1}
		out := new(wrapperspb.BytesValue)
		err = Decode(Server, sc, comp, name, data, compressed, maxRecv, out)
		if sc.seen > maxRecv {
			t.Fatalf("the codec was given %d bytes, over the limit of %d", sc.seen, maxRecv)
		}
		if err != nil {
			st, ok := status.FromError(err)
			if !ok {
				t.Fatalf("not a status error: %v", err)
			}
			var want []codes.Code
			switch {
			case compressed && comp == nil && (name == "" || name == "identity"):
				want = []codes.Code{codes.Internal}
			case compressed && comp == nil:
				want = []codes.Code{codes.Unimplemented}
			case compressed && sc.seen < 0:
				// Decompression failed: too large, or not gzip.
				size, valid := gunzipSize(data, maxRecv)
				switch {
				case size > maxRecv:
					want = []codes.Code{codes.ResourceExhausted}
				case !valid:
					want = []codes.Code{codes.Internal}
				default:
					t.Fatalf("valid gzip of %d bytes (limit %d) failed: %v", size, maxRecv, err)
				}
			default:
				if sc.seen < 0 {
					t.Fatalf("a plain message failed before unmarshalling: %v", err)
				}
				want = []codes.Code{codes.Internal} // not the message
			}
			if !slices.Contains(want, st.Code()) {
				t.Fatalf("%v: code %v, want one of %v", err, st.Code(), want)
			}
			return
		}
		if !compressed {
			comp = nil
		}
		buf, again, err := Encode(c, comp, out, math.MaxInt32)
		if err != nil {
			t.Fatalf("Encode of a decoded message: %v", err)
		}
		defer bufpool.Put(buf)
		back := new(wrapperspb.BytesValue)
		if err := Decode(Server, c, comp, name, again[codec.PrefixLen:], again[0] == 1, math.MaxInt32, back); err != nil {
			t.Fatalf("Decode of what Encode made: %v", err)
		}
		if !proto.Equal(out, back) {
			t.Fatalf("round trip: %v became %v", out, back)
		}
	})
}
