package crosstest

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/client"
	h2codes "github.com/h2rpc/h2rpc/codes"
	h2connectivity "github.com/h2rpc/h2rpc/connectivity"
	h2creds "github.com/h2rpc/h2rpc/credentials"
	h2keepalive "github.com/h2rpc/h2rpc/keepalive"
	h2md "github.com/h2rpc/h2rpc/metadata"
	h2peer "github.com/h2rpc/h2rpc/peer"
	"github.com/h2rpc/h2rpc/server"
	h2status "github.com/h2rpc/h2rpc/status"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	gcodes "google.golang.org/grpc/codes"
	gconnectivity "google.golang.org/grpc/connectivity"
	gcreds "google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	_ "google.golang.org/grpc/encoding/gzip" // grpc-go's gzip, registered as "gzip"
	gkeepalive "google.golang.org/grpc/keepalive"
	gmd "google.golang.org/grpc/metadata"
	gpeer "google.golang.org/grpc/peer"
	gstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// The methods of cross.Test. Requests are BytesValue everywhere.
const (
	mUnary      = "/cross.Test/Unary"      // echoes; with x-respond-gzip, grpc-go's handler picks gzip
	mBidi       = "/cross.Test/Bidi"       // echoes every message
	mSlow       = "/cross.Test/Slow"       // reports its start, waits for release, echoes
	mWait       = "/cross.Test/Wait"       // reports its start, then how its context ended
	mWaitStream = "/cross.Test/WaitStream" // the same as a bidi stream
	mMeta       = "/cross.Test/Meta"       // echoes x-* metadata as echo-* headers and trail-* trailers; "fail" fails with details
	mMetaStream = "/cross.Test/MetaStream" // the same as a bidi stream, headers sent first
	mDeadline   = "/cross.Test/Deadline"   // Int64Value: the nanoseconds left until the deadline, -1 for none
	mPeer       = "/cross.Test/Peer"       // StringValue: "<auth type> <CN of the client certificate or ->"
)

// failMessage is the status message of a failing Meta call: non-ASCII,
// '%' and control characters all need percent-encoding on the wire.
const failMessage = "precondition ✗ failed: 100%\tdone\n"

func failDetails() []proto.Message {
	return []proto.Message{wrapperspb.String("detail ✓"), wrapperspb.Int64(42)}
}

// service is the state the handlers of both runtimes share with a test.
type service struct {
	started chan struct{} // Slow, Wait, WaitStream: one value per call that began
	release chan struct{} // Slow: closed to let the calls return
	ended   chan error    // Wait, WaitStream: why the handler's context ended
}

func newService() *service {
	// Buffered beyond what any test starts, so no handler blocks on them.
	return &service{started: make(chan struct{}, 64), release: make(chan struct{}), ended: make(chan error, 64)}
}

