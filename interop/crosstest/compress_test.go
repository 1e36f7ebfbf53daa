package crosstest

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/compress"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	gcodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Each runtime gets a compressor the other lacks, so a client can send a
// grpc-encoding the server's runtime has never heard of. The registries
// are separate, process-wide and written at init, as both runtimes ask.
const (
	h2rpcOnlyEncoding  = "x-h2rpc-only"
	grpcGoOnlyEncoding = "x-grpc-go-only"
)

func init() {
	compress.Register(h2rpcOnly{})
	encoding.RegisterCompressor(grpcGoOnly{})
}

// h2rpcOnly is a do-nothing compressor in h2rpc's registry.
type h2rpcOnly struct{}

func (h2rpcOnly) Name() string                             { return h2rpcOnlyEncoding }
func (h2rpcOnly) Compress(dst, src []byte) ([]byte, error) { return append(dst, src...), nil }
func (h2rpcOnly) Decompress(src []byte, limit int) (*[]byte, error) {
	if len(src) > limit {
		return nil, compress.ErrTooLarge
	}
	b := append([]byte(nil), src...)
	return &b, nil
}

// grpcGoOnly is a do-nothing compressor in grpc-go's registry.
type grpcGoOnly struct{}

func (grpcGoOnly) Name() string                                 { return grpcGoOnlyEncoding }
func (grpcGoOnly) Compress(w io.Writer) (io.WriteCloser, error) { return nopCloser{w}, nil }
func (grpcGoOnly) Decompress(r io.Reader) (io.Reader, error)    { return r, nil }

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// unknownToServer is the encoding only d's client runtime knows.
func (d direction) unknownToServer() string {
	if d.client == "h2rpc" {
		return h2rpcOnlyEncoding
	}
	return grpcGoOnlyEncoding
}

// compressible returns n bytes that gzip shrinks more than a hundredfold.
func compressible(n int) []byte {
	return bytes.Repeat([]byte("cross-test gzip!"), n/16)
}

// roundTrip sends payload with o as one unary call or as messages of a
// bidi stream and checks that it comes back whole.
func roundTrip(ctx context.Context, t *testing.T, cc conn, streaming bool, payload []byte, o *callOpts) {
	t.Helper()
	if !streaming {
		out := new(wrapperspb.BytesValue)
		require.NoError(t, cc.invoke(ctx, mUnary, wrapperspb.Bytes(payload), out, o))
		require.True(t, bytes.Equal(payload, out.Value), "unary echo differs")
		return
	}
	st, err := cc.bidi(ctx, mBidi, o)
	require.NoError(t, err)
	const parts = 4
	size := len(payload) / parts
	for i := range parts {
		part := payload[i*size : (i+1)*size]
		require.NoError(t, st.SendMsg(wrapperspb.Bytes(part)))
		out := new(wrapperspb.BytesValue)
		require.NoError(t, st.RecvMsg(out))
		require.True(t, bytes.Equal(part, out.Value), "stream echo %d differs", i)
	}
	require.NoError(t, st.CloseSend())
	require.ErrorIs(t, st.RecvMsg(new(wrapperspb.BytesValue)), io.EOF)
}

// TestGzip: a client that asks for gzip sends its messages compressed, and
// the server (which cannot know the encoding any other way) decompresses
// them and answers in gzip too; a client that does not ask gets none. The
// bytes on the server's connection show which way each message went.
func TestGzip(t *testing.T) {
	const n = 1 << 20
	payload := compressible(n)
	for _, d := range directions {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			tap := newTap(t, false)
			d.serve(t, tap, newService(), serverConfig{})
			cc := d.dial(t, tap.Addr().String(), clientConfig{})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for _, tc := range []struct {
				name       string
				compressor string
				streaming  bool
			}{
				{"identity_unary", "", false},
				{"identity_bidi", "", true},
				{"gzip_unary", gzip.Name, false},
				{"gzip_bidi", gzip.Name, true},
			} {
				t.Run(tc.name, func(t *testing.T) {
					in0, out0 := tap.fromClient.Load(), tap.toClient.Load()
					roundTrip(ctx, t, cc, tc.streaming, payload, &callOpts{compressor: tc.compressor})
					in, out := tap.fromClient.Load()-in0, tap.toClient.Load()-out0
					t.Logf("%d payload bytes: %d bytes from the client, %d to it", n, in, out)
					if tc.compressor == "" {
						assert.Greater(t, in, int64(n), "request bytes")
						assert.Greater(t, out, int64(n), "response bytes")
						return
					}
					assert.Less(t, in, int64(n/20), "the request was not compressed")
					assert.Less(t, out, int64(n/20), "the response was not compressed in the request's encoding")
				})
			}
		})
	}
}

// TestGzipChosenByServer: grpc-go's handler may pick the response
// encoding itself (grpc.SetSendCompressor) from those the client accepts;
// h2rpc's client, which sent nothing compressed, must have offered gzip in
// grpc-accept-encoding and must decompress the answer. Only this direction
// exists: h2rpc's server always answers in the request's encoding.
func TestGzipChosenByServer(t *testing.T) {
	const n = 1 << 20
	payload := compressible(n)
	d := directions[0]
	require.Equal(t, "h2rpc", d.client)
	tap := newTap(t, false)
	d.serve(t, tap, newService(), serverConfig{})
	cc := d.dial(t, tap.Addr().String(), clientConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	roundTrip(ctx, t, cc, false, payload, &callOpts{md: []string{"x-respond-gzip", "1"}})
	in, out := tap.fromClient.Load(), tap.toClient.Load()
	assert.Greater(t, in, int64(n), "request bytes")
	assert.Less(t, out, int64(n/20), "the response was not compressed")
}

// TestUnknownEncoding: a request in a grpc-encoding the server's runtime
// lacks fails with UNIMPLEMENTED naming the encoding, unary or streaming.
func TestUnknownEncoding(t *testing.T) {
	for _, d := range directions {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			_, addr := d.start(t, newService(), serverConfig{})
			cc := d.dial(t, addr, clientConfig{})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			enc := d.unknownToServer()

			err := cc.invoke(ctx, mUnary, wrapperspb.Bytes([]byte("x")), new(wrapperspb.BytesValue), &callOpts{compressor: enc})
			st := statusOf(err)
			assert.Equal(t, gcodes.Unimplemented, st.code, "unary: %v", err)
			assert.Contains(t, st.msg, enc, "unary")

			s, err := cc.bidi(ctx, mBidi, &callOpts{compressor: enc})
			require.NoError(t, err)
			// The send may already see the end of the stream (io.EOF); the
			// receive tells why.
			if err := s.SendMsg(wrapperspb.Bytes([]byte("x"))); err != nil {
				require.ErrorIs(t, err, io.EOF)
			}
			err = s.RecvMsg(new(wrapperspb.BytesValue))
			st = statusOf(err)
			assert.Equal(t, gcodes.Unimplemented, st.code, "bidi: %v", err)
			assert.Contains(t, st.msg, enc, "bidi")

			// The connection is still good for calls the server can read.
			require.NoError(t, cc.invoke(ctx, mUnary, wrapperspb.Bytes([]byte("x")), new(wrapperspb.BytesValue), &callOpts{compressor: gzip.Name}))
		})
	}
}
