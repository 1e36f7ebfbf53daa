package framer_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/h2rpc/h2rpc/framer"
	"github.com/h2rpc/h2rpc/internal/bufpool"
)

// sink records every Write call made on it.
type sink struct {
	bytes.Buffer
	calls [][]byte // a copy of each call's bytes
	first []*byte  // the address of each call's first byte
	err   error
}

func (s *sink) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	s.calls = append(s.calls, bytes.Clone(p))
	if len(p) > 0 {
		s.first = append(s.first, &p[0])
	}
	return s.Buffer.Write(p)
}

// wroteByReference reports whether one of the Write calls was handed p
// itself rather than a copy.
func (s *sink) wroteByReference(p []byte) bool {
	for i, f := range s.first {
		if f == &p[0] && len(s.calls[i]) == len(p) {
			return true
		}
	}
	return false
}

func TestWriterBatchesSmallFrames(t *testing.T) {
	dst := &sink{}
	w := framer.NewWriter(dst)
	fields := []hpack.HeaderField{{Name: ":status", Value: "200"}, {Name: "content-type", Value: "application/grpc"}}

	require.NoError(t, w.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20}))
	require.NoError(t, w.WriteSettingsAck())
	require.NoError(t, w.WriteWindowUpdate(0, 1000))
	require.NoError(t, w.WriteHeaders(1, false, fields))
	w.WriteData(1, false, []byte("hello"))
	w.WriteData(1, true, nil)
	require.NoError(t, w.WritePing(true, [8]byte{1, 2, 3, 4, 5, 6, 7, 8}))
	require.NoError(t, w.WriteRSTStream(3, http2.ErrCodeCancel))
	require.NoError(t, w.WriteGoAway(5, http2.ErrCodeNo, []byte("bye")))

	assert.Empty(t, dst.calls, "nothing reaches the connection before Flush")
	buffered := w.Buffered()
	require.Positive(t, buffered)
	require.NoError(t, w.Flush())
	require.Len(t, dst.calls, 1, "a batch of small frames is one Write")
	assert.Equal(t, buffered, dst.Len(), "Buffered counts every byte of the batch")
	assert.Zero(t, w.Buffered())

	got := readWire(t, dst.Bytes(), true)
	want := []wireFrame{
		{Type: http2.FrameSettings, Length: 6, Settings: []http2.Setting{{ID: http2.SettingInitialWindowSize, Val: 1 << 20}}},
		{Type: http2.FrameSettings, Flags: http2.FlagSettingsAck},
		{Type: http2.FrameWindowUpdate, Length: 4, Incr: 1000},
		{Type: http2.FrameHeaders, Flags: http2.FlagHeadersEndHeaders, StreamID: 1, Fields: fields},
		{Type: http2.FrameData, StreamID: 1, Length: 5, Data: []byte("hello")},
		{Type: http2.FrameData, Flags: http2.FlagDataEndStream, StreamID: 1, Data: []byte{}},
		{Type: http2.FramePing, Flags: http2.FlagPingAck, Length: 8, Ping: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}},
		{Type: http2.FrameRSTStream, StreamID: 3, Length: 4, Code: http2.ErrCodeCancel},
		{Type: http2.FrameGoAway, Length: 11, LastID: 5, Code: http2.ErrCodeNo, Data: []byte("bye")},
	}
	// The HEADERS length depends on HPACK; compare it separately.
	require.Len(t, got, len(want))
	assert.Positive(t, got[3].Length)
	got[3].Length = 0
	assert.Equal(t, want, got)

	// An empty batch writes nothing.
	require.NoError(t, w.Flush())
	assert.Len(t, dst.calls, 1)
}

