package transport

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/codes"
	"github.com/h2rpc/h2rpc/metadata"
	"github.com/h2rpc/h2rpc/status"
	"github.com/h2rpc/h2rpc/stream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2/hpack"
)

// listSize is a header list's size as SETTINGS_MAX_HEADER_LIST_SIZE
// counts it.
func listSize(fields []hpack.HeaderField) int {
	n := 0
	for _, hf := range fields {
		n += int(hf.Size())
	}
	return n
}

func TestClientHeaderListOverServerLimit(t *testing.T) {
	const limit = 1024
	cc, _ := pair(t, ServerConfig{Config: Config{MaxHeaderListSize: limit}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	hdr := func(pad string) *CallHdr {
		return &CallHdr{Method: "/a.B/C", MD: metadata.Pairs("x-pad", pad), Data: msg(1), EndStream: true}
	}
	// The padding that makes the request's header list exactly the limit.
	room := limit - listSize(cc.requestHeaders(&Stream{}, hdr("")))
	require.Positive(t, room)
	call := func(pad string) (*Stream, error) {
		t.Helper()
		s, err := cc.NewStream(ctx, hdr(pad))
		if err != nil {
			return nil, err
		}
		m, err := s.RecvMsg()
		require.NoError(t, err)
		m.Release()
		_, err = s.RecvMsg()
		require.ErrorIs(t, err, io.EOF)
		return s, nil
	}

	s, err := call(strings.Repeat("a", room))
	require.NoError(t, err, "a header list of exactly the limit")
	assert.Equal(t, uint32(1), s.ID())

	_, err = cc.NewStream(ctx, hdr(strings.Repeat("a", room+1)))
	require.Error(t, err, "a header list one byte over the limit")
	assert.Equal(t, codes.Internal, status.Code(err))
	assert.Contains(t, status.Convert(err).Message(), "header list size to send violates the maximum size (1024 bytes) set by server")

	// The connection still serves calls, and the refused one never took
	// a stream id: it never left.
	s, err = call("small")
	require.NoError(t, err)
	assert.Equal(t, uint32(3), s.ID())
}

func TestServerHeaderListOverClientLimit(t *testing.T) {
	const limit = 512
	big := metadata.Pairs("x-pad", strings.Repeat("a", limit))
	sends := map[string]func(s *Stream) error{
		// Each returns the error of the send that carries the big list.
		"/a.B/Header": func(s *Stream) error { return s.SendHeader(big) },
		"/a.B/FirstMessage": func(s *Stream) error {
			assert.NoError(t, s.SetHeader(big))
			return s.SendMsg(msg(1), nil, false)
		},
		"/a.B/Trailers": func(s *Stream) error {
			assert.NoError(t, s.SendMsg(msg(1), nil, false))
			assert.NoError(t, s.SetTrailer(big))
			return s.WriteStatus(status.New(codes.OK, ""), nil, nil)
		},
		"/a.B/TrailersOnly": func(s *Stream) error {
			assert.NoError(t, s.SetTrailer(big))
			return s.WriteStatus(status.New(codes.NotFound, "no"), nil, nil)
		},
		"/a.B/Fits": func(s *Stream) error {
			assert.NoError(t, s.SetTrailer(metadata.Pairs("x-pad", "small")))
			return s.SendHeader(metadata.Pairs("x-pad", "small"))
		},
	}
	errs := make(chan error, 1)
	cc, sc := pairWith(t, ServerConfig{Handle: func(s *Stream) {
		go func() {
			err := sends[s.Method()](s)
			errs <- err
			s.WriteStatus(status.Convert(err), nil, nil)
		}()
	}}, ClientConfig{Authority: "test", Config: Config{MaxHeaderListSize: limit}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, method := range []string{"/a.B/Header", "/a.B/FirstMessage", "/a.B/Trailers", "/a.B/TrailersOnly", "/a.B/Fits"} {
		s, err := cc.NewStream(ctx, &CallHdr{Method: method, EndStream: true})
		require.NoError(t, err)
		var recvErr error
		for recvErr == nil {
			var m stream.Message
			if m, recvErr = s.RecvMsg(); recvErr == nil {
				m.Release()
			}
		}
		var sendErr error
		select {
		case sendErr = <-errs:
		case <-ctx.Done():
			t.Fatalf("%s: the handler did not finish", method)
		}
		if method == "/a.B/Fits" {
			assert.NoError(t, sendErr, method)
			assert.ErrorIs(t, recvErr, io.EOF, method)
			continue
		}
		assert.Equal(t, codes.Internal, status.Code(sendErr), "%s: the send of a list over the limit: %v", method, sendErr)
		// The server reset the stream: nothing the client's limit refused
		// reached it.
		assert.Equal(t, codes.Internal, status.Code(recvErr), method)
		assert.Contains(t, status.Convert(recvErr).Message(), "RST_STREAM with error code: INTERNAL_ERROR", method)
	}
	// Every stream's slot is back, once.
	require.Eventually(t, func() bool {
		sc.mu.Lock()
		defer sc.mu.Unlock()
		return sc.activeCount == 0
	}, 5*time.Second, 5*time.Millisecond)
}
