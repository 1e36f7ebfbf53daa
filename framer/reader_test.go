package framer_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/h2rpc/h2rpc/framer"
)

// chunkReader returns at most the next chunk size per Read, cycling.
type chunkReader struct {
	r      io.Reader
	chunks []int
	i      int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.chunks) > 0 {
		n := c.chunks[c.i%len(c.chunks)]
		c.i++
		if len(p) > n {
			p = p[:n]
		}
	}
	return c.r.Read(p)
}

// spyReader records the size and the first byte's address of every Read.
type spyReader struct {
	r     io.Reader
	sizes []int
	first []*byte
}

func (s *spyReader) Read(p []byte) (int, error) {
	s.sizes = append(s.sizes, len(p))
	if len(p) > 0 {
		s.first = append(s.first, &p[0])
	}
	return s.r.Read(p)
}

// readInto reports whether some Read went straight into dst.
func (s *spyReader) readInto(dst []byte) bool {
	for _, f := range s.first {
		for i := range dst {
			if f == &dst[i] {
				return true
			}
		}
	}
	return false
}

// peerFrames writes a mixed sequence of frames as a peer would and returns
// the bytes, with what a reader should find.
func peerFrames(t *testing.T) ([]byte, []wireFrame) {
	t.Helper()
	var buf bytes.Buffer
	fr := http2.NewFramer(&buf, nil)
	var hbuf bytes.Buffer
	enc := hpack.NewEncoder(&hbuf)
	encode := func(fields []hpack.HeaderField) []byte {
		hbuf.Reset()
		for _, f := range fields {
			require.NoError(t, enc.WriteField(f))
		}
		return bytes.Clone(hbuf.Bytes())
	}
	reqFields := []hpack.HeaderField{
		{Name: ":method", Value: "POST"}, {Name: ":scheme", Value: "http"},
		{Name: ":path", Value: "/pkg.Svc/Method"}, {Name: ":authority", Value: "localhost"},
		{Name: "content-type", Value: "application/grpc"}, {Name: "te", Value: "trailers"},
	}
	bigFields := []hpack.HeaderField{{Name: "x-big", Value: strings.Repeat("{", 20000)}}
	small := pattern(300, 1)
	medium := pattern(5000, 2)
	large := pattern(16384, 3)
	padded := pattern(700, 4)
	debug := pattern(9000, 5)

	require.NoError(t, fr.WriteSettings(http2.Setting{ID: http2.SettingMaxFrameSize, Val: 16384}))
	require.NoError(t, fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: encode(reqFields), EndHeaders: true}))
	require.NoError(t, fr.WriteData(1, false, small))
	require.NoError(t, fr.WriteData(1, false, medium))
	require.NoError(t, fr.WriteData(1, false, large))
	require.NoError(t, fr.WriteDataPadded(1, false, padded, make([]byte, 200)))
	require.NoError(t, fr.WriteDataPadded(1, true, nil, make([]byte, 10)))
	block := encode(bigFields)
	require.NoError(t, fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: block[:10000]}))
	require.NoError(t, fr.WriteContinuation(3, false, block[10000:15000]))
	require.NoError(t, fr.WriteContinuation(3, true, block[15000:]))
	require.NoError(t, fr.WritePing(false, [8]byte{8, 7, 6, 5, 4, 3, 2, 1}))
	require.NoError(t, fr.WriteWindowUpdate(0, 12345))
	require.NoError(t, fr.WriteRSTStream(3, http2.ErrCodeCancel))
	require.NoError(t, fr.WriteData(5, true, nil))
	require.NoError(t, fr.WriteGoAway(3, http2.ErrCodeNo, debug))

	want := []wireFrame{
		{Type: http2.FrameSettings, Settings: []http2.Setting{{ID: http2.SettingMaxFrameSize, Val: 16384}}},
		{Type: http2.FrameHeaders, StreamID: 1, Flags: http2.FlagHeadersEndHeaders, Fields: reqFields},
		{Type: http2.FrameData, StreamID: 1, Data: small},
		{Type: http2.FrameData, StreamID: 1, Data: medium},
		{Type: http2.FrameData, StreamID: 1, Data: large},
		{Type: http2.FrameData, StreamID: 1, Flags: http2.FlagDataPadded, Data: padded},
		{Type: http2.FrameData, StreamID: 1, Flags: http2.FlagDataPadded | http2.FlagDataEndStream, Data: []byte{}},
		{Type: http2.FrameHeaders, StreamID: 3, Fields: bigFields},
		{Type: http2.FramePing, Ping: [8]byte{8, 7, 6, 5, 4, 3, 2, 1}},
		{Type: http2.FrameWindowUpdate, Incr: 12345},
		{Type: http2.FrameRSTStream, StreamID: 3, Code: http2.ErrCodeCancel},
		{Type: http2.FrameData, StreamID: 5, Flags: http2.FlagDataEndStream, Data: []byte{}},
		{Type: http2.FrameGoAway, LastID: 3, Code: http2.ErrCodeNo, Data: debug},
	}
	return buf.Bytes(), want
}

