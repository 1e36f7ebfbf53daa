package transport

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/h2rpc/h2rpc/codes"
	"github.com/h2rpc/h2rpc/controlbuf"
	"github.com/h2rpc/h2rpc/internal/bufpool"
	"github.com/h2rpc/h2rpc/metadata"
	"github.com/h2rpc/h2rpc/status"
	"github.com/h2rpc/h2rpc/stream"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Error is a stream failure: a gRPC status, and whether the peer never
// processed the stream (so the call is safe to retry elsewhere).
type Error struct {
	St          *status.Status
	Unprocessed bool
}

func (e *Error) Error() string { return e.St.Err().Error() }

// GRPCStatus returns the status, for status.FromError.
func (e *Error) GRPCStatus() *status.Status { return e.St }

// IsUnprocessed reports whether err says the peer never processed the
// stream.
func IsUnprocessed(err error) bool {
	var te *Error
	return errors.As(err, &te) && te.Unprocessed
}

// Stream is one gRPC call on a Conn, in either role. A stream has one
// sending and one receiving goroutine at most; its other methods are safe
// for concurrent use.
type Stream struct {
	stream.Stream
	conn    *Conn
	maxRecv int

	ended     atomic.Bool // reset or finished: no more writes
	assignErr error       // why the control buffer refused a new client stream

	// Inline room for header fields handed to loopy, so that a typical
	// call's headers and trailers need no allocation.
	fieldBuf    [10]hpack.HeaderField
	trailerBuf  [4]hpack.HeaderField
	unprocessed atomic.Bool

	// Reader goroutine only: content-length checks (RFC 9113 §8.1.1).
	contentLength int64 // -1: none given
	dataSeen      int64

	// Server role.
	reject         *rejection // set for a request answered with plain HTTP
	method         string
	authority      string
	ctx            context.Context
	sctx           streamCtx // a server stream's context
	md             metadata.MD
	contentSubtype string
	recvCompress   string
	acceptCompress string
	sendCompress   string
	headerSent     bool // sender goroutine only
	header         metadata.MD
	trailer        metadata.MD
	handlerDone    atomic.Bool
	startFn        func(*Stream) // reader goroutine only: see StartOnMessage
	refs           atomic.Int32  // holds on the stream's slot, see release
	// closedHeld: the stream was reset while it held its slot (its
	// handler still finishing), so it no longer counts as open. Guarded
	// by conn.mu.
	closedHeld bool

	// Client role.
	hmu         sync.Mutex
	headerCh    chan struct{} // closed when response headers arrive or the stream ends
	headerOK    bool          // headers (not trailers-only) arrived
	respHeader  metadata.MD
	respTrailer metadata.MD
	st          *status.Status
	done        chan struct{}
	deadline    time.Time // the call's deadline, zero if none
	initWindow  uint32    // the inbound window the stream was made with
}

// Conn returns the stream's connection.
func (s *Stream) Conn() *Conn { return s.conn }

// SetMaxRecvMsgSize bounds the messages this stream accepts.
func (s *Stream) SetMaxRecvMsgSize(n int) { s.maxRecv = n }

// RecvMsg returns the next message. The caller releases it. Errors: io.EOF
// when the peer ended its side cleanly (server: client half-close; client:
// OK status), else the stream's status error.
func (s *Stream) RecvMsg() (stream.Message, error) {
	var done <-chan struct{}
	if s.ctx != nil {
		done = s.ctx.Done()
	}
	m, err := s.Recv(done)
	if err != nil {
		if errors.Is(err, stream.ErrDone) {
			st := status.FromContextError(s.ctx.Err())
			if s.conn.client {
				s.Cancel(st)
			}
			return m, st.Err()
		}
		return m, err
	}
	if s.SingleMessage() {
		return m, nil
	}
	if n := s.Consumed(len(m.Data) + 5 - m.Credited()); n > 0 && !s.ended.Load() {
		s.conn.put(controlbuf.Item{Kind: controlbuf.KindWindowUpdate, StreamID: s.ID(), N: n})
	}
	return m, nil
}

func (s *Stream) headerReceived() bool {
	s.hmu.Lock()
	defer s.hmu.Unlock()
	return s.headerOK
}

// reset ends the stream at once with st: the receive side fails with st,
// pending writes are dropped, and RST_STREAM(code) is sent if sendRST.
func (s *Stream) reset(st *status.Status, sendRST bool, code http2.ErrCode) {
	if !s.ended.CompareAndSwap(false, true) {
		return
	}
	if sendRST {
		s.conn.noteReset(s.ID())
	}
	s.Transition(stream.EvReset)
	s.conn.removeStream(s)
	if !s.conn.client {
		s.conn.closedWhileHeld(s)
	}
	s.finishRecv(st, nil, false)
	s.conn.put(controlbuf.Item{Kind: controlbuf.KindCleanup, Stream: &s.Out, StreamID: s.ID(), Reset: sendRST, Code: code})
	if s.reject != nil {
		s.finishHandler()
	}
}

