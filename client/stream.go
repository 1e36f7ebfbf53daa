package client

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/h2rpc/h2rpc/codec"
	"github.com/h2rpc/h2rpc/codes"
	"github.com/h2rpc/h2rpc/compress"
	"github.com/h2rpc/h2rpc/internal/envelope"
	"github.com/h2rpc/h2rpc/metadata"
	"github.com/h2rpc/h2rpc/status"
	"github.com/h2rpc/h2rpc/transport"
)

// StreamDesc describes a streaming method to NewStream.
type StreamDesc struct {
	StreamName    string
	ServerStreams bool
	ClientStreams bool
}

// Stream is the client side of a streaming call. One goroutine may send
// while another receives; Header, Trailer and Context are safe anywhere.
type Stream interface {
	// Header waits for the response headers. A response without them
	// (trailers-only) gives nil metadata; an error means the call has
	// ended with that status, which RecvMsg returns too.
	Header() (metadata.MD, error)
	// Trailer returns the trailers; valid once RecvMsg has returned an
	// error (io.EOF included).
	Trailer() metadata.MD
	// CloseSend half-closes the stream.
	CloseSend() error
	// Context returns the call's context.
	Context() context.Context
	// SendMsg sends a request message. It returns io.EOF if the stream
	// has already ended; RecvMsg then tells why.
	SendMsg(m any) error
	// RecvMsg receives a response message into m. It returns io.EOF when
	// the call ended with OK, else the status error.
	RecvMsg(m any) error
}

// Streamer is the next step of NewStream: the next interceptor or the
// stream's creation itself.
type Streamer func(ctx context.Context, desc *StreamDesc, cc *ClientConn, method string, opts ...CallOption) (Stream, error)

// StreamInterceptor wraps NewStream. It must call streamer to go on.
type StreamInterceptor func(ctx context.Context, desc *StreamDesc, cc *ClientConn, method string, streamer Streamer, opts ...CallOption) (Stream, error)

// NewStream starts a streaming call.
func (cc *ClientConn) NewStream(ctx context.Context, desc *StreamDesc, method string, opts ...CallOption) (Stream, error) {
	if cc.streamInt != nil {
		return cc.streamInt(ctx, desc, cc, method, newClientStream, opts...)
	}
	return newClientStream(ctx, desc, cc, method, opts...)
}

func newClientStream(ctx context.Context, desc *StreamDesc, cc *ClientConn, method string, opts ...CallOption) (Stream, error) {
	ci, c, comp, err := cc.callInfo(opts)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, status.FromContextError(err).Err()
	}
	h, err := cc.callHdr(ctx, method, &ci)
	if err != nil {
		return nil, err
	}
	h.SingleResponse = !desc.ServerStreams
	s, done, err := cc.newTransportStream(ctx, method, &ci, &h, nil)
	if err != nil {
		return nil, err
	}
	cs := &clientStream{s: s, done: done, ctx: ctx, desc: desc, codec: c, comp: comp, ci: ci, cc: cc, method: method, hdr: h}
	cs.stop = context.AfterFunc(ctx, func() {
		st := status.FromContextError(ctx.Err())
		cs.stream().Cancel(st)
		// The application may never read the end now.
		cs.finish(st.Err())
	})
	return cs, nil
}

// maxReplay bounds the request bytes a stream keeps to replay on a new
// connection if the server turns out never to have processed it.
const maxReplay = 64 << 10

type clientStream struct {
	ctx    context.Context
	desc   *StreamDesc
	codec  codec.Codec
	comp   compress.Compressor
	ci     callInfo
	stop   func() bool
	cc     *ClientConn
	method string
	hdr    transport.CallHdr

	sentLast   bool // sender goroutine only
	endOnce    sync.Once
	finishOnce sync.Once

	// A stream the server never processed (GOAWAY before it, or
	// REFUSED_STREAM) is started again once on another connection with
	// the messages sent so far, until the server's first answer commits
	// it. mu guards these; it is never held across a blocking send.
	mu          sync.Mutex
	s           *transport.Stream
	done        func(error) // s's picker Done, called once when the call ends
	replay      [][]byte    // framed messages sent while uncommitted
	replayBytes int
	closedSend  bool
	committed   bool
	retried     bool
}

func (cs *clientStream) stream() *transport.Stream {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.s
}

// commit ends the chance of a transparent retry: the server answered.
func (cs *clientStream) commit() {
	cs.mu.Lock()
	if !cs.committed {
		cs.committed = true
		cs.replay = nil
	}
	cs.mu.Unlock()
}

// remember keeps a copy of a framed message for a possible replay.
// It returns the stream to send the message on, taken under the same lock:
// a retry that replays the message (it is in the replay now) and one that
// came before must not both see it sent.
func (cs *clientStream) remember(framed []byte, last bool) *transport.Stream {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if last {
		cs.closedSend = true
	}
	if cs.committed {
		return cs.s
	}
	if cs.replayBytes+len(framed) > maxReplay {
		cs.committed = true // too much to keep: no retry
		cs.replay = nil
		return cs.s
	}
	cs.replayBytes += len(framed)
	cs.replay = append(cs.replay, append([]byte(nil), framed...))
	return cs.s
}

