package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/codec"
	"github.com/h2rpc/h2rpc/codes"
	"github.com/h2rpc/h2rpc/status"
	"github.com/h2rpc/h2rpc/transport"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// gzipBomb returns a gzip stream that inflates to members × 16 MiB of
// zeros: one best-compressed member, repeated (gzip readers read
// concatenated members as one stream).
func gzipBomb(t *testing.T, members int) []byte {
	t.Helper()
	var m bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&m, gzip.BestCompression)
	_, err := io.Copy(zw, io.LimitReader(zeroReader{}, 16<<20))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return bytes.Repeat(m.Bytes(), members)
}

// TestGzipBombRPC sends gzip bombs to a server with the default 4 MiB
// receive limit: one that inflates to 10 GiB (about 10 MiB on the wire:
// refused from its length prefix) and one that inflates to 3.5 GiB but is
// under 4 MiB on the wire (refused while decompressing). Both calls fail
// with RESOURCE_EXHAUSTED and the heap stays under 64 MiB.
func TestGzipBombRPC(t *testing.T) {
	addr := startServer(t)
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := transport.NewClientConn(ctx, nc, transport.ClientConfig{Authority: addr})
	require.NoError(t, err)
	defer func() { c.Close(transport.ErrConnClosed); <-c.Done() }()

	for _, tc := range []struct {
		name    string
		members int
	}{
		{"10GiB", 640},
		{"3.5GiB_under_wire_limit", 224},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bomb := gzipBomb(t, tc.members)
			framed := make([]byte, codec.PrefixLen+len(bomb))
			codec.WritePrefix(framed, true, len(bomb))
			copy(framed[codec.PrefixLen:], bomb)
			bomb = nil

			runtime.GC()
			s, err := c.NewStream(ctx, &transport.CallHdr{Method: "/test.Echo/Unary", SendCompress: "gzip", Data: framed, EndStream: true})
			require.NoError(t, err)
			_, err = s.RecvMsg()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			st := status.Convert(err)
			t.Logf("%d bytes on the wire: %v; heap in use %d MiB", len(framed), st.Err(), ms.HeapInuse>>20)
			assert.Equal(t, codes.ResourceExhausted, st.Code())
			assert.Less(t, ms.HeapInuse, uint64(64<<20), "heap in use after the bomb")
		})
	}
}
