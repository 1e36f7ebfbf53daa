package client

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/h2rpc/h2rpc/balancer"
	"github.com/h2rpc/h2rpc/codec"
	"github.com/h2rpc/h2rpc/codes"
	"github.com/h2rpc/h2rpc/compress"
	"github.com/h2rpc/h2rpc/credentials"
	"github.com/h2rpc/h2rpc/internal/bufpool"
	"github.com/h2rpc/h2rpc/internal/envelope"
	"github.com/h2rpc/h2rpc/metadata"
	"github.com/h2rpc/h2rpc/peer"
	"github.com/h2rpc/h2rpc/status"
	"github.com/h2rpc/h2rpc/transport"
)

// UnaryInvoker is the next step of a unary call: the next interceptor or
// the call itself.
type UnaryInvoker func(ctx context.Context, method string, req, reply any, cc *ClientConn, opts ...CallOption) error

// UnaryInterceptor wraps unary calls. It must call invoker to go on.
type UnaryInterceptor func(ctx context.Context, method string, req, reply any, cc *ClientConn, invoker UnaryInvoker, opts ...CallOption) error

// Invoke runs a unary call: it sends req and fills reply.
func (cc *ClientConn) Invoke(ctx context.Context, method string, req, reply any, opts ...CallOption) error {
	if cc.unaryInt != nil {
		return cc.unaryInt(ctx, method, req, reply, cc, invoke, opts...)
	}
	return invoke(ctx, method, req, reply, cc, opts...)
}

func (cc *ClientConn) callInfo(opts []CallOption) (callInfo, codec.Codec, compress.Compressor, error) {
	ci := callInfo{maxRecv: transport.DefaultMaxRecvMsgSize, maxSend: 1<<31 - 1}
	for _, o := range cc.opts.callOpts {
		o.apply(&ci)
	}
	for _, o := range opts {
		o.apply(&ci)
	}
	name := ci.subtype
	if name == "" {
		name = codec.ProtoName
	}
	c := codec.Get(name)
	if c == nil {
		return ci, nil, nil, status.Errorf(codes.Internal, "grpc: no codec registered for content-subtype %s", name)
	}
	var comp compress.Compressor
	if ci.compressor != "" && ci.compressor != "identity" {
		if comp = compress.Get(ci.compressor); comp == nil {
			return ci, nil, nil, status.Errorf(codes.Internal, "grpc: Compressor is not installed for requested grpc-encoding %q", ci.compressor)
		}
	}
	return ci, c, comp, nil
}

func (cc *ClientConn) callHdr(ctx context.Context, method string, ci *callInfo) (transport.CallHdr, error) {
	h := transport.CallHdr{
		Method:         method,
		ContentSubtype: ci.subtype,
		MaxRecvMsgSize: ci.maxRecv,
		AcceptCompress: compress.Names(),
	}
	if ci.compressor != "identity" {
		h.SendCompress = ci.compressor
	}
	if d, ok := ctx.Deadline(); ok {
		h.Deadline = d
	}
	if md, added, ok := metadata.FromOutgoingContextRaw(ctx); ok {
		if err := validateOutgoing(md, added); err != nil {
			return h, err
		}
		h.MD, h.AddedMD = md, added
	}
	if len(cc.opts.perRPC) > 0 || len(ci.perRPC) > 0 {
		if err := cc.addPerRPCMetadata(ctx, method, ci, &h); err != nil {
			return h, err
		}
	}
	return h, nil
}

// validateOutgoing checks the call's metadata before anything is sent: a
// key or value HTTP/2 cannot carry (capitals, control bytes) fails the
// call with INTERNAL here, as in grpc-go, rather than as a malformed
// request at the server. Keys added in pairs go out in lower case.
func validateOutgoing(md metadata.MD, added [][]string) error {
	if err := metadata.ValidateMD(md); err != nil {
		return status.Error(codes.Internal, err.Error())
	}
	for _, kv := range added {
		for i := 0; i+1 < len(kv); i += 2 {
			if err := metadata.Validate(strings.ToLower(kv[i]), kv[i+1]); err != nil {
				return status.Error(codes.Internal, err.Error())
			}
		}
	}
	return nil
}

// addPerRPCMetadata asks the call's per-RPC credentials for their metadata.
func (cc *ClientConn) addPerRPCMetadata(ctx context.Context, method string, ci *callInfo, h *transport.CallHdr) error {
	secure := cc.opts.creds.Info().SecurityProtocol != "insecure"
	svc := method
	if i := strings.LastIndexByte(method, '/'); i > 0 {
		svc = method[:i]
	}
	// The audience leaves out the default port, as grpc-go's does: tokens
	// minted for it (self-signed JWTs) must name what the server expects.
	uri := "https://" + strings.TrimSuffix(cc.authority, ":443") + svc
	// A full slice expression so that appending never writes into the
	// context's own slice.
	h.AddedMD = h.AddedMD[:len(h.AddedMD):len(h.AddedMD)]
	for _, list := range [][]credentials.PerRPCCredentials{cc.opts.perRPC, ci.perRPC} {
		for _, c := range list {
			if c.RequireTransportSecurity() && !secure {
				return status.Error(codes.Unauthenticated, "grpc: per-RPC credentials require transport security; the connection is insecure")
			}
			m, err := c.GetRequestMetadata(ctx, uri)
			if err != nil {
				if _, ok := status.FromError(err); ok {
					return err
				}
				return status.Errorf(codes.Unauthenticated, "grpc: per-RPC credentials failed: %v", err)
			}
			kv := make([]string, 0, 2*len(m))
			for k, v := range m {
				kv = append(kv, k, v)
			}
			h.AddedMD = append(h.AddedMD, kv)
		}
	}
	return nil
}

