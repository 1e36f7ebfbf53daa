package framer_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// wireFrame is a frame as an independent http2.Framer read it back, with
// the fields the tests compare copied out.
type wireFrame struct {
	Type     http2.FrameType
	Flags    http2.Flags
	StreamID uint32
	Length   uint32
	Data     []byte // DATA payload, CONTINUATION/HEADERS fragment, GOAWAY debug data
	Fields   []hpack.HeaderField
	Incr     uint32
	Code     http2.ErrCode
	LastID   uint32
	Ping     [8]byte
	Settings []http2.Setting
}

// readWire parses b with an http2.Framer. With meta set, HEADERS and their
// CONTINUATION frames come back merged and decoded; otherwise raw.
func readWire(t testing.TB, b []byte, meta bool) []wireFrame {
	t.Helper()
	fr := http2.NewFramer(nil, bytes.NewReader(b))
	if meta {
		fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	}
	var out []wireFrame
	for {
		f, err := fr.ReadFrame()
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err, "reading frame %d back", len(out))
		out = append(out, toWire(f))
	}
}

func toWire(f http2.Frame) wireFrame {
	h := f.Header()
	w := wireFrame{Type: h.Type, Flags: h.Flags, StreamID: h.StreamID, Length: h.Length}
	switch f := f.(type) {
	case *http2.DataFrame:
		w.Data = bytes.Clone(f.Data())
	case *http2.MetaHeadersFrame:
		w.Fields = append([]hpack.HeaderField(nil), f.Fields...)
	case *http2.HeadersFrame:
		w.Data = bytes.Clone(f.HeaderBlockFragment())
	case *http2.ContinuationFrame:
		w.Data = bytes.Clone(f.HeaderBlockFragment())
	case *http2.WindowUpdateFrame:
		w.Incr = f.Increment
	case *http2.RSTStreamFrame:
		w.Code = f.ErrCode
	case *http2.GoAwayFrame:
		w.Code, w.LastID, w.Data = f.ErrCode, f.LastStreamID, bytes.Clone(f.DebugData())
	case *http2.PingFrame:
		w.Ping = f.Data
	case *http2.SettingsFrame:
		f.ForeachSetting(func(s http2.Setting) error {
			w.Settings = append(w.Settings, s)
			return nil
		})
	}
	return w
}

// pattern returns n bytes that differ from buffer to buffer.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*31+i/251)
	}
	return b
}