func (s *service) slow(ctx context.Context, in *wrapperspb.BytesValue) (proto.Message, error) {
	s.started <- struct{}{}
	select {
	case <-s.release:
		return in, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *service) wait(ctx context.Context, _ *wrapperspb.BytesValue) (proto.Message, error) {
	s.started <- struct{}{}
	<-ctx.Done()
	s.ended <- ctx.Err()
	return nil, ctx.Err()
}

func deadlineLeft(ctx context.Context, _ *wrapperspb.BytesValue) (proto.Message, error) {
	d, ok := ctx.Deadline()
	if !ok {
		return wrapperspb.Int64(-1), nil
	}
	return wrapperspb.Int64(int64(time.Until(d))), nil
}

func echo(_ context.Context, in *wrapperspb.BytesValue) (proto.Message, error) { return in, nil }

// msgStream is what the server streams of both runtimes have in common.
type msgStream interface {
	Context() context.Context
	SendMsg(m any) error
	RecvMsg(m any) error
}

func echoStream(st msgStream) error {
	for {
		in := new(wrapperspb.BytesValue)
		if err := st.RecvMsg(in); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if err := st.SendMsg(in); err != nil {
			return err
		}
	}
}

func (s *service) waitStream(st msgStream) error {
	s.started <- struct{}{}
	<-st.Context().Done()
	s.ended <- st.Context().Err()
	return st.Context().Err()
}

// echoMD maps request metadata x-k to response header echo-k and trailer
// trail-k.
func echoMD(md map[string][]string) (header, trailer map[string][]string) {
	header, trailer = map[string][]string{}, map[string][]string{}
	for k, v := range md {
		if name, ok := strings.CutPrefix(k, "x-"); ok {
			header["echo-"+name] = v
			trailer["trail-"+name] = v
		}
	}
	return header, trailer
}

func certCN(state tls.ConnectionState) string {
	if len(state.PeerCertificates) == 0 {
		return "-"
	}
	return state.PeerCertificates[0].Subject.CommonName
}

// --- the service on h2rpc ---

func h2rpcUnary(f func(*service, context.Context, *wrapperspb.BytesValue) (proto.Message, error)) server.MethodHandler {
	// No test installs interceptors, so the interceptor argument is nil.
	return func(srv any, ctx context.Context, dec func(any) error, _ server.UnaryInterceptor) (any, error) {
		in := new(wrapperspb.BytesValue)
		if err := dec(in); err != nil {
			return nil, err
		}
		return f(srv.(*service), ctx, in)
	}
}

func stateless(f func(context.Context, *wrapperspb.BytesValue) (proto.Message, error)) func(*service, context.Context, *wrapperspb.BytesValue) (proto.Message, error) {
	return func(_ *service, ctx context.Context, in *wrapperspb.BytesValue) (proto.Message, error) {
		return f(ctx, in)
	}
}

func h2rpcFail() error {
	st, err := h2status.New(h2codes.FailedPrecondition, failMessage).WithDetails(failDetails()...)
	if err != nil {
		return err
	}
	return st.Err()
}

var h2rpcDesc = server.ServiceDesc{
	ServiceName: "cross.Test",
	Methods: []server.MethodDesc{
		{MethodName: "Unary", Handler: h2rpcUnary(stateless(echo))},
		{MethodName: "Slow", Handler: h2rpcUnary((*service).slow)},
		{MethodName: "Wait", Handler: h2rpcUnary((*service).wait)},
		{MethodName: "Deadline", Handler: h2rpcUnary(stateless(deadlineLeft))},
		{MethodName: "Meta", Handler: h2rpcUnary(stateless(func(ctx context.Context, in *wrapperspb.BytesValue) (proto.Message, error) {
			md, _ := h2md.FromIncomingContext(ctx)
			hdr, trl := echoMD(md)
			if err := server.SetHeader(ctx, hdr); err != nil {
				return nil, err
			}
			if err := server.SetTrailer(ctx, trl); err != nil {
				return nil, err
			}
			if string(in.Value) == "fail" {
				return nil, h2rpcFail()
			}
			return in, nil
		}))},
		{MethodName: "Peer", Handler: h2rpcUnary(stateless(func(ctx context.Context, _ *wrapperspb.BytesValue) (proto.Message, error) {
			p, ok := h2peer.FromContext(ctx)
			if !ok || p.AuthInfo == nil {
				return wrapperspb.String("none -"), nil
			}
			cn := "-"
			if ti, ok := p.AuthInfo.(h2creds.TLSInfo); ok {
				cn = certCN(ti.State)
			}
			return wrapperspb.String(p.AuthInfo.AuthType() + " " + cn), nil
		}))},
	},
	Streams: []server.StreamDesc{
		{StreamName: "Bidi", ServerStreams: true, ClientStreams: true,
			Handler: func(_ any, st server.Stream) error { return echoStream(st) }},
		{StreamName: "WaitStream", ServerStreams: true, ClientStreams: true,
			Handler: func(srv any, st server.Stream) error { return srv.(*service).waitStream(st) }},
		{StreamName: "MetaStream", ServerStreams: true, ClientStreams: true,
			Handler: func(_ any, st server.Stream) error {
				md, _ := h2md.FromIncomingContext(st.Context())
				hdr, trl := echoMD(md)
				if err := st.SendHeader(hdr); err != nil {
					return err
				}
				st.SetTrailer(trl)
				first := new(wrapperspb.BytesValue)
				if err := st.RecvMsg(first); err != nil {
					return err
				}
				if string(first.Value) == "fail" {
					return h2rpcFail()
				}
				if err := st.SendMsg(first); err != nil {
					return err
				}
				return echoStream(st)
			}},
	},
}

// --- the same service on grpc-go ---

func grpcUnary(f func(*service, context.Context, *wrapperspb.BytesValue) (proto.Message, error)) func(any, context.Context, func(any) error, grpc.UnaryServerInterceptor) (any, error) {
	// No test installs interceptors, so the interceptor argument is nil.
	return func(srv any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
		in := new(wrapperspb.BytesValue)
		if err := dec(in); err != nil {
			return nil, err
		}
		return f(srv.(*service), ctx, in)
	}
}

func grpcFail() error {
	var details []protoadapt.MessageV1 // grpc-go's WithDetails takes the older message API
	for _, d := range failDetails() {
		details = append(details, protoadapt.MessageV1Of(d))
	}
	st, err := gstatus.New(gcodes.FailedPrecondition, failMessage).WithDetails(details...)
	if err != nil {
		return err
	}
	return st.Err()
}

var grpcDesc = grpc.ServiceDesc{
	ServiceName: "cross.Test",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{
		{MethodName: "Unary", Handler: grpcUnary(stateless(func(ctx context.Context, in *wrapperspb.BytesValue) (proto.Message, error) {
			if md, _ := gmd.FromIncomingContext(ctx); len(md.Get("x-respond-gzip")) > 0 {
				if err := grpc.SetSendCompressor(ctx, "gzip"); err != nil {
					return nil, err
				}
			}
			return in, nil
		}))},
		{MethodName: "Slow", Handler: grpcUnary((*service).slow)},
		{MethodName: "Wait", Handler: grpcUnary((*service).wait)},
		{MethodName: "Deadline", Handler: grpcUnary(stateless(deadlineLeft))},
		{MethodName: "Meta", Handler: grpcUnary(stateless(func(ctx context.Context, in *wrapperspb.BytesValue) (proto.Message, error) {
			md, _ := gmd.FromIncomingContext(ctx)
			hdr, trl := echoMD(md)
			if err := grpc.SetHeader(ctx, hdr); err != nil {
				return nil, err
			}
			if err := grpc.SetTrailer(ctx, trl); err != nil {
				return nil, err
			}
			if string(in.Value) == "fail" {
				return nil, grpcFail()
			}
			return in, nil
		}))},
		{MethodName: "Peer", Handler: grpcUnary(stateless(func(ctx context.Context, _ *wrapperspb.BytesValue) (proto.Message, error) {
			p, ok := gpeer.FromContext(ctx)
			if !ok || p.AuthInfo == nil {
				return wrapperspb.String("none -"), nil
			}
			cn := "-"
			if ti, ok := p.AuthInfo.(gcreds.TLSInfo); ok {
				cn = certCN(ti.State)
			}
			return wrapperspb.String(p.AuthInfo.AuthType() + " " + cn), nil
		}))},
	},
	Streams: []grpc.StreamDesc{
		{StreamName: "Bidi", ServerStreams: true, ClientStreams: true,
			Handler: func(_ any, st grpc.ServerStream) error { return echoStream(st) }},
		{StreamName: "WaitStream", ServerStreams: true, ClientStreams: true,
			Handler: func(srv any, st grpc.ServerStream) error { return srv.(*service).waitStream(st) }},
		{StreamName: "MetaStream", ServerStreams: true, ClientStreams: true,
			Handler: func(_ any, st grpc.ServerStream) error {
				md, _ := gmd.FromIncomingContext(st.Context())
				hdr, trl := echoMD(md)
				if err := st.SendHeader(hdr); err != nil {
					return err
				}
				st.SetTrailer(trl)
				first := new(wrapperspb.BytesValue)
				if err := st.RecvMsg(first); err != nil {
					return err
				}
				if string(first.Value) == "fail" {
					return grpcFail()
				}
				if err := st.SendMsg(first); err != nil {
					return err
				}
				return echoStream(st)
			}},
	},
}

// --- directions ---

// serverConfig is what a test asks of a server, in either runtime.
type serverConfig struct {
	tls    *tls.Config
	maxMsg int // receive and send limit; 0: the runtime's defaults
	policy *enforcement
}

type enforcement struct {
	minTime             time.Duration
	permitWithoutStream bool
}

// clientConfig is what a test asks of a client, in either runtime.
type clientConfig struct {
	tls       *tls.Config
	maxMsg    int
	keepalive *clientKeepalive
}

type clientKeepalive struct {
	time, timeout       time.Duration
	permitWithoutStream bool
}

// stoppable is a running server: *server.Server and *grpc.Server both are.
type stoppable interface {
	GracefulStop()
	Stop()
}

// direction pairs a client of one runtime with a server of the other.
type direction struct {
	name   string
	dial   func(t *testing.T, addr string, cfg clientConfig) conn
	serve  func(t *testing.T, lis net.Listener, svc *service, cfg serverConfig) stoppable
	client string // the client's runtime
	server string // the server's runtime
}

var directions = []direction{
	{name: "h2rpc-client_grpc-go-server", dial: dialH2RPC, serve: serveGRPC, client: "h2rpc", server: "grpc-go"},
	{name: "grpc-go-client_h2rpc-server", dial: dialGRPC, serve: serveH2RPC, client: "grpc-go", server: "h2rpc"},
}

// start serves svc with cfg on a fresh loopback port.
func (d direction) start(t *testing.T, svc *service, cfg serverConfig) (stoppable, string) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return d.serve(t, lis, svc, cfg), lis.Addr().String()
}