// dataMode is how a test reads DATA payloads, as the transport may.
type dataMode int

const (
	readFull dataMode = iota
	readBytes
	discard
)

// blockWire describes a decoded header block like the frame that began it.
func blockWire(fh http2.FrameHeader, blk *framer.HeaderBlock) wireFrame {
	w := wireFrame{Type: http2.FrameHeaders, StreamID: blk.StreamID, Flags: fh.Flags & http2.FlagHeadersEndHeaders}
	if blk.EndStream {
		w.Flags |= http2.FlagHeadersEndStream
	}
	w.Fields = append([]hpack.HeaderField(nil), blk.Fields...)
	return w
}

// readFrames reads every frame from r the way the transport does: DATA
// payloads (padding handled by the caller) through ReadFull, ReadByte or
// Discard, header blocks through ReadHeaderBlock, everything else through
// ReadControlFrame.
func readFrames(t *testing.T, r *framer.Reader, mode dataMode) ([]wireFrame, error) {
	t.Helper()
	var out []wireFrame
	for {
		fh, err := r.ReadFrameHeader()
		if err != nil {
			return out, err
		}
		switch fh.Type {
		case http2.FrameData:
		case http2.FrameHeaders:
			blk, err := r.ReadHeaderBlock(fh)
			if err != nil {
				return out, err
			}
			out = append(out, blockWire(fh, blk))
			continue
		default:
			f, err := r.ReadControlFrame(fh)
			if err != nil {
				return out, err
			}
			w := toWire(f)
			w.Length = 0
			out = append(out, w)
			continue
		}
		n, pad := int(fh.Length), 0
		if fh.Flags.Has(http2.FlagDataPadded) {
			b, err := r.ReadByte()
			if err != nil {
				return out, err
			}
			pad = int(b)
			n -= 1 + pad
			if n < 0 {
				return out, errors.New("padding exceeds payload")
			}
		}
		w := wireFrame{Type: fh.Type, Flags: fh.Flags, StreamID: fh.StreamID, Data: make([]byte, n)}
		switch mode {
		case readFull:
			err = r.ReadFull(w.Data)
		case readBytes:
			for i := range w.Data {
				if w.Data[i], err = r.ReadByte(); err != nil {
					break
				}
			}
		case discard:
			err = r.Discard(n)
			w.Data = nil
		}
		if err == nil {
			err = r.Discard(pad)
		}
		if err != nil {
			return out, err
		}
		out = append(out, w)
	}
}

func TestReaderRoundTrip(t *testing.T) {
	wire, want := peerFrames(t)
	sources := []struct {
		name string
		src  func() io.Reader
	}{
		{"whole", func() io.Reader { return bytes.NewReader(wire) }},
		{"one byte per read", func() io.Reader { return iotest.OneByteReader(bytes.NewReader(wire)) }},
		{"half reads", func() io.Reader { return iotest.HalfReader(bytes.NewReader(wire)) }},
		{"data with EOF", func() io.Reader { return iotest.DataErrReader(bytes.NewReader(wire)) }},
		{"odd chunks", func() io.Reader {
			return &chunkReader{r: bytes.NewReader(wire), chunks: []int{1, 9, 1024, 1023, 1025, 7, 32768, 8192, 3}}
		}},
		// A real socket takes the Reader's socket path (reads that wait
		// for data before taking a buffer).
		{"tcp socket", func() io.Reader { return tcpSource(t, wire, nil) }},
		{"tcp socket, paced chunks", func() io.Reader { return tcpSource(t, wire, []int{1, 9, 1024, 5, 40000, 3, 17}) }},
	}
	modes := []struct {
		name string
		mode dataMode
	}{{"ReadFull", readFull}, {"ReadByte", readBytes}, {"Discard", discard}}
	for _, src := range sources {
		for _, m := range modes {
			t.Run(src.name+"/"+m.name, func(t *testing.T) {
				r := framer.NewReader(src.src(), framer.ReaderConfig{})
				defer r.Release()
				got, err := readFrames(t, r, m.mode)
				assert.ErrorIs(t, err, io.EOF)
				w := want
				if m.mode == discard {
					w = make([]wireFrame, len(want))
					copy(w, want)
					for i := range w {
						if w[i].Type == http2.FrameData {
							w[i].Data = nil
						}
					}
				}
				assert.Equal(t, w, got)
			})
		}
	}
}