func TestWriterDataByReference(t *testing.T) {
	tests := []struct {
		name  string
		size  int
		byRef bool
	}{
		{"empty", 0, false},
		{"small", 100, false},
		{"just under the threshold", 2<<10 - 1, false},
		{"at the threshold", 2 << 10, true},
		{"one frame", 16384, true},
		{"large", 100_000, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := &sink{}
			w := framer.NewWriter(dst)
			p := pattern(tt.size, 7)
			orig := bytes.Clone(p)

			require.NoError(t, w.WritePing(false, [8]byte{9}))
			w.WriteData(3, true, p)
			require.NoError(t, w.WriteWindowUpdate(3, 77))
			assert.Equal(t, 17+9+len(p)+13, w.Buffered())

			// A payload kept by reference is read at Flush, a copied one at
			// WriteData: changing it now tells which happened.
			for i := range p {
				p[i] ^= 0xff
			}
			require.NoError(t, w.Flush())
			assert.Zero(t, w.Buffered())

			got := readWire(t, dst.Bytes(), false)
			require.Len(t, got, 3)
			assert.Equal(t, http2.FramePing, got[0].Type)
			assert.Equal(t, http2.FrameData, got[1].Type)
			assert.Equal(t, uint32(3), got[1].StreamID)
			assert.Equal(t, http2.FlagDataEndStream, got[1].Flags)
			assert.Equal(t, uint32(len(p)), got[1].Length)
			assert.Equal(t, http2.FrameWindowUpdate, got[2].Type)
			assert.Equal(t, uint32(77), got[2].Incr)
			if tt.byRef {
				assert.Equal(t, p, got[1].Data, "a large payload is written from the caller's slice")
				assert.True(t, dst.wroteByReference(p), "the caller's slice is handed to the connection as is")
				assert.Len(t, dst.calls, 3, "before, payload, after")
			} else {
				assert.Equal(t, orig, got[1].Data, "a small payload is copied into the batch")
				assert.Len(t, dst.calls, 1)
			}
		})
	}
}

func TestWriterStreamIDHighBitCleared(t *testing.T) {
	dst := &sink{}
	w := framer.NewWriter(dst)
	w.WriteData(1<<31|5, false, []byte("x"))
	require.NoError(t, w.Flush())
	got := readWire(t, dst.Bytes(), false)
	require.Len(t, got, 1)
	assert.Equal(t, uint32(5), got[0].StreamID)
}

// TestWriterLargeBatch mixes many small frames (spilling over several
// batch buffers) with payloads kept by reference, and checks every byte.
func TestWriterLargeBatch(t *testing.T) {
	dst := &sink{}
	w := framer.NewWriter(dst)
	var want [][]byte
	total := 0
	for i := range 400 {
		var p []byte
		switch i % 5 {
		case 0, 1, 2:
			p = pattern(i*3%1000, byte(i))
		case 3:
			p = pattern(2048+i*37, byte(i))
		case 4:
			p = pattern(16384, byte(i))
		}
		require.NoError(t, w.WritePing(false, [8]byte{byte(i)}))
		w.WriteData(uint32(2*i+1), i%2 == 0, p)
		want = append(want, p)
		total += 17 + 9 + len(p)
	}
	assert.Equal(t, total, w.Buffered())
	require.NoError(t, w.Flush())
	require.Equal(t, total, dst.Len())

	got := readWire(t, dst.Bytes(), false)
	require.Len(t, got, 2*len(want))
	for i, p := range want {
		ping, data := got[2*i], got[2*i+1]
		require.Equal(t, http2.FramePing, ping.Type, "frame %d", 2*i)
		assert.Equal(t, byte(i), ping.Ping[0])
		require.Equal(t, http2.FrameData, data.Type, "frame %d", 2*i+1)
		assert.Equal(t, uint32(2*i+1), data.StreamID)
		assert.Equal(t, i%2 == 0, data.Flags.Has(http2.FlagDataEndStream))
		assert.Equal(t, p, data.Data, "payload %d", i)
	}
}

// TestWriterWritevOverTCP sends a batch with payloads kept by reference
// through a real socket, where net.Buffers becomes one writev.
func TestWriterWritevOverTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	type result struct {
		b   []byte
		err error
	}
	got := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- result{err: err}
			return
		}
		defer c.Close()
		b, err := io.ReadAll(c)
		got <- result{b, err}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)

	w := framer.NewWriter(c)
	var payloads [][]byte
	for i := range 20 {
		p := pattern(1000+i*3000, byte(i))
		payloads = append(payloads, p)
		require.NoError(t, w.WriteHeaders(uint32(2*i+1), false, []hpack.HeaderField{{Name: "x-i", Value: strings.Repeat("a", i)}}))
		w.WriteData(uint32(2*i+1), true, p)
	}
	require.NoError(t, w.Flush())
	require.NoError(t, c.Close())
	res := <-got
	require.NoError(t, res.err)

	frames := readWire(t, res.b, true)
	require.Len(t, frames, 2*len(payloads))
	for i, p := range payloads {
		assert.Equal(t, http2.FrameHeaders, frames[2*i].Type)
		assert.Equal(t, []hpack.HeaderField{{Name: "x-i", Value: strings.Repeat("a", i)}}, frames[2*i].Fields)
		assert.Equal(t, p, frames[2*i+1].Data, "payload %d", i)
	}
}