// callOpts are a call's options in runtime-neutral form; the call fills in
// the fields below the line.
type callOpts struct {
	compressor   string
	md           []string // key, value pairs of request metadata
	waitForReady bool

	header, trailer map[string][]string
	peerAuth        string // auth type the client saw ("" for none)
	peerCN          string // CN of the server certificate the client saw
}

// conn is a client connection of either runtime.
type conn interface {
	invoke(ctx context.Context, method string, in, out proto.Message, o *callOpts) error
	bidi(ctx context.Context, method string, o *callOpts) (stream, error)
	// connect starts connecting without a call.
	connect()
	// waitReady waits until the connection is READY (ready) or has left
	// READY (!ready); false if ctx ended first.
	waitReady(ctx context.Context, ready bool) bool
}

// stream is a client stream of either runtime.
type stream interface {
	SendMsg(m any) error
	RecvMsg(m any) error
	CloseSend() error
	header() (map[string][]string, error)
	trailer() map[string][]string
}

// rpcStatus is a call's outcome in runtime-neutral form.
type rpcStatus struct {
	code    gcodes.Code
	msg     string
	details []any
}

func statusOf(err error) rpcStatus {
	if err == nil {
		return rpcStatus{code: gcodes.OK}
	}
	if s, ok := h2status.FromError(err); ok {
		return rpcStatus{code: gcodes.Code(s.Code()), msg: s.Message(), details: s.Details()}
	}
	if s, ok := gstatus.FromError(err); ok {
		return rpcStatus{code: s.Code(), msg: s.Message(), details: s.Details()}
	}
	return rpcStatus{code: gcodes.Unknown, msg: err.Error()}
}