func TestReaderBypassesBufferForLargeReads(t *testing.T) {
	payload := pattern(30000, 9)
	wire := pingDataPing(t, payload)

	spy := &spyReader{r: bytes.NewReader(wire)}
	r := framer.NewReader(iotest.HalfReader(spy), framer.ReaderConfig{MaxFrameSize: 32768})
	defer r.Release()

	fh, err := r.ReadFrameHeader()
	require.NoError(t, err)
	_, err = r.ReadControlFrame(fh)
	require.NoError(t, err)
	fh, err = r.ReadFrameHeader()
	require.NoError(t, err)
	require.Equal(t, uint32(len(payload)), fh.Length)
	dst := make([]byte, fh.Length)
	require.NoError(t, r.ReadFull(dst))
	assert.Equal(t, payload, dst)
	assert.True(t, spy.readInto(dst), "a large read goes straight into the caller's slice")

	fh, err = r.ReadFrameHeader()
	require.NoError(t, err)
	f, err := r.ReadControlFrame(fh)
	require.NoError(t, err)
	assert.Equal(t, [8]byte{2}, f.(*http2.PingFrame).Data)
}

func TestReaderLargeControlFrame(t *testing.T) {
	// A GOAWAY whose payload is read by the http2 Framer through Read in
	// pieces larger than the bypass size.
	var buf bytes.Buffer
	fr := http2.NewFramer(&buf, nil)
	debug := pattern(16000, 4)
	require.NoError(t, fr.WriteGoAway(7, http2.ErrCodeEnhanceYourCalm, debug))
	require.NoError(t, fr.WriteSettingsAck())

	for _, src := range []io.Reader{bytes.NewReader(buf.Bytes()), iotest.HalfReader(bytes.NewReader(buf.Bytes()))} {
		r := framer.NewReader(src, framer.ReaderConfig{})
		got, err := readFrames(t, r, readFull)
		r.Release()
		assert.ErrorIs(t, err, io.EOF)
		require.Len(t, got, 2)
		assert.Equal(t, debug, got[0].Data)
		assert.Equal(t, http2.ErrCodeEnhanceYourCalm, got[0].Code)
		assert.Equal(t, http2.FlagSettingsAck, got[1].Flags)
	}
}

func TestReaderBufferGrowsAndShrinks(t *testing.T) {
	// 600 PINGs (10200 bytes): the first read fills the small buffer, so
	// the next one uses the large one; that one comes back short, so once
	// it is drained the reader returns to the small buffer.
	var buf bytes.Buffer
	fr := http2.NewFramer(&buf, nil)
	for i := range 600 {
		require.NoError(t, fr.WritePing(false, [8]byte{byte(i)}))
	}
	spy := &spyReader{r: bytes.NewReader(buf.Bytes())}
	r := framer.NewReader(spy, framer.ReaderConfig{})
	defer r.Release()
	got, err := readFrames(t, r, readFull)
	require.ErrorIs(t, err, io.EOF)
	require.Len(t, got, 600)
	for i, f := range got {
		require.Equal(t, byte(i), f.Ping[0])
	}
	assert.Equal(t, []int{512, 64 << 10, 512}, spy.sizes)
}

func TestReaderPaddedData(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		pad  int
	}{
		{"no padding bytes", []byte("abc"), 0},
		{"some", []byte("abc"), 5},
		{"only padding", nil, 255},
		{"large data", pattern(12000, 1), 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			fr := http2.NewFramer(&buf, nil)
			require.NoError(t, fr.WriteDataPadded(1, false, tt.data, make([]byte, tt.pad)))
			require.NoError(t, fr.WritePing(false, [8]byte{42}))

			r := framer.NewReader(bytes.NewReader(buf.Bytes()), framer.ReaderConfig{})
			defer r.Release()
			fh, err := r.ReadFrameHeader()
			require.NoError(t, err)
			require.True(t, fh.Flags.Has(http2.FlagDataPadded))
			assert.Equal(t, uint32(1+len(tt.data)+tt.pad), fh.Length)
			b, err := r.ReadByte()
			require.NoError(t, err)
			assert.Equal(t, tt.pad, int(b))
			data := make([]byte, int(fh.Length)-1-int(b))
			require.NoError(t, r.ReadFull(data))
			assert.Equal(t, append([]byte{}, tt.data...), data)
			require.NoError(t, r.Discard(int(b)))

			fh, err = r.ReadFrameHeader()
			require.NoError(t, err, "the next frame starts right after the padding")
			f, err := r.ReadControlFrame(fh)
			require.NoError(t, err)
			assert.Equal(t, [8]byte{42}, f.(*http2.PingFrame).Data)
		})
	}
}

func TestReaderFrameTooLarge(t *testing.T) {
	tests := []struct {
		name    string
		max     uint32
		length  int
		tooBig  bool
		control bool
	}{
		{"default limit, at it", 0, 16384, false, false},
		{"default limit, over", 0, 16385, true, false},
		{"raised limit", 1 << 20, 100_000, false, false},
		{"raised limit, over", 1 << 20, 1<<20 + 1, true, false},
		{"control frame over", 0, 16385, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			fr := http2.NewFramer(&buf, nil)
			if tt.control {
				require.NoError(t, fr.WriteGoAway(0, 0, make([]byte, tt.length-8)))
			} else {
				require.NoError(t, fr.WriteData(1, false, make([]byte, tt.length)))
			}
			r := framer.NewReader(bytes.NewReader(buf.Bytes()), framer.ReaderConfig{MaxFrameSize: tt.max})
			defer r.Release()
			fh, err := r.ReadFrameHeader()
			if tt.tooBig {
				assert.ErrorIs(t, err, http2.ErrFrameTooLarge)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, uint32(tt.length), fh.Length)
			require.NoError(t, r.Discard(int(fh.Length)))
		})
	}
}

