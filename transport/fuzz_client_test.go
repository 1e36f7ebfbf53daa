package transport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/codes"
	"github.com/h2rpc/h2rpc/compress"
	"github.com/h2rpc/h2rpc/internal/wire"
	"github.com/h2rpc/h2rpc/status"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// gatedConn is a server that opens with its SETTINGS, then says nothing
// until the test has started its calls (open), then sends the script and
// closes its side (EOF). Writes are discarded.
type gatedConn struct {
	first, rest *bytes.Reader
	gate        chan struct{}
	closed      chan struct{}
	openOnce    sync.Once
	closeOnce   sync.Once
}

func newGatedConn(first, rest []byte) *gatedConn {
	return &gatedConn{first: bytes.NewReader(first), rest: bytes.NewReader(rest), gate: make(chan struct{}), closed: make(chan struct{})}
}

func (c *gatedConn) open() { c.openOnce.Do(func() { close(c.gate) }) }

func (c *gatedConn) Read(p []byte) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
	}
	if c.first.Len() > 0 {
		return c.first.Read(p)
	}
	select {
	case <-c.gate:
	case <-c.closed:
		return 0, net.ErrClosed
	}
	if c.rest.Len() > 0 {
		return c.rest.Read(p)
	}
	return 0, io.EOF
}

func (c *gatedConn) Write(p []byte) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
		return len(p), nil
	}
}

func (c *gatedConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return nil
}
func (c *gatedConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *gatedConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *gatedConn) SetDeadline(time.Time) error      { return nil }
func (c *gatedConn) SetReadDeadline(time.Time) error  { return nil }
func (c *gatedConn) SetWriteDeadline(time.Time) error { return nil }

// responseScript writes server frames for the seeds of FuzzClientFrames.
type responseScript struct {
	b   bytes.Buffer
	fr  *http2.Framer
	hb  bytes.Buffer
	enc *hpack.Encoder
}

func newResponseScript() *responseScript {
	r := &responseScript{}
	r.fr = http2.NewFramer(&r.b, nil)
	r.enc = hpack.NewEncoder(&r.hb)
	return r
}

// block HPACK-encodes pairs with the script's (stateful) encoder.
func (r *responseScript) block(pairs ...string) []byte {
	r.hb.Reset()
	for i := 0; i+1 < len(pairs); i += 2 {
		r.enc.WriteField(hpack.HeaderField{Name: pairs[i], Value: pairs[i+1]})
	}
	return bytes.Clone(r.hb.Bytes())
}

func (r *responseScript) headers(id uint32, end bool, pairs ...string) *responseScript {
	r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: r.block(pairs...), EndHeaders: true, EndStream: end})
	return r
}

// splitHeaders sends the block in pieces of n bytes: HEADERS, then
// CONTINUATION frames.
func (r *responseScript) splitHeaders(id uint32, end bool, n int, pairs ...string) *responseScript {
	blk := r.block(pairs...)
	first := blk[:min(n, len(blk))]
	blk = blk[len(first):]
	r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: first, EndHeaders: len(blk) == 0, EndStream: end})
	for len(blk) > 0 {
		k := min(n, len(blk))
		r.fr.WriteContinuation(id, k == len(blk), blk[:k])
		blk = blk[k:]
	}
	return r
}

func (r *responseScript) bytes() []byte { return r.b.Bytes() }

// serverOpening is the SETTINGS the scripted server opens with.
func serverOpening() []byte {
	var b bytes.Buffer
	http2.NewFramer(&b, nil).WriteSettings()
	return b.Bytes()
}