func codeOf(err error) gcodes.Code { return statusOf(err).code }

// serveUntilCleanup runs serve on lis until the test ends; then stops s and
// waits for serve to return.
func serveUntilCleanup(t *testing.T, s stoppable, lis net.Listener, serve func(net.Listener) error) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		serve(lis)
	}()
	t.Cleanup(func() {
		s.Stop()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return 10 s after Stop")
		}
	})
}

// --- h2rpc client and server ---

func serveH2RPC(t *testing.T, lis net.Listener, svc *service, cfg serverConfig) stoppable {
	var opts []server.Option
	if cfg.tls != nil {
		opts = append(opts, server.Creds(h2creds.NewTLS(cfg.tls)))
	}
	if cfg.maxMsg > 0 {
		opts = append(opts, server.MaxRecvMsgSize(cfg.maxMsg), server.MaxSendMsgSize(cfg.maxMsg))
	}
	if p := cfg.policy; p != nil {
		opts = append(opts, server.KeepaliveEnforcementPolicy(h2keepalive.EnforcementPolicy{
			MinTime: p.minTime, PermitWithoutStream: p.permitWithoutStream}))
	}
	s := server.New(opts...)
	s.RegisterService(&h2rpcDesc, svc)
	serveUntilCleanup(t, s, lis, s.Serve)
	return s
}