func TestReaderContinuationOrder(t *testing.T) {
	var hbuf bytes.Buffer
	enc := hpack.NewEncoder(&hbuf)
	require.NoError(t, enc.WriteField(hpack.HeaderField{Name: "x-a", Value: strings.Repeat("v", 100)}))
	block := hbuf.Bytes()

	tests := []struct {
		name  string
		write func(fr *http2.Framer) error
		// atHeader: the error comes from ReadFrameHeader of the first
		// frame rather than from ReadHeaderBlock of the HEADERS.
		atHeader bool
	}{
		{"CONTINUATION without HEADERS", func(fr *http2.Framer) error {
			return fr.WriteContinuation(1, true, block)
		}, true},
		{"PING inside a header block", func(fr *http2.Framer) error {
			if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block[:10]}); err != nil {
				return err
			}
			return fr.WritePing(false, [8]byte{})
		}, false},
		{"DATA inside a header block", func(fr *http2.Framer) error {
			if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block[:10]}); err != nil {
				return err
			}
			return fr.WriteData(1, false, []byte("x"))
		}, false},
		{"CONTINUATION for another stream", func(fr *http2.Framer) error {
			if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block[:10]}); err != nil {
				return err
			}
			return fr.WriteContinuation(3, true, block[10:])
		}, false},
		{"second HEADERS inside a header block", func(fr *http2.Framer) error {
			if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block[:10]}); err != nil {
				return err
			}
			return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: block, EndHeaders: true})
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, tt.write(http2.NewFramer(&buf, nil)))
			r := framer.NewReader(bytes.NewReader(buf.Bytes()), framer.ReaderConfig{})
			defer r.Release()
			fh, err := r.ReadFrameHeader()
			if !tt.atHeader {
				require.NoError(t, err)
				require.Equal(t, http2.FrameHeaders, fh.Type)
				_, err = r.ReadHeaderBlock(fh)
			}
			var ce http2.ConnectionError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, http2.ErrCodeProtocol, http2.ErrCode(ce))
			assert.Error(t, r.ErrorDetail(), "the reason is kept for GOAWAY")
		})
	}

	// In order, the fragments merge.
	var buf bytes.Buffer
	fr := http2.NewFramer(&buf, nil)
	require.NoError(t, fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block[:10], EndStream: true}))
	require.NoError(t, fr.WriteContinuation(1, false, block[10:50]))
	require.NoError(t, fr.WriteContinuation(1, true, block[50:]))
	r := framer.NewReader(bytes.NewReader(buf.Bytes()), framer.ReaderConfig{})
	defer r.Release()
	fh, err := r.ReadFrameHeader()
	require.NoError(t, err)
	blk, err := r.ReadHeaderBlock(fh)
	require.NoError(t, err)
	assert.Equal(t, uint32(1), blk.StreamID)
	assert.True(t, blk.EndStream)
	assert.False(t, blk.Truncated)
	assert.Equal(t, []hpack.HeaderField{{Name: "x-a", Value: strings.Repeat("v", 100)}}, blk.Fields)
	_, err = r.ReadFrameHeader()
	assert.ErrorIs(t, err, io.EOF)
}

// hpackBlock encodes fields with enc (which keeps its dynamic table
// between calls, as a peer's does).
func hpackBlock(t *testing.T, enc *hpack.Encoder, buf *bytes.Buffer, fields ...hpack.HeaderField) []byte {
	t.Helper()
	buf.Reset()
	for _, f := range fields {
		require.NoError(t, enc.WriteField(f))
	}
	return bytes.Clone(buf.Bytes())
}