func clientSeeds(t testing.TB) [][]byte {
	detail, err := anypb.New(&errdetails.ErrorInfo{Reason: "r", Domain: "d"})
	if err != nil {
		t.Fatal(err)
	}
	details, err := proto.Marshal(&spb.Status{Code: int32(codes.NotFound), Message: "not found", Details: []*anypb.Any{detail}})
	if err != nil {
		t.Fatal(err)
	}
	gz, err := compress.Gzip.Compress([]byte{1, 0, 0, 0, 0}, []byte("hello, compressed"))
	if err != nil {
		t.Fatal(err)
	}
	n := len(gz) - 5
	gz[1], gz[2], gz[3], gz[4] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	ok := []string{":status", "200", "content-type", "application/grpc"}
	var seeds [][]byte
	add := func(r *responseScript) { seeds = append(seeds, bytes.Clone(r.bytes())) }

	// A normal response: headers with metadata, two messages in one
	// DATA frame and one across two, trailers with metadata.
	r := newResponseScript()
	r.fr.WriteSettingsAck()
	r.headers(1, false, append(ok, "grpc-encoding", "identity", "x-md", "v", "x-bin", wire.EncodeBinHeader([]byte{0, 1, 2}))...)
	r.fr.WriteData(1, false, append(msg(3), msg(0)...))
	m := msg(40)
	r.fr.WriteData(1, false, m[:7])
	r.fr.WriteDataPadded(1, false, m[7:], []byte{0, 0, 0})
	r.headers(1, true, "grpc-status", "0", "grpc-message", "", "x-trailer", "t", "x-trailer-bin", "AAE=")
	add(r)

	// A trailers-only error with details.
	r = newResponseScript()
	r.headers(1, true, append(ok, "grpc-status", "5", "grpc-message", "not%20found",
		"grpc-status-details-bin", wire.EncodeBinHeader(details), "x-bin", "AAE")...)
	add(r)

	// A response whose headers and trailers are split over CONTINUATION.
	r = newResponseScript()
	r.splitHeaders(1, false, 3, append(ok, "x-long", "a value long enough to need a few frames")...)
	r.fr.WriteData(1, false, msg(5))
	r.splitHeaders(1, true, 4, "grpc-status", "13", "grpc-message", "in%ternal \xff", "grpc-status-details-bin", "!!")
	add(r)

	// GOAWAY: the first one refuses nothing, the second refuses the
	// stream.
	r = newResponseScript()
	r.fr.WriteGoAway(maxStreamID, http2.ErrCodeNo, nil)
	r.fr.WritePing(false, [8]byte{1, 2})
	r.fr.WriteGoAway(0, http2.ErrCodeEnhanceYourCalm, []byte("too_many_pings"))
	add(r)

	// A compressed message, window and settings changes, then RST_STREAM.
	r = newResponseScript()
	r.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20}, http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 1})
	r.fr.WriteWindowUpdate(0, 1000)
	r.fr.WriteWindowUpdate(1, 1000)
	r.headers(1, false, append(ok, "grpc-encoding", "gzip")...)
	r.fr.WriteData(1, false, gz)
	r.fr.WriteRSTStream(1, http2.ErrCodeCancel)
	add(r)

	// Plain HTTP errors: an informational response, then a 503 without
	// grpc-status; and a wrong content-type on stream 3.
	r = newResponseScript()
	r.headers(1, false, ":status", "103", "link", "</x>")
	r.headers(1, true, ":status", "503", "content-type", "text/html")
	r.headers(3, false, ":status", "200", "content-type", "text/plain")
	r.fr.WriteData(3, true, []byte("oops"))
	add(r)

	// A message over the limit, and DATA ending a response without
	// trailers.
	r = newResponseScript()
	r.headers(1, false, ok...)
	r.fr.WriteData(1, false, msg(5000))
	r.headers(3, false, ok...)
	r.fr.WriteData(3, true, msg(1))
	add(r)
	return seeds
}

// Bits of FuzzClientFrames' mode byte: how the client calls.
const (
	fuzzHalfOpen    = 1 << iota // the request stays open: no END_STREAM
	fuzzSingle                  // a unary response: SingleResponse
	fuzzTwoStreams              // streams 1 and 3
	fuzzSmallLimit              // MaxRecvMsgSize 1 KiB
	fuzzHeaderFirst             // Header() before the messages
)