func dialH2RPC(t *testing.T, addr string, cfg clientConfig) conn {
	opts := []client.DialOption{client.WithInsecure()}
	if cfg.tls != nil {
		opts = []client.DialOption{client.WithTransportCredentials(h2creds.NewTLS(cfg.tls))}
	}
	if cfg.maxMsg > 0 {
		opts = append(opts, client.WithDefaultCallOptions(client.MaxRecvMsgSize(cfg.maxMsg), client.MaxSendMsgSize(cfg.maxMsg)))
	}
	if ka := cfg.keepalive; ka != nil {
		opts = append(opts, client.WithKeepaliveParams(h2keepalive.ClientParameters{
			Time: ka.time, Timeout: ka.timeout, PermitWithoutStream: ka.permitWithoutStream}))
	}
	cc, err := client.New(addr, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { cc.Close() })
	return h2rpcConn{cc}
}

type h2rpcConn struct{ cc *client.ClientConn }

func (o *callOpts) h2rpc(ctx context.Context) (context.Context, []client.CallOption) {
	if o == nil {
		return ctx, nil
	}
	var opts []client.CallOption
	if len(o.md) > 0 {
		ctx = h2md.AppendToOutgoingContext(ctx, o.md...)
	}
	if o.compressor != "" {
		opts = append(opts, client.UseCompressor(o.compressor))
	}
	if o.waitForReady {
		opts = append(opts, client.WaitForReady(true))
	}
	return ctx, opts
}

func (c h2rpcConn) invoke(ctx context.Context, method string, in, out proto.Message, o *callOpts) error {
	ctx, opts := o.h2rpc(ctx)
	var hdr, trl h2md.MD
	var p h2peer.Peer
	opts = append(opts, client.Header(&hdr), client.Trailer(&trl), client.Peer(&p))
	err := c.cc.Invoke(ctx, method, in, out, opts...)
	if o != nil {
		o.header, o.trailer = hdr, trl
		if p.AuthInfo != nil {
			o.peerAuth = p.AuthInfo.AuthType()
			if ti, ok := p.AuthInfo.(h2creds.TLSInfo); ok {
				o.peerCN = certCN(ti.State)
			}
		}
	}
	return err
}

func (c h2rpcConn) bidi(ctx context.Context, method string, o *callOpts) (stream, error) {
	ctx, opts := o.h2rpc(ctx)
	st, err := c.cc.NewStream(ctx, &client.StreamDesc{ServerStreams: true, ClientStreams: true}, method, opts...)
	if err != nil {
		return nil, err
	}
	return h2rpcStream{st}, nil
}

func (c h2rpcConn) connect() { c.cc.Connect() }

func (c h2rpcConn) waitReady(ctx context.Context, ready bool) bool {
	for {
		s := c.cc.GetState()
		if (s == h2connectivity.Ready) == ready {
			return true
		}
		if !c.cc.WaitForStateChange(ctx, s) {
			return false
		}
	}
}

type h2rpcStream struct{ client.Stream }

func (s h2rpcStream) header() (map[string][]string, error) { return s.Header() }
func (s h2rpcStream) trailer() map[string][]string         { return s.Trailer() }