func TestReadHeaderBlockValidation(t *testing.T) {
	ok := []hpack.HeaderField{{Name: ":status", Value: "200"}, {Name: "grpc-status", Value: "0"}}
	tests := []struct {
		name   string
		fields []hpack.HeaderField
		bad    bool // a stream error: the block is refused but decoded
	}{
		{"response", ok, false},
		{"request", []hpack.HeaderField{{Name: ":method", Value: "POST"}, {Name: ":scheme", Value: "http"}, {Name: ":path", Value: "/a/b"}, {Name: ":authority", Value: "h"}, {Name: "te", Value: "trailers"}}, false},
		{"trailers without pseudo-headers", []hpack.HeaderField{{Name: "grpc-status", Value: "0"}, {Name: "grpc-message", Value: "ok"}}, false},
		{"unknown pseudo-header", []hpack.HeaderField{{Name: ":bogus", Value: "x"}}, true},
		{"duplicate pseudo-header", []hpack.HeaderField{{Name: ":status", Value: "200"}, {Name: ":status", Value: "204"}}, true},
		{"request and response mixed", []hpack.HeaderField{{Name: ":status", Value: "200"}, {Name: ":path", Value: "/"}}, true},
		{"pseudo after regular", []hpack.HeaderField{{Name: "x-a", Value: "b"}, {Name: ":status", Value: "200"}}, true},
		{"upper-case name", []hpack.HeaderField{{Name: "X-Upper", Value: "b"}}, true},
		{"name with a space", []hpack.HeaderField{{Name: "x a", Value: "b"}}, true},
		{"empty name", []hpack.HeaderField{{Name: "", Value: "b"}}, true},
		{"value with a newline", []hpack.HeaderField{{Name: "x-a", Value: "b\nc"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hbuf bytes.Buffer
			enc := hpack.NewEncoder(&hbuf)
			var buf bytes.Buffer
			fr := http2.NewFramer(&buf, nil)
			require.NoError(t, fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hpackBlock(t, enc, &hbuf, tt.fields...), EndHeaders: true}))
			// A second block leans on the dynamic table the first filled.
			require.NoError(t, fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: hpackBlock(t, enc, &hbuf, append(tt.fields[:len(tt.fields):len(tt.fields)], ok...)...), EndHeaders: true}))

			r := framer.NewReader(bytes.NewReader(buf.Bytes()), framer.ReaderConfig{})
			defer r.Release()
			fh, err := r.ReadFrameHeader()
			require.NoError(t, err)
			blk, err := r.ReadHeaderBlock(fh)
			if !tt.bad {
				require.NoError(t, err)
				assert.Equal(t, tt.fields, blk.Fields)
				return
			}
			var se http2.StreamError
			require.ErrorAs(t, err, &se, "got %v", err)
			assert.Equal(t, uint32(1), se.StreamID)
			assert.Equal(t, http2.ErrCodeProtocol, se.Code)
			var ce http2.ConnectionError
			assert.False(t, errors.As(err, &ce), "a bad field costs the stream, not the connection")

			// The connection goes on, with HPACK state in step.
			fh, err = r.ReadFrameHeader()
			require.NoError(t, err)
			blk, err = r.ReadHeaderBlock(fh)
			require.ErrorAs(t, err, &se, "the same fields are refused again")
			assert.Equal(t, uint32(3), se.StreamID)
			require.NotNil(t, blk)
			assert.Equal(t, uint32(3), blk.StreamID)
		})
	}
}

func TestReadHeaderBlockFraming(t *testing.T) {
	var hbuf bytes.Buffer
	enc := hpack.NewEncoder(&hbuf)
	fields := []hpack.HeaderField{{Name: ":status", Value: "200"}, {Name: "x-k", Value: "v"}}
	block := hpackBlock(t, enc, &hbuf, fields...)
	prio := func(dep uint32, payload []byte) []byte {
		b := []byte{byte(dep >> 24), byte(dep >> 16), byte(dep >> 8), byte(dep), 15}
		return append(b, payload...)
	}
	pad := func(n int, payload []byte) []byte {
		b := append([]byte{byte(n)}, payload...)
		return append(b, make([]byte, n)...)
	}

	tests := []struct {
		name     string
		streamID uint32
		flags    http2.Flags
		payload  []byte
		stream   bool          // want a stream error
		conn     http2.ErrCode // want a connection error with this code (if not 0xff)
	}{
		{"plain", 1, http2.FlagHeadersEndHeaders, block, false, 0xff},
		{"padded", 1, http2.FlagHeadersEndHeaders | http2.FlagHeadersPadded, pad(7, block), false, 0xff},
		{"padded, zero padding", 1, http2.FlagHeadersEndHeaders | http2.FlagHeadersPadded, pad(0, block), false, 0xff},
		{"priority", 1, http2.FlagHeadersEndHeaders | http2.FlagHeadersPriority, prio(3, block), false, 0xff},
		{"padded and priority", 1, http2.FlagHeadersEndHeaders | http2.FlagHeadersPadded | http2.FlagHeadersPriority, pad(3, prio(1<<31|5, block)), false, 0xff},
		{"depends on itself", 1, http2.FlagHeadersEndHeaders | http2.FlagHeadersPriority, prio(1, block), true, 0xff},
		{"exclusive dependency on itself", 5, http2.FlagHeadersEndHeaders | http2.FlagHeadersPriority, prio(1<<31|5, block), true, 0xff},
		{"stream 0", 0, http2.FlagHeadersEndHeaders, block, false, http2.ErrCodeProtocol},
		{"padding past the payload", 1, http2.FlagHeadersEndHeaders | http2.FlagHeadersPadded, append([]byte{200}, block...), false, http2.ErrCodeProtocol},
		{"padded but empty", 1, http2.FlagHeadersEndHeaders | http2.FlagHeadersPadded, nil, false, http2.ErrCodeProtocol},
		{"priority too short", 1, http2.FlagHeadersEndHeaders | http2.FlagHeadersPriority, []byte{0, 0, 0}, false, http2.ErrCodeFrameSize},
		{"HPACK garbage", 1, http2.FlagHeadersEndHeaders, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, false, http2.ErrCodeCompression},
		{"block cut inside a field", 1, http2.FlagHeadersEndHeaders, block[:len(block)-1], false, http2.ErrCodeCompression},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			fr := http2.NewFramer(&buf, nil)
			fr.AllowIllegalWrites = true
			require.NoError(t, fr.WriteRawFrame(http2.FrameHeaders, tt.flags, tt.streamID, tt.payload))
			r := framer.NewReader(bytes.NewReader(buf.Bytes()), framer.ReaderConfig{})
			defer r.Release()
			fh, err := r.ReadFrameHeader()
			require.NoError(t, err)
			blk, err := r.ReadHeaderBlock(fh)
			var ce http2.ConnectionError
			var se http2.StreamError
			switch {
			case tt.conn != 0xff:
				require.ErrorAs(t, err, &ce, "got %v", err)
				assert.Equal(t, tt.conn, http2.ErrCode(ce))
				assert.Contains(t, err.Error(), "framer:")
			case tt.stream:
				require.ErrorAs(t, err, &se, "got %v", err)
				assert.Equal(t, tt.streamID, se.StreamID)
				assert.Equal(t, fields, blk.Fields, "the block is decoded all the same")
			default:
				require.NoError(t, err)
				assert.Equal(t, fields, blk.Fields)
				assert.Equal(t, tt.streamID, blk.StreamID)
			}
		})
	}
}

