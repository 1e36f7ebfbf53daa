package transport

import (
	"net"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/codes"
	"github.com/h2rpc/h2rpc/status"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
)

// queuedAnswer serves one call whose handler answers with a 100,000-byte
// message and OK at once, and returns a scripted client once the first
// 65,535 bytes of that answer arrived: the rest, and the trailers, are
// queued behind flow control (both windows are spent).
func queuedAnswer(t *testing.T) (net.Conn, *http2.Framer) {
	t.Helper()
	cli, fr := scriptedClient(t, ServerConfig{Handle: func(s *Stream) {
		go func() {
			if m, err := s.RecvMsg(); err == nil {
				m.Release()
			}
			s.WriteStatus(status.New(codes.OK, ""), msg(100000), nil)
		}()
	}})
	h, d := requestFrames(t, 1, msg(1))
	_, err := cli.Write(append(h, d...))
	require.NoError(t, err)
	cli.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := 0
	for got < 65535 {
		f, err := fr.ReadFrame()
		require.NoError(t, err, "expected the first 65,535 bytes of the answer")
		switch f := f.(type) {
		case *http2.DataFrame:
			got += len(f.Data())
		case *http2.SettingsFrame:
			if !f.IsAck() {
				require.NoError(t, fr.WriteSettingsAck())
			}
		}
	}
	return cli, fr
}

// framesUntilMarker grants both windows and returns what the server
// writes on stream 1 until it has answered two marker PINGs, the second
// sent once the first is answered: loopy writes a PING's ACK as soon as
// it takes the PING, possibly ahead of the DATA the same credit let out,
// but that DATA is written before it takes a PING sent later. A frame is
// "TYPE", or "RST_STREAM CODE".
func framesUntilMarker(t *testing.T, fr *http2.Framer) []string {
	t.Helper()
	require.NoError(t, fr.WriteWindowUpdate(0, 1<<20))
	require.NoError(t, fr.WriteWindowUpdate(1, 1<<20))
	require.NoError(t, fr.WritePing(false, [8]byte{1}))
	var out []string
	for {
		f, err := fr.ReadFrame()
		require.NoError(t, err, "expected the ACKs of the marker PINGs")
		if p, ok := f.(*http2.PingFrame); ok && p.IsAck() {
			if p.Data[0] == 2 {
				return out
			}
			require.NoError(t, fr.WritePing(false, [8]byte{2}))
			continue
		}
		if f.Header().StreamID != 1 {
			continue
		}
		s := f.Header().Type.String()
		if r, ok := f.(*http2.RSTStreamFrame); ok {
			s += " " + r.ErrCode.String()
		}
		out = append(out, s)
	}
}

func TestStreamErrorDropsTheQueuedAnswer(t *testing.T) {
	_, fr := queuedAnswer(t)
	// DATA after the client's END_STREAM: a stream error, answered with
	// RST_STREAM. Nothing of the answer may follow it.
	require.NoError(t, fr.WriteData(1, false, []byte("zz")))
	assert.Equal(t, []string{"RST_STREAM STREAM_CLOSED"}, framesUntilMarker(t, fr))
}

func TestStreamWindowOverflowDropsTheQueuedAnswer(t *testing.T) {
	_, fr := queuedAnswer(t)
	// The stream's send window is 0: 2^31-1 fills it, one more byte
	// overflows it (RFC 9113 §6.9.1), though the handler is done.
	require.NoError(t, fr.WriteWindowUpdate(1, 1<<31-1))
	require.NoError(t, fr.WriteWindowUpdate(1, 1))
	got := framesUntilMarker(t, fr)
	require.NotEmpty(t, got)
	assert.Equal(t, "RST_STREAM FLOW_CONTROL_ERROR", got[0])
	assert.Len(t, got, 1, "frames after the reset: %v", got)
}