// headerBlockLen returns the HPACK block size of fields for a fresh Writer.
func headerBlockLen(t *testing.T, fields []hpack.HeaderField) int {
	t.Helper()
	dst := &sink{}
	w := framer.NewWriter(dst)
	w.SetMaxFrameSize(1 << 24)
	require.NoError(t, w.WriteHeaders(1, false, fields))
	require.NoError(t, w.Flush())
	return dst.Len() - 9
}

// bigHeader returns one header field whose block is exactly n bytes. The
// value's bytes have long Huffman codes, so HPACK leaves them literal.
func bigHeader(t *testing.T, n int) []hpack.HeaderField {
	t.Helper()
	for v := max(n-20, 0); v <= n; v++ {
		f := []hpack.HeaderField{{Name: "x-big", Value: strings.Repeat("{", v)}}
		if headerBlockLen(t, f) == n {
			return f
		}
	}
	t.Fatalf("no header field encodes to exactly %d bytes", n)
	return nil
}

func TestWriteHeadersContinuation(t *testing.T) {
	tests := []struct {
		name      string
		maxFrame  uint32
		block     int
		endStream bool
		frames    int
	}{
		{"small", 16384, 100, false, 1},
		{"one under max", 16384, 16383, true, 1},
		{"exactly max", 16384, 16384, false, 1},
		{"one over max", 16384, 16385, true, 2},
		{"two frames exactly", 16384, 2 * 16384, false, 2},
		{"three frames", 16384, 2*16384 + 1, true, 3},
		{"many frames", 16384, 100_000, false, 7},
		{"larger max frame", 20000, 45000, true, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fields := bigHeader(t, tt.block)
			dst := &sink{}
			w := framer.NewWriter(dst)
			w.SetMaxFrameSize(tt.maxFrame)
			assert.Equal(t, tt.maxFrame, w.MaxFrameSize())
			require.NoError(t, w.WriteHeaders(7, tt.endStream, fields))
			require.NoError(t, w.WriteSettingsAck()) // something after the block
			require.NoError(t, w.Flush())

			raw := readWire(t, dst.Bytes(), false)
			require.Len(t, raw, tt.frames+1)
			var block []byte
			for i, f := range raw[:tt.frames] {
				last := i == tt.frames-1
				if i == 0 {
					assert.Equal(t, http2.FrameHeaders, f.Type)
					assert.Equal(t, tt.endStream, f.Flags.Has(http2.FlagHeadersEndStream))
				} else {
					assert.Equal(t, http2.FrameContinuation, f.Type, "frame %d", i)
				}
				assert.Equal(t, uint32(7), f.StreamID)
				assert.LessOrEqual(t, f.Length, tt.maxFrame, "frame %d", i)
				if !last {
					assert.Equal(t, tt.maxFrame, f.Length, "all but the last fragment are full")
				}
				assert.Equal(t, last, f.Flags.Has(http2.FlagHeadersEndHeaders), "END_HEADERS on frame %d", i)
				block = append(block, f.Data...)
			}
			assert.Len(t, block, tt.block)
			assert.Equal(t, http2.FrameSettings, raw[tt.frames].Type)

			decoded, err := hpack.NewDecoder(4096, nil).DecodeFull(block)
			require.NoError(t, err)
			assert.Equal(t, fields, decoded)

			merged := readWire(t, dst.Bytes(), true)
			require.Len(t, merged, 2)
			assert.Equal(t, fields, merged[0].Fields)
		})
	}
}