func TestReaderMaxHeaderListSize(t *testing.T) {
	fields := []hpack.HeaderField{{Name: "x-a", Value: strings.Repeat("a", 200)}, {Name: "x-b", Value: "b"}}
	var hbuf bytes.Buffer
	enc := hpack.NewEncoder(&hbuf)
	var buf bytes.Buffer
	require.NoError(t, http2.NewFramer(&buf, nil).WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hpackBlock(t, enc, &hbuf, fields...), EndHeaders: true}))

	for _, tt := range []struct {
		limit     uint32
		truncated bool
		kept      int
	}{{0, false, 2}, {1000, false, 2}, {3 + 200 + 32 + 3 + 1 + 32, false, 2}, {3 + 200 + 32, true, 1}, {200, true, 0}} {
		r := framer.NewReader(bytes.NewReader(buf.Bytes()), framer.ReaderConfig{MaxHeaderListSize: tt.limit})
		fh, err := r.ReadFrameHeader()
		require.NoError(t, err)
		blk, err := r.ReadHeaderBlock(fh)
		require.NoError(t, err, "limit %d", tt.limit)
		assert.Equal(t, tt.truncated, blk.Truncated, "limit %d", tt.limit)
		assert.Len(t, blk.Fields, tt.kept, "limit %d", tt.limit)
		r.Release()
	}
}

func TestReaderHeaderBlockFarOverLimit(t *testing.T) {
	// A block many times the limit is refused without decoding it all.
	var hbuf bytes.Buffer
	enc := hpack.NewEncoder(&hbuf)
	var fields []hpack.HeaderField
	for i := range 400 {
		fields = append(fields, hpack.HeaderField{Name: "x-k", Value: fmt.Sprintf("%d%s", i, strings.Repeat("{", 50))})
	}
	block := hpackBlock(t, enc, &hbuf, fields...)
	var buf bytes.Buffer
	fr := http2.NewFramer(&buf, nil)
	require.NoError(t, fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block[:8000]}))
	require.NoError(t, fr.WriteContinuation(1, true, block[8000:]))

	r := framer.NewReader(bytes.NewReader(buf.Bytes()), framer.ReaderConfig{MaxHeaderListSize: 1000})
	defer r.Release()
	fh, err := r.ReadFrameHeader()
	require.NoError(t, err)
	_, err = r.ReadHeaderBlock(fh)
	var ce http2.ConnectionError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, http2.ErrCodeProtocol, http2.ErrCode(ce))
}

