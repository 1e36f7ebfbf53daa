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
	// Header waits for the response headers.
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
	s, err := cc.newTransportStream(ctx, method, &ci, &h, nil)
	if err != nil {
		return nil, err
	}
	cs := &clientStream{s: s, ctx: ctx, desc: desc, codec: c, comp: comp, ci: ci}
	cs.stop = context.AfterFunc(ctx, func() {
		s.Cancel(status.FromContextError(ctx.Err()))
	})
	return cs, nil
}

type clientStream struct {
	s     *transport.Stream
	ctx   context.Context
	desc  *StreamDesc
	codec codec.Codec
	comp  compress.Compressor
	ci    callInfo
	stop  func() bool

	sentLast bool
	endOnce  sync.Once
}

func (cs *clientStream) Context() context.Context { return cs.ctx }

func (cs *clientStream) Header() (metadata.MD, error) {
	md, err := cs.s.Header()
	if err != nil {
		return nil, toStatusErr(err)
	}
	return md, nil
}

func (cs *clientStream) Trailer() metadata.MD { return cs.s.Trailer() }

func (cs *clientStream) CloseSend() error {
	if cs.sentLast {
		return nil
	}
	cs.sentLast = true
	return cs.s.CloseSend()
}

func (cs *clientStream) SendMsg(m any) error {
	if cs.sentLast {
		return status.Error(codes.Internal, "grpc: SendMsg called after CloseSend")
	}
	buf, framed, err := envelope.Encode(cs.codec, cs.comp, m, cs.ci.maxSend)
	if err != nil {
		return err
	}
	last := !cs.desc.ClientStreams
	if last {
		cs.sentLast = true
	}
	if err := cs.s.SendMsg(framed, buf, last); err != nil {
		if transport.IsStreamEnded(err) {
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
			cs.s.Cancel(status.New(codes.Internal, "grpc: more than one response message"))
			err = status.Error(codes.Internal, "grpc: the server sent more than one response message for a client-streaming call")
		} else if errors.Is(err, io.EOF) {
			err = nil
		}
	}
	return err
}

func (cs *clientStream) recv(m any) error {
	msg, err := cs.s.RecvMsg()
	if err != nil {
		cs.end()
		if errors.Is(err, io.EOF) {
			if m != nil && !cs.desc.ServerStreams {
				return status.Error(codes.Internal, "grpc: the server sent no response message")
			}
			return io.EOF
		}
		return toStatusErr(err)
	}
	defer msg.Release()
	if m == nil {
		return nil
	}
	enc := cs.s.RecvCompress()
	if err := envelope.Decode(cs.codec, compress.Get(enc), enc, msg.Data, msg.Compressed, cs.ci.maxRecv, m); err != nil {
		cs.s.Cancel(status.Convert(err))
		return err
	}
	return nil
}

// end releases the stream's context watch and fills call options.
func (cs *clientStream) end() {
	cs.endOnce.Do(func() {
		cs.stop()
		fillCallInfo(cs.s, &cs.ci)
	})
}