func TestWriterHeaderTableSize(t *testing.T) {
	fields := []hpack.HeaderField{{Name: "x-repeated", Value: "the same value every time"}}
	blockLens := func(w *framer.Writer, dst *sink) []int {
		var lens []int
		for range 2 {
			before := dst.Len()
			require.NoError(t, w.WriteHeaders(1, false, fields))
			require.NoError(t, w.Flush())
			lens = append(lens, dst.Len()-before-9)
		}
		frames := readWire(t, dst.Bytes(), true)
		for _, f := range frames {
			assert.Equal(t, fields, f.Fields, "the peer decodes every block")
		}
		return lens
	}

	dst := &sink{}
	lens := blockLens(framer.NewWriter(dst), dst)
	assert.Less(t, lens[1], lens[0], "by default a repeated field is indexed")

	dst = &sink{}
	w := framer.NewWriter(dst)
	w.SetHeaderTableSize(0)
	lens = blockLens(w, dst)
	assert.GreaterOrEqual(t, lens[1], lens[0]-1, "with no dynamic table nothing is indexed")
}

func TestWriterFlushError(t *testing.T) {
	errBroken := errors.New("broken pipe")
	for _, size := range []int{10, 10_000} {
		dst := &sink{err: errBroken}
		w := framer.NewWriter(dst)
		require.NoError(t, w.WritePing(false, [8]byte{}))
		w.WriteData(1, false, pattern(size, 0))
		err := w.Flush()
		require.ErrorIs(t, err, errBroken, "payload %d", size)
		assert.Contains(t, err.Error(), "framer")
		assert.Zero(t, w.Buffered(), "a failed batch is dropped")

		dst.err = nil
		require.NoError(t, w.WritePing(true, [8]byte{1}))
		require.NoError(t, w.Flush())
		got := readWire(t, dst.Bytes(), false)
		require.Len(t, got, 1, "only the new batch is written")
		assert.Equal(t, [8]byte{1}, got[0].Ping)
	}
}

func TestWriterDiscard(t *testing.T) {
	dst := &sink{}
	w := framer.NewWriter(dst)
	for i := range 100 {
		require.NoError(t, w.WritePing(false, [8]byte{byte(i)}))
		w.WriteData(1, false, pattern(3000, byte(i)))
	}
	w.ReleaseAfterFlush(bufpool.Get(100))
	w.Discard()
	assert.Zero(t, w.Buffered())
	require.NoError(t, w.Flush())
	assert.Empty(t, dst.calls, "a discarded batch is never written")

	w.WriteData(9, true, []byte("after"))
	require.NoError(t, w.Flush())
	got := readWire(t, dst.Bytes(), false)
	require.Len(t, got, 1)
	assert.Equal(t, []byte("after"), got[0].Data)
}

func TestWriterPooledPayload(t *testing.T) {
	dst := &sink{}
	w := framer.NewWriter(dst)
	buf := bufpool.Get(10_000)
	copy(*buf, pattern(10_000, 3))
	w.WriteData(1, false, *buf)
	w.ReleaseAfterFlush(buf)
	w.ReleaseAfterFlush(nil) // ignored
	require.NoError(t, w.Flush())
	got := readWire(t, dst.Bytes(), false)
	require.Len(t, got, 1)
	assert.Equal(t, pattern(10_000, 3), got[0].Data)
}

func TestWriterRaw(t *testing.T) {
	dst := &sink{}
	w := framer.NewWriter(dst)
	w.WriteRaw([]byte(http2.ClientPreface))
	require.NoError(t, w.WriteSettings())
	require.NoError(t, w.Flush())
	require.Len(t, dst.calls, 1)
	b := dst.Bytes()
	require.True(t, bytes.HasPrefix(b, []byte(http2.ClientPreface)))
	got := readWire(t, b[len(http2.ClientPreface):], false)
	require.Len(t, got, 1)
	assert.Equal(t, http2.FrameSettings, got[0].Type)
}

func TestWriterDefaults(t *testing.T) {
	w := framer.NewWriter(io.Discard)
	assert.Equal(t, uint32(16384), w.MaxFrameSize())
	assert.Zero(t, w.Buffered())
	assert.Error(t, w.WriteHeaders(0, false, nil), "HEADERS on stream 0 is refused")
}