func TestReaderHeaderBlocksKeepHPACKState(t *testing.T) {
	// Many blocks through one Reader, each indexing into the table the
	// previous ones filled, spread over CONTINUATION frames.
	var hbuf bytes.Buffer
	enc := hpack.NewEncoder(&hbuf)
	var buf bytes.Buffer
	fr := http2.NewFramer(&buf, nil)
	var want [][]hpack.HeaderField
	for i := range 50 {
		fields := []hpack.HeaderField{
			{Name: ":status", Value: "200"},
			{Name: "x-same", Value: "repeated value"},
			{Name: "x-i", Value: strings.Repeat("z", i*40)},
		}
		want = append(want, fields)
		block := hpackBlock(t, enc, &hbuf, fields...)
		id := uint32(2*i + 1)
		if len(block) < 20 {
			require.NoError(t, fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndHeaders: true, EndStream: i%2 == 0}))
			continue
		}
		require.NoError(t, fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block[:7], EndStream: i%2 == 0}))
		require.NoError(t, fr.WriteContinuation(id, false, block[7:len(block)/2]))
		require.NoError(t, fr.WriteContinuation(id, true, block[len(block)/2:]))
	}
	r := framer.NewReader(iotest.HalfReader(bytes.NewReader(buf.Bytes())), framer.ReaderConfig{})
	defer r.Release()
	for i, fields := range want {
		fh, err := r.ReadFrameHeader()
		require.NoError(t, err)
		blk, err := r.ReadHeaderBlock(fh)
		require.NoError(t, err, "block %d", i)
		assert.Equal(t, uint32(2*i+1), blk.StreamID)
		assert.Equal(t, i%2 == 0, blk.EndStream)
		assert.Equal(t, fields, blk.Fields, "block %d", i)
	}
}

func TestReaderHeaderTableSize(t *testing.T) {
	var hbuf bytes.Buffer
	enc := hpack.NewEncoder(&hbuf)
	enc.SetMaxDynamicTableSize(4096) // announces a 4096-byte table
	require.NoError(t, enc.WriteField(hpack.HeaderField{Name: "x-a", Value: "b"}))
	var buf bytes.Buffer
	require.NoError(t, http2.NewFramer(&buf, nil).WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hbuf.Bytes(), EndHeaders: true}))

	for _, tt := range []struct {
		allowed uint32
		ok      bool
	}{{4096, true}, {100, false}} {
		r := framer.NewReader(bytes.NewReader(buf.Bytes()), framer.ReaderConfig{})
		r.SetMaxHeaderTableSize(tt.allowed)
		fh, err := r.ReadFrameHeader()
		require.NoError(t, err)
		_, err = r.ReadHeaderBlock(fh)
		if tt.ok {
			assert.NoError(t, err, "allowed %d", tt.allowed)
		} else {
			var ce http2.ConnectionError
			require.ErrorAs(t, err, &ce, "allowed %d", tt.allowed)
			assert.Equal(t, http2.ErrCodeCompression, http2.ErrCode(ce))
		}
		r.Release()
	}
}

func TestReaderTruncatedInput(t *testing.T) {
	var buf bytes.Buffer
	fr := http2.NewFramer(&buf, nil)
	require.NoError(t, fr.WriteData(1, false, pattern(20000, 1)))
	wire := buf.Bytes()
	cfg := framer.ReaderConfig{MaxFrameSize: 1 << 20}

	t.Run("empty", func(t *testing.T) {
		r := framer.NewReader(bytes.NewReader(nil), cfg)
		_, err := r.ReadFrameHeader()
		assert.ErrorIs(t, err, io.EOF)
	})
	t.Run("half a header", func(t *testing.T) {
		r := framer.NewReader(bytes.NewReader(wire[:4]), cfg)
		_, err := r.ReadFrameHeader()
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	})
	payloadReads := []struct {
		name string
		read func(r *framer.Reader, n int) error
	}{
		{"ReadFull small", func(r *framer.Reader, _ int) error { return r.ReadFull(make([]byte, 100)) }},
		{"ReadFull large", func(r *framer.Reader, n int) error { return r.ReadFull(make([]byte, n)) }},
		{"Discard", func(r *framer.Reader, n int) error { return r.Discard(n) }},
		{"ReadByte", func(r *framer.Reader, n int) error {
			for range n {
				if _, err := r.ReadByte(); err != nil {
					return err
				}
			}
			return nil
		}},
	}
	for _, pr := range payloadReads {
		t.Run("payload cut short/"+pr.name, func(t *testing.T) {
			for _, have := range []int{0, 50, 10000} {
				if pr.name == "ReadFull small" && have >= 100 {
					continue // enough bytes for this read
				}
				r := framer.NewReader(bytes.NewReader(wire[:9+have]), cfg)
				fh, err := r.ReadFrameHeader()
				require.NoError(t, err)
				err = pr.read(r, int(fh.Length))
				assert.ErrorIs(t, err, io.ErrUnexpectedEOF, "have %d", have)
				r.Release()
			}
		})
	}
}

// errReader fails every Read after its data.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if errors.Is(err, io.EOF) {
		return n, e.err
	}
	return n, err
}

func TestReaderPassesSourceErrors(t *testing.T) {
	errReset := errors.New("connection reset")
	var buf bytes.Buffer
	require.NoError(t, http2.NewFramer(&buf, nil).WriteData(1, false, pattern(30000, 1)))
	wire := buf.Bytes()[:9+5000]

	for _, size := range []int{10, 30000} {
		r := framer.NewReader(&errReader{r: bytes.NewReader(wire), err: errReset}, framer.ReaderConfig{MaxFrameSize: 1 << 20})
		_, err := r.ReadFrameHeader()
		require.NoError(t, err)
		require.NoError(t, r.Discard(4000))
		err = r.ReadFull(make([]byte, size))
		if size <= 1000 {
			assert.NoError(t, err, "the buffered bytes suffice")
		} else {
			assert.ErrorIs(t, err, errReset)
		}
		r.Release()
	}
}