// newTransportStream picks a connection and starts the stream there,
// retrying once on another connection if the first never processed it.
// The caller calls done (never nil) with the call's error once the stream
// has ended: the picker's PickResult.Done, if it gave one.
func (cc *ClientConn) newTransportStream(ctx context.Context, method string, ci *callInfo, h *transport.CallHdr, reframe func() error) (_ *transport.Stream, done func(error), _ error) {
	for attempt := 0; ; attempt++ {
		t, pickDone, err := cc.pick(ctx, method, ci.waitForReady)
		if err != nil {
			if h.Buf != nil {
				// NewStream would have taken it; nothing will now.
				bufpool.Put(h.Buf)
				h.Buf, h.Data = nil, nil
			}
			return nil, nil, err
		}
		s, err := t.NewStream(ctx, h)
		if err == nil {
			return s, doneFunc(pickDone), nil
		}
		if pickDone != nil {
			pickDone(balancer.DoneInfo{Err: err})
		}
		if !transport.IsUnprocessed(err) || attempt > 0 || ctx.Err() != nil {
			return nil, nil, toStatusErr(err)
		}
		if reframe != nil {
			if err := reframe(); err != nil {
				return nil, nil, err
			}
		}
	}
}

// noDone is doneFunc's answer for a pick without Done.
func noDone(error) {}

// doneFunc turns a picker's Done into what a call calls when it ends.
func doneFunc(pickDone func(balancer.DoneInfo)) func(error) {
	if pickDone == nil {
		return noDone
	}
	return func(err error) { pickDone(balancer.DoneInfo{Err: err}) }
}

func invoke(ctx context.Context, method string, req, reply any, cc *ClientConn, opts ...CallOption) error {
	if err := ctx.Err(); err != nil {
		// Over before it began: nothing goes to the server.
		return status.FromContextError(err).Err()
	}
	ci, c, comp, err := cc.callInfo(opts)
	if err != nil {
		return err
	}
	h, err := cc.callHdr(ctx, method, &ci)
	if err != nil {
		return err
	}
	h.EndStream = true
	h.SingleResponse = true
	reframe := func() error {
		buf, framed, err := envelope.Encode(c, comp, req, ci.maxSend)
		h.Buf, h.Data = buf, framed
		return err
	}
	for attempt := 0; ; attempt++ {
		if err := reframe(); err != nil {
			return err
		}
		s, done, err := cc.newTransportStream(ctx, method, &ci, &h, reframe)
		if err != nil {
			return err
		}
		err = recvUnary(ctx, s, c, reply, &ci)
		done(err)
		if err != nil && s.Unprocessed() && attempt == 0 && ctx.Err() == nil {
			continue // the server never saw it: safe to send again
		}
		return err
	}
}

// recvUnary reads exactly one response message and the status.
func recvUnary(ctx context.Context, s *transport.Stream, c codec.Codec, reply any, ci *callInfo) error {
	m, err := s.RecvMsg()
	defer fillCallInfo(s, ci)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return status.Error(codes.Internal, "grpc: the server sent no response message")
		}
		return toStatusErr(err)
	}
	uerr := envelope.Decode(envelope.Client, c, compress.Get(s.RecvCompress()), s.RecvCompress(), m.Data, m.Compressed, ci.maxRecv, reply)
	m.Release()
	m2, err := s.RecvMsg()
	if err == nil {
		m2.Release()
		s.Cancel(status.New(codes.Internal, "grpc: more than one response message"))
		return status.Error(codes.Internal, "grpc: the server sent more than one response message for a unary call")
	}
	if !errors.Is(err, io.EOF) {
		return toStatusErr(err)
	}
	return uerr
}

func fillCallInfo(s *transport.Stream, ci *callInfo) {
	if ci.header != nil {
		select {
		case <-s.Done():
		default:
		}
		md, _ := s.Header()
		*ci.header = md
	}
	if ci.trailer != nil {
		*ci.trailer = s.Trailer()
	}
	if ci.peer != nil {
		c := s.Conn()
		*ci.peer = peer.Peer{Addr: c.RemoteAddr(), LocalAddr: c.LocalAddr()}
		if ai, ok := c.AuthInfo().(credentials.AuthInfo); ok {
			ci.peer.AuthInfo = ai
		}
	}
}

// toStatusErr turns a transport error into the status error users see.
func toStatusErr(err error) error {
	if err == nil {
		return nil
	}
	var te *transport.Error
	if errors.As(err, &te) {
		return te.St.Err()
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Error(codes.Unavailable, err.Error())
}
