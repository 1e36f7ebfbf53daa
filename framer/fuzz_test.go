package framer_test

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/h2rpc/h2rpc/framer"
)

// maxFuzzFrames bounds the work per input.
const maxFuzzFrames = 1000

// frameLog reads frames until an error and describes what it read, one
// line per frame, as the transport reads them. DATA payloads are skipped
// with Discard, or read with ReadFull when read is set (padding handled as
// the transport does); a stream error in a header block is logged and
// reading goes on.
func frameLog(r *framer.Reader, read bool) ([]string, error) {
	var log []string
	for range maxFuzzFrames {
		fh, err := r.ReadFrameHeader()
		if err != nil {
			return log, err
		}
		line := fmt.Sprintf("%v flags=%#x stream=%d len=%d", fh.Type, fh.Flags, fh.StreamID, fh.Length)
		switch fh.Type {
		case http2.FrameData:
		case http2.FrameHeaders:
			blk, err := r.ReadHeaderBlock(fh)
			var se http2.StreamError
			if err != nil && !errors.As(err, &se) {
				return log, err
			}
			line += fmt.Sprintf(" end=%v truncated=%v fields=%q", blk.EndStream, blk.Truncated, blk.Fields)
			if err != nil {
				// The stream fails; the connection goes on.
				line += " stream error: " + err.Error()
			}
			log = append(log, line)
			continue
		default:
			f, err := r.ReadControlFrame(fh)
			if err != nil {
				return log, err
			}
			log = append(log, line+" "+describe(f))
			continue
		}
		n := int(fh.Length)
		if fh.Flags.Has(http2.FlagDataPadded) && n > 0 {
			b, err := r.ReadByte()
			if err != nil {
				return log, err
			}
			n--
			line += fmt.Sprintf(" pad=%d", b)
		}
		if read {
			p := make([]byte, n)
			if err := r.ReadFull(p); err != nil {
				return log, err
			}
			line += fmt.Sprintf(" crc=%08x", crc32.ChecksumIEEE(p))
		} else if err := r.Discard(n); err != nil {
			return log, err
		}
		log = append(log, line)
	}
	return log, nil
}

func describe(f http2.Frame) string {
	switch f := f.(type) {
	case *http2.SettingsFrame:
		var s []http2.Setting
		f.ForeachSetting(func(x http2.Setting) error { s = append(s, x); return nil })
		return fmt.Sprint(s)
	case *http2.PingFrame:
		return fmt.Sprint(f.Data)
	case *http2.WindowUpdateFrame:
		return fmt.Sprint(f.Increment)
	case *http2.RSTStreamFrame:
		return fmt.Sprint(f.ErrCode)
	case *http2.GoAwayFrame:
		return fmt.Sprintf("%d %v %q", f.LastStreamID, f.ErrCode, f.DebugData())
	case *http2.PriorityFrame:
		return fmt.Sprintf("%+v", f.PriorityParam)
	case *http2.PushPromiseFrame:
		return fmt.Sprintf("%d %q", f.PromiseID, f.HeaderBlockFragment())
	case *http2.UnknownFrame:
		return fmt.Sprintf("%q", f.Payload())
	}
	return fmt.Sprintf("%T", f)
}

// errClass names an error for comparison across reads of the same bytes.
// A payload cut short may be reported with or without the framer's
// context depending on how much was buffered (see
// TestReaderTruncatedPayloadErrorContext), so only its kind is compared.
func errClass(err error) string {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return io.ErrUnexpectedEOF.Error()
	}
	return fmt.Sprint(err)
}

// seedWire returns a valid sequence of frames for the corpus.
func seedWire(f *testing.F) []byte {
	var buf bytes.Buffer
	fr := http2.NewFramer(&buf, nil)
	var hbuf bytes.Buffer
	enc := hpack.NewEncoder(&hbuf)
	enc.WriteField(hpack.HeaderField{Name: ":path", Value: "/a.B/C"})
	enc.WriteField(hpack.HeaderField{Name: "x-k", Value: "v"})
	block := hbuf.Bytes()
	must := func(err error) {
		if err != nil {
			f.Fatal(err)
		}
	}
	must(fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 100}))
	must(fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block[:3]}))
	must(fr.WriteContinuation(1, true, block[3:]))
	must(fr.WriteData(1, false, []byte("\x00\x00\x00\x00\x03abc")))
	must(fr.WriteDataPadded(1, true, []byte("xyz"), make([]byte, 4)))
	must(fr.WritePing(true, [8]byte{1}))
	must(fr.WriteWindowUpdate(1, 10))
	must(fr.WriteRSTStream(1, http2.ErrCodeCancel))
	must(fr.WritePriority(3, http2.PriorityParam{StreamDep: 1, Weight: 10}))
	must(fr.WriteRawFrame(0x20, 0, 0, []byte("unknown")))
	must(fr.WriteGoAway(1, http2.ErrCodeNo, []byte("bye")))
	return buf.Bytes()
}

// FuzzReader reads arbitrary bytes as frames until the first error. It
// must never panic, and reading through the buffer must not change what
// is read: the same frames and the same error whether the source hands
// out everything at once or in the fuzzed chunk sizes, and whether DATA
// payloads are read or discarded.
func FuzzReader(f *testing.F) {
	wire := seedWire(f)
	f.Add(wire, []byte{})
	f.Add(wire, []byte{1, 9, 200})
	f.Add(wire[:len(wire)-3], []byte{7})
	f.Add([]byte(http2.ClientPreface), []byte{})
	f.Add([]byte{0, 0x40, 0, 0, 0, 0, 0, 0, 1}, []byte{})                                  // DATA over the size limit
	f.Add([]byte{0, 0, 1, 9, 4, 0, 0, 0, 1, 0}, []byte{})                                  // lone CONTINUATION
	f.Add([]byte{0, 0, 1, 0, 8, 0, 0, 0, 1, 200}, []byte{})                                // pad length past the payload
	f.Add(append(bytes.Repeat([]byte{0, 0, 0, 0, 0, 0, 0, 0, 1}, 200), 0), []byte{3, 200}) // many empty DATA

	f.Fuzz(func(t *testing.T, data, cuts []byte) {
		cfg := framer.ReaderConfig{MaxHeaderListSize: 1 << 16}

		r := framer.NewReader(bytes.NewReader(data), cfg)
		want, wantErr := frameLog(r, true)
		r.Release()

		chunks := make([]int, len(cuts))
		for i, c := range cuts {
			chunks[i] = int(c) + 1
		}
		r = framer.NewReader(&chunkReader{r: bytes.NewReader(data), chunks: chunks}, cfg)
		got, gotErr := frameLog(r, true)
		r.Release()
		require.Equal(t, want, got, "chunked source")
		assert.Equal(t, errClass(wantErr), errClass(gotErr), "chunked source")

		r = framer.NewReader(&chunkReader{r: bytes.NewReader(data), chunks: chunks}, cfg)
		skipped, skipErr := frameLog(r, false)
		r.Release()
		for i := range want {
			want[i], _, _ = strings.Cut(want[i], " crc=")
		}
		require.Equal(t, want, skipped, "discarding DATA must not change framing")
		assert.Equal(t, errClass(wantErr), errClass(skipErr), "discarding DATA")
	})
}