// TestReaderTruncatedPayloadErrorContext: a payload cut short must be
// reported as the framer's error whichever path the read took.
func TestReaderTruncatedPayloadErrorContext(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, http2.NewFramer(&buf, nil).WriteData(1, false, pattern(20000, 1)))
	wire := buf.Bytes()
	for _, have := range []int{0, 50, 10000} {
		r := framer.NewReader(bytes.NewReader(wire[:9+have]), framer.ReaderConfig{MaxFrameSize: 1 << 20})
		fh, err := r.ReadFrameHeader()
		require.NoError(t, err)
		err = r.ReadFull(make([]byte, fh.Length))
		require.ErrorIs(t, err, io.ErrUnexpectedEOF)
		assert.Contains(t, err.Error(), "framer: reading frame payload", "have %d of %d bytes", have, fh.Length)
		r.Release()
	}
}

// tcpSource returns the reading end of a loopback TCP connection whose
// other end writes wire in the given chunk sizes (cycling; all at once if
// none), pausing between them, and then closes.
func tcpSource(t *testing.T, wire []byte, chunks []int) *net.TCPConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer lis.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := net.Dial("tcp", lis.Addr().String())
		if err != nil {
			return
		}
		defer c.Close()
		rest := wire
		for i := 0; len(rest) > 0; i++ {
			n := len(rest)
			if len(chunks) > 0 {
				n = min(n, chunks[i%len(chunks)])
			}
			if _, err := c.Write(rest[:n]); err != nil {
				return
			}
			rest = rest[n:]
			time.Sleep(time.Millisecond)
		}
	}()
	c, err := lis.Accept()
	require.NoError(t, err)
	t.Cleanup(func() {
		c.Close()
		<-done
	})
	return c.(*net.TCPConn)
}

func TestReaderSocketReadsAroundLargePayload(t *testing.T) {
	// A large DATA payload whose start arrived with its header: the rest
	// is read straight into the caller's slice, and the PING behind it
	// must come out intact whether it arrived with the payload (readv
	// puts it in the buffer) or later.
	payload := pattern(30000, 9)
	wire := pingDataPing(t, payload)
	head := 17 + 9 + 100 // first PING, DATA header, 100 payload bytes
	for _, chunks := range [][]int{
		{head, len(wire)},              // the rest and the PING together
		{head, 20000, 5000, len(wire)}, // the rest in pieces, the PING apart
	} {
		r := framer.NewReader(tcpSource(t, wire, chunks), framer.ReaderConfig{MaxFrameSize: 32768})
		got, err := readFrames(t, r, readFull)
		r.Release()
		assert.ErrorIs(t, err, io.EOF)
		require.Len(t, got, 3)
		assert.Equal(t, payload, got[1].Data)
		assert.Equal(t, [8]byte{2}, got[2].Ping)
	}
}

// pingDataPing lays out PING 1, a DATA frame carrying payload on stream 1,
// and PING 2.
func pingDataPing(t *testing.T, payload []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	fr := http2.NewFramer(&buf, nil)
	require.NoError(t, fr.WritePing(false, [8]byte{1}))
	require.NoError(t, fr.WriteData(1, false, payload))
	require.NoError(t, fr.WritePing(false, [8]byte{2}))
	return buf.Bytes()
}

func TestReaderEmptyContinuationFlood(t *testing.T) {
	var hbuf bytes.Buffer
	enc := hpack.NewEncoder(&hbuf)
	fields := []hpack.HeaderField{{Name: ":status", Value: "200"}}
	block := hpackBlock(t, enc, &hbuf, fields...)
	tests := []struct {
		empty int  // empty CONTINUATION frames between HEADERS and the last one
		flood bool // want ENHANCE_YOUR_CALM
	}{
		{0, false},
		{1, false},
		{16, false},
		{17, true},
		{1000, true},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		fr := http2.NewFramer(&buf, nil)
		require.NoError(t, fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block[:1]}))
		for range tt.empty {
			require.NoError(t, fr.WriteContinuation(1, false, nil))
		}
		require.NoError(t, fr.WriteContinuation(1, true, block[1:]))

		r := framer.NewReader(bytes.NewReader(buf.Bytes()), framer.ReaderConfig{})
		fh, err := r.ReadFrameHeader()
		require.NoError(t, err)
		blk, err := r.ReadHeaderBlock(fh)
		if tt.flood {
			var ce http2.ConnectionError
			require.ErrorAs(t, err, &ce, "%d empty frames", tt.empty)
			assert.Equal(t, http2.ErrCodeEnhanceYourCalm, http2.ErrCode(ce))
		} else {
			require.NoError(t, err, "%d empty frames", tt.empty)
			assert.Equal(t, fields, blk.Fields)
		}
		r.Release()
	}
}