// retry starts the call again on another connection if old ended without
// the server processing it, replaying what was sent. It reports whether
// the stream now in use (old's replacement, by this or another goroutine)
// carries everything sent so far.
func (cs *clientStream) retry(old *transport.Stream) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.s != old {
		return true
	}
	if cs.committed || cs.retried || !old.Unprocessed() || cs.ctx.Err() != nil {
		return false
	}
	cs.retried = true
	s, done, err := cs.cc.newTransportStream(cs.ctx, cs.method, &cs.ci, &cs.hdr, nil)
	if err != nil {
		return false
	}
	cs.done(errNotProcessed)
	cs.done = done
	for i, framed := range cs.replay {
		last := cs.closedSend && i == len(cs.replay)-1
		if err := s.SendMsg(append([]byte(nil), framed...), nil, last); err != nil {
			break
		}
	}
	if cs.closedSend && len(cs.replay) == 0 {
		s.CloseSend()
	}
	cs.s = s
	return true
}

func (cs *clientStream) Context() context.Context { return cs.ctx }

func (cs *clientStream) Header() (metadata.MD, error) {
	for {
		s := cs.stream()
		md, err := s.Header()
		if err == nil {
			return md, nil
		}
		if !cs.retry(s) {
			// The call is over: end it here too, since the
			// application may read nothing more.
			err = toStatusErr(err)
			cs.end(err)
			return nil, err
		}
	}
}

func (cs *clientStream) Trailer() metadata.MD { return cs.stream().Trailer() }

func (cs *clientStream) CloseSend() error {
	if cs.sentLast {
		return nil
	}
	cs.sentLast = true
	cs.mu.Lock()
	cs.closedSend = true
	s := cs.s
	cs.mu.Unlock()
	return s.CloseSend()
}

func (cs *clientStream) SendMsg(m any) error {
	if cs.sentLast {
		return status.Error(codes.Internal, "grpc: SendMsg called after CloseSend")
	}
	buf, framed, err := envelope.Encode(cs.codec, cs.comp, m, cs.ci.maxSend)
	if err != nil {
		// The call cannot go on (the server would wait for this message
		// for good): end it with this error, as grpc-go does.
		cs.stream().Cancel(status.Convert(err))
		cs.end(err)
		return err
	}
	last := !cs.desc.ClientStreams
	if last {
		cs.sentLast = true
	}
	s := cs.remember(framed, last)
	if err := s.SendMsg(framed, buf, last); err != nil {
		if transport.IsStreamEnded(err) {
			if cs.retry(s) {
				return nil // replayed on the new stream
			}
			return io.EOF
		}
		return toStatusErr(err)
	}
	return nil
}

func (cs *clientStream) RecvMsg(m any) error {
	err := cs.recv(m)
	if err == nil && !cs.desc.ServerStreams {
		// One response only: the next thing must be the end.
		err = cs.recv(nil)
		if err == nil {
			cs.stream().Cancel(status.New(codes.Internal, "grpc: more than one response message"))
			err = status.Error(codes.Internal, "grpc: the server sent more than one response message for a client-streaming call")
			cs.end(err)
		} else if errors.Is(err, io.EOF) {
			err = nil
		}
	}
	return err
}

func (cs *clientStream) recv(m any) error {
	s := cs.stream()
	msg, err := s.RecvMsg()
	for err != nil && !errors.Is(err, io.EOF) && cs.retry(s) {
		s = cs.stream()
		msg, err = s.RecvMsg()
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			cs.end(nil)
			if m != nil && !cs.desc.ServerStreams {
				return status.Error(codes.Internal, "grpc: the server sent no response message")
			}
			return io.EOF
		}
		err = toStatusErr(err)
		cs.end(err)
		return err
	}
	cs.commit()
	defer msg.Release()
	if m == nil {
		return nil
	}
	enc := s.RecvCompress()
	if err := envelope.Decode(envelope.Client, cs.codec, compress.Get(enc), enc, msg.Data, msg.Compressed, cs.ci.maxRecv, m); err != nil {
		s.Cancel(status.Convert(err))
		cs.end(err)
		return err
	}
	return nil
}

// end releases the stream's context watch and fills call options.
func (cs *clientStream) end(err error) {
	cs.endOnce.Do(func() {
		cs.stop()
		fillCallInfo(cs.stream(), &cs.ci)
	})
	cs.finish(err)
}

// finish tells the picker the call has ended, once.
func (cs *clientStream) finish(err error) {
	cs.finishOnce.Do(func() {
		cs.mu.Lock()
		done := cs.done
		cs.mu.Unlock()
		done(err)
	})
}

// errNotProcessed is what a picker hears of a stream the server never
// processed, which the call then retried on another connection.
var errNotProcessed = status.Error(codes.Unavailable, "grpc: the server did not process the stream; retried on another connection")