// FuzzClientFrames starts calls on a client connection, then feeds it
// whatever a server may send. Every call must end, within a bounded time,
// in success or a status error; no message may exceed the limit; once
// closed, the connection's goroutines must exit at once and nothing may be
// left running.
func FuzzClientFrames(f *testing.F) {
	for i, s := range clientSeeds(f) {
		f.Add(byte(i), s)
	}
	f.Add(byte(fuzzTwoStreams|fuzzSingle), []byte{0, 0, 0, 4, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, mode byte, data []byte) {
		before := runtime.NumGoroutine()
		nc := newGatedConn(serverOpening(), data)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := NewClientConn(ctx, nc, ClientConfig{Authority: "x"})
		if err != nil {
			t.Fatalf("NewClientConn: %v", err)
		}
		defer c.Close(ErrConnClosed)
		limit := DefaultMaxRecvMsgSize
		if mode&fuzzSmallLimit != 0 {
			limit = 1 << 10
		}
		n := 1
		if mode&fuzzTwoStreams != 0 {
			n = 2
		}
		var streams []*Stream
		for range n {
			s, err := c.NewStream(context.Background(), &CallHdr{
				Method: "/a.B/C", Data: msg(3), EndStream: mode&fuzzHalfOpen == 0,
				SingleResponse: mode&fuzzSingle != 0, MaxRecvMsgSize: limit,
			})
			if err != nil {
				t.Fatalf("NewStream: %v", err)
			}
			streams = append(streams, s)
		}
		nc.open()

		errs := make(chan error, n)
		for _, s := range streams {
			go func() { errs <- checkCall(s, limit, mode&fuzzHeaderFirst != 0) }()
		}
		timeout := time.NewTimer(5 * time.Second)
		defer timeout.Stop()
		for range n {
			select {
			case err := <-errs:
				if err != nil {
					t.Fatal(err)
				}
			case <-timeout.C:
				t.Fatal("a call did not end after the connection closed")
			}
		}
		// Closing is prompt whatever the server did: nothing it sends
		// may keep a goroutine of ours waiting.
		c.Close(ErrConnClosed)
		exit := time.NewTimer(500 * time.Millisecond)
		defer exit.Stop()
		select {
		case <-c.Done():
		case <-exit.C:
			t.Fatal("the connection's goroutines did not exit within 500ms of Close")
		}
		for runtime.NumGoroutine() > before {
			select {
			case <-exit.C:
				buf := make([]byte, 1<<16)
				t.Fatalf("%d goroutines left running:\n%s", runtime.NumGoroutine()-before, buf[:runtime.Stack(buf, true)])
			case <-time.After(time.Millisecond):
			}
		}
	})
}

// checkCall reads a client call to its end and reports what breaks the
// rules: a message over limit, or an end that is neither success nor a
// status error.
func checkCall(s *Stream, limit int, headerFirst bool) error {
	if headerFirst {
		if _, err := s.Header(); err != nil {
			if st, ok := status.FromError(err); !ok || st.Code() == codes.OK {
				return errors.New("Header: not a status error: " + err.Error())
			}
		}
	}
	for {
		m, err := s.RecvMsg()
		if err == io.EOF {
			if st := s.Status(); st.Code() != codes.OK {
				return errors.New("RecvMsg ended with EOF but status " + st.String())
			}
			break
		}
		if err != nil {
			if st, ok := status.FromError(err); !ok || st.Code() == codes.OK {
				return errors.New("RecvMsg: not a status error: " + err.Error())
			}
			if st := s.Status(); st.Code() == codes.OK {
				return errors.New("RecvMsg failed with " + err.Error() + " but the stream's status is OK")
			}
			break
		}
		if len(m.Data) > limit {
			return errors.New("a message larger than the limit was delivered")
		}
		m.Release()
	}
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		return errors.New("RecvMsg returned but the stream is not done")
	}
	if _, err := s.Header(); err != nil {
		if st, ok := status.FromError(err); !ok || st.Code() == codes.OK {
			return errors.New("Header after the end: not a status error: " + err.Error())
		}
	}
	return nil
}
