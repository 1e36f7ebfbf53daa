package server

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/h2rpc/h2rpc/codec"
	"github.com/h2rpc/h2rpc/codes"
	"github.com/h2rpc/h2rpc/compress"
	"github.com/h2rpc/h2rpc/internal/envelope"
	"github.com/h2rpc/h2rpc/metadata"
	"github.com/h2rpc/h2rpc/status"
	"github.com/h2rpc/h2rpc/transport"
)

// handleStream runs one call to completion and writes its status.
func (s *Server) handleStream(st *transport.Stream) {
	h := s.handlers[st.Method()]
	ss := &serverStream{
		st:      st,
		srv:     s,
		maxRecv: s.opts.maxRecvMsgSize,
		maxSend: s.opts.maxSendMsgSize,
	}
	ss.codec = codec.Get(st.ContentSubtype())
	if ss.codec == nil {
		// An unknown subtype is served with the proto codec, as
		// grpc-go does (see the package doc). The codec package always
		// has one registered under ProtoName.
		ss.codec = codec.Get(codec.ProtoName)
	}
	if enc := st.RecvCompress(); enc != "" && enc != "identity" {
		ss.comp = compress.Get(enc)
		if ss.comp == nil {
			st.WriteStatus(status.Newf(codes.Unimplemented, "grpc: Decompressor is not installed for grpc-encoding %q", enc), nil, nil)
			return
		}
		// Answer in the request's encoding.
		st.SetSendCompress(enc)
	}
	st.SetAttachment(ss)
	ss.ctx = metadata.NewIncomingContext(st.Context(), st.Metadata())
	switch {
	case h != nil && h.method != nil:
		s.processUnary(ss, h)
	case h != nil:
		s.processStream(ss, h.impl, h.stream.Handler, &StreamInfo{
			FullMethod: h.full, IsClientStream: h.stream.ClientStreams, IsServerStream: h.stream.ServerStreams})
	case s.opts.unknownHandler != nil:
		s.processStream(ss, nil, s.opts.unknownHandler, &StreamInfo{
			FullMethod: st.Method(), IsClientStream: true, IsServerStream: true})
	default:
		st.WriteStatus(unknownMethodStatus(s, st.Method()), nil, nil)
	}
}

func unknownMethodStatus(s *Server, full string) *status.Status {
	svc, method, ok := splitMethod(full)
	if !ok {
		return status.Newf(codes.Unimplemented, "malformed method name: %q", full)
	}
	s.mu.Lock()
	known := s.services[svc]
	s.mu.Unlock()
	if known {
		return status.Newf(codes.Unimplemented, "unknown method %v for service %v", method, svc)
	}
	return status.Newf(codes.Unimplemented, "unknown service %v", svc)
}

func (s *Server) processUnary(ss *serverStream, h *handler) {
	st := ss.st
	dec := func(v any) error {
		err := ss.RecvMsg(v)
		if errors.Is(err, io.EOF) {
			return status.Error(codes.Internal, "grpc: the client sent no request message")
		}
		return err
	}
	resp, err := h.method.Handler(h.impl, ss.ctx, dec, s.unaryInt)
	if err != nil {
		st.WriteStatus(toStatus(err), nil, nil)
		return
	}
	buf, framed, err := ss.frame(resp)
	if err != nil {
		st.WriteStatus(toStatus(err), nil, nil)
		return
	}
	st.WriteStatus(nil, framed, buf) // a nil status is OK
}

func (s *Server) processStream(ss *serverStream, impl any, sh StreamHandler, info *StreamInfo) {
	var err error
	if s.streamInt != nil {
		err = s.streamInt(impl, ss, info, sh)
	} else {
		err = sh(impl, ss)
	}
	if err != nil {
		ss.st.WriteStatus(toStatus(err), nil, nil)
		return
	}
	ss.st.WriteStatus(nil, nil, nil)
}

// toStatus converts a handler's error; context errors keep their meaning.
func toStatus(err error) *status.Status {
	if st, ok := status.FromError(err); ok {
		return st
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return status.FromContextError(err)
	}
	return status.Convert(err)
}

// serverStream implements Stream on a transport stream.
type serverStream struct {
	st      *transport.Stream
	srv     *Server
	ctx     context.Context
	codec   codec.Codec
	maxRecv int
	maxSend int
	comp    compress.Compressor // the request's encoding, used both ways; nil: identity
}

func (ss *serverStream) Context() context.Context { return ss.ctx }
func (ss *serverStream) SetHeader(md metadata.MD) error {
	if err := metadata.ValidateMD(md); err != nil {
		return status.Error(codes.Internal, err.Error())
	}
	return ss.st.SetHeader(md)
}

func (ss *serverStream) SendHeader(md metadata.MD) error {
	if err := metadata.ValidateMD(md); err != nil {
		return status.Error(codes.Internal, err.Error())
	}
	return ss.st.SendHeader(md)
}
func (ss *serverStream) SetTrailer(md metadata.MD) { ss.st.SetTrailer(md) }

// frame encodes m for sending.
func (ss *serverStream) frame(m any) (*[]byte, []byte, error) {
	return envelope.Encode(ss.codec, ss.comp, m, ss.maxSend)
}

func (ss *serverStream) SendMsg(m any) error {
	buf, framed, err := ss.frame(m)
	if err != nil {
		return err
	}
	return ss.st.SendMsg(framed, buf, false)
}

func (ss *serverStream) RecvMsg(v any) error {
	m, err := ss.st.RecvMsg()
	if err != nil {
		return err
	}
	defer m.Release()
	return envelope.Decode(envelope.Server, ss.codec, ss.comp, ss.st.RecvCompress(), m.Data, m.Compressed, ss.maxRecv, v)
}

// SetHeader adds md to the response headers of the call whose context is
// ctx (from a handler). It fails once the headers are sent.
func SetHeader(ctx context.Context, md metadata.MD) error {
	ss, err := streamFrom(ctx)
	if err != nil {
		return err
	}
	return ss.SetHeader(md)
}

// SendHeader sends the response headers, with md added, of the call whose
// context is ctx.
func SendHeader(ctx context.Context, md metadata.MD) error {
	ss, err := streamFrom(ctx)
	if err != nil {
		return err
	}
	return ss.SendHeader(md)
}

// SetTrailer adds md to the trailers of the call whose context is ctx.
func SetTrailer(ctx context.Context, md metadata.MD) error {
	ss, err := streamFrom(ctx)
	if err != nil {
		return err
	}
	return ss.st.SetTrailer(md)
}

// MethodFromContext returns the full method name of the call whose
// context is ctx.
func MethodFromContext(ctx context.Context) (string, bool) {
	ss, err := streamFrom(ctx)
	if err != nil {
		return "", false
	}
	return ss.st.Method(), true
}

func streamFrom(ctx context.Context) (*serverStream, error) {
	ss, ok := transport.AttachmentFrom(ctx).(*serverStream)
	if !ok {
		return nil, status.Error(codes.Internal, fmt.Sprintf("server: no call in context %v", ctx))
	}
	return ss, nil
}