// connClosed ends the stream because its connection closed.
func (s *Stream) connClosed(st *status.Status) {
	if !s.ended.CompareAndSwap(false, true) {
		return
	}
	s.Transition(stream.EvReset)
	if s.conn.client && !s.Out.HeadersWritten() {
		// The request never left: safe to send elsewhere. A stream the
		// server may have seen is not, even on a connection the server
		// was draining (those it did not take, it named in its GOAWAY).
		s.unprocessed.Store(true)
	}
	s.finishRecv(st, nil, false)
}

// finishRecv records the final status and trailers and wakes everyone who
// waits on the stream. Messages still queued are dropped if the stream
// failed, unless fromPeer: a server's non-OK status comes after the
// messages it sent, and the application gets them first, as in grpc-go.
func (s *Stream) finishRecv(st *status.Status, trailer metadata.MD, fromPeer bool) {
	var err error = io.EOF
	if st.Code() != codes.OK {
		err = &Error{St: st, Unprocessed: s.unprocessed.Load()}
		if !fromPeer {
			s.Drain()
		}
	}
	// The assembler belongs to the reader goroutine: a partly received
	// message is left to the garbage collector rather than pooled here.
	if s.conn.client {
		s.hmu.Lock()
		s.st = st
		if trailer != nil {
			s.respTrailer = trailer
		}
		if s.headerCh != nil {
			select {
			case <-s.headerCh:
			default:
				close(s.headerCh)
			}
		}
		s.hmu.Unlock()
		s.CloseRecv(err)
		close(s.done)
		return
	}
	if err == io.EOF {
		err = errStreamFinished
	}
	s.CloseRecv(err)
	if !s.conn.client {
		cause := context.Canceled
		if st.Code() == codes.DeadlineExceeded {
			cause = context.DeadlineExceeded
		}
		s.sctx.cancel(cause)
	}
}

var errStreamFinished = status.Error(codes.Internal, "transport: the stream is done")

// recvEnd handles END_STREAM on a DATA frame (or a client's trailers). It
// reports whether the peer's frame was at fault and the stream reset.
func (s *Stream) recvEnd() (reset bool) {
	if s.conn.client {
		// gRPC responses end with trailers, never with DATA.
		s.reset(status.New(codes.Internal, "transport: server closed the stream without sending trailers"), true, http2.ErrCodeProtocol)
		return true
	}
	if s.contentLength >= 0 && s.dataSeen != s.contentLength {
		s.reset(status.New(codes.Internal, "transport: body length differs from content-length"), true, http2.ErrCodeProtocol)
		return true
	}
	if s.PartialMessage() {
		s.reset(status.New(codes.Internal, "transport: stream ended in the middle of a message"), true, http2.ErrCodeProtocol)
		return true
	}
	if s.reject != nil && s.State() == stream.HalfClosedLocal {
		s.finishRejected()
		return false
	}
	if _, ok := s.Transition(stream.EvRecvEnd); !ok {
		s.reset(status.New(codes.Internal, "transport: END_STREAM twice"), true, http2.ErrCodeStreamClosed)
		return true
	}
	s.CloseRecv(io.EOF)
	return false
}

// putWrite hands w to loopy, or releases it if the connection is closed.
func (s *Stream) putWrite(w *controlbuf.Write) bool {
	if !s.conn.put(controlbuf.Item{Kind: controlbuf.KindStreamWrite, Stream: &s.Out, Write: w}) {
		putBuf(w.Buf)
		return false
	}
	return true
}

func putBuf(b *[]byte) {
	if b != nil {
		bufpool.Put(b)
	}
}

// SendMsg queues one framed message (prefix included) owned by buf. On a
// server stream the response headers go first if they are not out yet; on
// a client stream last half-closes the stream after the message. It
// blocks while the stream has its write quota's worth queued. Once the
// stream has ended, a client gets errStreamEnded (see IsStreamEnded) and
// a server the stream's error.
func (s *Stream) SendMsg(data []byte, buf *[]byte, last bool) error {
	var done <-chan struct{} = s.done
	if !s.conn.client {
		done = s.ctx.Done()
	}
	if err := s.Out.AcquireQuota(len(data), done); err != nil || s.ended.Load() {
		putBuf(buf)
		return s.endedErr()
	}
	var headers []hpack.HeaderField
	if !s.conn.client && !s.headerSent {
		headers = s.responseHeaders()
		if st := s.oversizedHeaders(headers); st != nil {
			putBuf(buf)
			s.reset(st, true, http2.ErrCodeInternal)
			return st.Err()
		}
		s.headerSent = true
	}
	w := controlbuf.NewWrite()
	w.Headers = headers
	w.Data, w.Buf = data, buf
	if s.conn.client && last {
		w.EndStream = true
		s.Transition(stream.EvSendEnd)
	}
	if !s.putWrite(w) {
		return s.endedErr()
	}
	return nil
}

func (s *Stream) endedErr() error {
	if s.conn.client {
		return errStreamEnded
	}
	return s.sendErr()
}