// --- grpc-go client and server ---

func serveGRPC(t *testing.T, lis net.Listener, svc *service, cfg serverConfig) stoppable {
	var opts []grpc.ServerOption
	if cfg.tls != nil {
		opts = append(opts, grpc.Creds(gcreds.NewTLS(cfg.tls)))
	}
	if cfg.maxMsg > 0 {
		opts = append(opts, grpc.MaxRecvMsgSize(cfg.maxMsg), grpc.MaxSendMsgSize(cfg.maxMsg))
	}
	if p := cfg.policy; p != nil {
		opts = append(opts, grpc.KeepaliveEnforcementPolicy(gkeepalive.EnforcementPolicy{
			MinTime: p.minTime, PermitWithoutStream: p.permitWithoutStream}))
	}
	s := grpc.NewServer(opts...)
	s.RegisterService(&grpcDesc, svc)
	serveUntilCleanup(t, s, lis, s.Serve)
	return s
}

func dialGRPC(t *testing.T, addr string, cfg clientConfig) conn {
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if cfg.tls != nil {
		opts = []grpc.DialOption{grpc.WithTransportCredentials(gcreds.NewTLS(cfg.tls))}
	}
	if cfg.maxMsg > 0 {
		opts = append(opts, grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(cfg.maxMsg), grpc.MaxCallSendMsgSize(cfg.maxMsg)))
	}
	if ka := cfg.keepalive; ka != nil {
		opts = append(opts, grpc.WithKeepaliveParams(gkeepalive.ClientParameters{
			Time: ka.time, Timeout: ka.timeout, PermitWithoutStream: ka.permitWithoutStream}))
	}
	cc, err := grpc.NewClient("passthrough:///"+addr, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { cc.Close() })
	return grpcConn{cc}
}

type grpcConn struct{ cc *grpc.ClientConn }

func (o *callOpts) grpc(ctx context.Context) (context.Context, []grpc.CallOption) {
	if o == nil {
		return ctx, nil
	}
	var opts []grpc.CallOption
	if len(o.md) > 0 {
		ctx = gmd.AppendToOutgoingContext(ctx, o.md...)
	}
	if o.compressor != "" {
		opts = append(opts, grpc.UseCompressor(o.compressor))
	}
	if o.waitForReady {
		opts = append(opts, grpc.WaitForReady(true))
	}
	return ctx, opts
}

func (c grpcConn) invoke(ctx context.Context, method string, in, out proto.Message, o *callOpts) error {
	ctx, opts := o.grpc(ctx)
	var hdr, trl gmd.MD
	var p gpeer.Peer
	opts = append(opts, grpc.Header(&hdr), grpc.Trailer(&trl), grpc.Peer(&p))
	err := c.cc.Invoke(ctx, method, in, out, opts...)
	if o != nil {
		o.header, o.trailer = hdr, trl
		if p.AuthInfo != nil {
			o.peerAuth = p.AuthInfo.AuthType()
			if ti, ok := p.AuthInfo.(gcreds.TLSInfo); ok {
				o.peerCN = certCN(ti.State)
			}
		}
	}
	return err
}

func (c grpcConn) bidi(ctx context.Context, method string, o *callOpts) (stream, error) {
	ctx, opts := o.grpc(ctx)
	st, err := c.cc.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, method, opts...)
	if err != nil {
		return nil, err
	}
	return grpcStream{st}, nil
}

func (c grpcConn) connect() { c.cc.Connect() }

func (c grpcConn) waitReady(ctx context.Context, ready bool) bool {
	for {
		s := c.cc.GetState()
		if (s == gconnectivity.Ready) == ready {
			return true
		}
		if !c.cc.WaitForStateChange(ctx, s) {
			return false
		}
	}
}

type grpcStream struct{ grpc.ClientStream }

func (s grpcStream) header() (map[string][]string, error) { return s.Header() }
func (s grpcStream) trailer() map[string][]string         { return s.Trailer() }
