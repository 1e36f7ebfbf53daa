package client

import (
	"context"
	"net"
	"strings"
	"time"

	"github.com/h2rpc/h2rpc/credentials"
	"github.com/h2rpc/h2rpc/keepalive"
	"github.com/h2rpc/h2rpc/metadata"
	"github.com/h2rpc/h2rpc/peer"
)

type dialOptions struct {
	creds             credentials.TransportCredentials
	authority         string
	userAgent         string
	unaryInts         []UnaryInterceptor
	streamInts        []StreamInterceptor
	callOpts          []CallOption
	balancer          string
	dialer            func(ctx context.Context, addr string) (net.Conn, error)
	streamWindow      uint32
	connWindow        uint32
	staticWindow      bool
	maxFrameSize      uint32
	maxHeaderListSize uint32
	keepalive         keepalive.ClientParameters
	perRPC            []credentials.PerRPCCredentials
}

// DialOption configures a ClientConn.
type DialOption func(*dialOptions)

// WithInsecure makes connections in cleartext (HTTP/2 with prior
// knowledge). Either it or WithTransportCredentials is required.
func WithInsecure() DialOption {
	return func(o *dialOptions) { o.creds = credentials.Insecure() }
}

// WithTransportCredentials secures connections with c.
func WithTransportCredentials(c credentials.TransportCredentials) DialOption {
	return func(o *dialOptions) { o.creds = c }
}

// WithAuthority sets the :authority of every call. Default: the target's
// endpoint.
func WithAuthority(a string) DialOption { return func(o *dialOptions) { o.authority = a } }

// WithUserAgent puts ua in front of the library's user-agent.
func WithUserAgent(ua string) DialOption { return func(o *dialOptions) { o.userAgent = ua } }

// WithChainUnaryInterceptor adds unary interceptors; the first given is the
// outermost.
func WithChainUnaryInterceptor(is ...UnaryInterceptor) DialOption {
	return func(o *dialOptions) { o.unaryInts = append(o.unaryInts, is...) }
}

// WithChainStreamInterceptor adds stream interceptors; the first given is
// the outermost.
func WithChainStreamInterceptor(is ...StreamInterceptor) DialOption {
	return func(o *dialOptions) { o.streamInts = append(o.streamInts, is...) }
}

// WithDefaultCallOptions applies opts to every call, before the call's own.
func WithDefaultCallOptions(opts ...CallOption) DialOption {
	return func(o *dialOptions) { o.callOpts = append(o.callOpts, opts...) }
}

// WithBalancer selects the load-balancing policy by name ("pick_first",
// the default, or "round_robin").
func WithBalancer(name string) DialOption { return func(o *dialOptions) { o.balancer = name } }

// WithContextDialer makes connections with f instead of a TCP dial.
func WithContextDialer(f func(ctx context.Context, addr string) (net.Conn, error)) DialOption {
	return func(o *dialOptions) { o.dialer = f }
}

// WithInitialWindowSize sets each stream's inbound window to start with;
// BDP estimation still grows it (see WithStaticWindow). Default 64 KiB.
func WithInitialWindowSize(n uint32) DialOption {
	return func(o *dialOptions) { o.streamWindow = n }
}

// WithInitialConnWindowSize sets each connection's inbound window to
// start with; BDP estimation may grow it. Default 1 MiB
// (connection window costs no memory: stream windows bound what is
// buffered).
func WithInitialConnWindowSize(n uint32) DialOption {
	return func(o *dialOptions) { o.connWindow = n }
}

// WithStaticWindow turns BDP estimation off: windows stay at their
// initial sizes. Default: off (windows grow to the bandwidth-delay
// product, up to 16 MiB).
func WithStaticWindow(static bool) DialOption {
	return func(o *dialOptions) { o.staticWindow = static }
}

// WithMaxHeaderListSize bounds the response header list a server may
// send. Default 16 MiB.
func WithMaxHeaderListSize(n uint32) DialOption {
	return func(o *dialOptions) { o.maxHeaderListSize = n }
}

// minKeepaliveTime is the shortest client keepalive interval allowed.
const minKeepaliveTime = 10 * time.Second

// WithKeepaliveParams makes connections ping the server when quiet (gRFC
// A8). Time below 10 s is raised to 10 s. A server that answers
// GOAWAY(too_many_pings) makes later connections of this ClientConn ping
// half as often. Default: no keepalive.
func WithKeepaliveParams(p keepalive.ClientParameters) DialOption {
	return func(o *dialOptions) {
		if p.Time > 0 && p.Time < minKeepaliveTime {
			p.Time = minKeepaliveTime
		}
		o.keepalive = p
	}
}

// callInfo is what a call's options decide.
type callInfo struct {
	header       *metadata.MD
	trailer      *metadata.MD
	peer         *peer.Peer
	maxRecv      int
	maxSend      int
	waitForReady bool
	subtype      string
	compressor   string
	perRPC       []credentials.PerRPCCredentials
}

// CallOption configures one call.
type CallOption interface {
	apply(*callInfo)
}

type callOptionFunc func(*callInfo)

func (f callOptionFunc) apply(ci *callInfo) { f(ci) }

// Header stores the response headers in *md when the call has them.
func Header(md *metadata.MD) CallOption {
	return callOptionFunc(func(ci *callInfo) { ci.header = md })
}

// Trailer stores the response trailers in *md when the call ends.
func Trailer(md *metadata.MD) CallOption {
	return callOptionFunc(func(ci *callInfo) { ci.trailer = md })
}

// Peer stores the server's address and auth info in *p.
func Peer(p *peer.Peer) CallOption {
	return callOptionFunc(func(ci *callInfo) { ci.peer = p })
}

// MaxRecvMsgSize bounds a response message. Default 4 MiB.
func MaxRecvMsgSize(n int) CallOption {
	return callOptionFunc(func(ci *callInfo) { ci.maxRecv = n })
}

// MaxSendMsgSize bounds a request message. Default 2 GiB - 1.
func MaxSendMsgSize(n int) CallOption {
	return callOptionFunc(func(ci *callInfo) { ci.maxSend = n })
}

// WaitForReady makes the call wait for a connection instead of failing
// with UNAVAILABLE while none is ready. Default false.
func WaitForReady(b bool) CallOption {
	return callOptionFunc(func(ci *callInfo) { ci.waitForReady = b })
}

// CallContentSubtype selects the codec by name (content-type
// application/grpc+name). The name is lower-cased, as grpc-go does, since
// codecs are registered and servers match them in lower case. Default
// "proto".
func CallContentSubtype(s string) CallOption {
	s = strings.ToLower(s)
	return callOptionFunc(func(ci *callInfo) { ci.subtype = s })
}

// UseCompressor compresses the call's request messages with the named
// compressor (see package compress; "gzip" is built in). Default: none.
func UseCompressor(name string) CallOption {
	return callOptionFunc(func(ci *callInfo) { ci.compressor = name })
}

// WithPerRPCCredentials adds credentials whose metadata (a token, say)
// goes with every call. Calls fail with UNAUTHENTICATED, unsent, if the
// credentials require transport security and the connection is insecure.
func WithPerRPCCredentials(c credentials.PerRPCCredentials) DialOption {
	return func(o *dialOptions) { o.perRPC = append(o.perRPC, c) }
}

// PerRPCCredentials adds credentials for this call only (see
// WithPerRPCCredentials).
func PerRPCCredentials(c credentials.PerRPCCredentials) CallOption {
	return callOptionFunc(func(ci *callInfo) { ci.perRPC = append(ci.perRPC, c) })
}

// DefaultClientMaxFrameSize is the SETTINGS_MAX_FRAME_SIZE a client
// advertises unless WithMaxFrameSize says otherwise. Servers that honour
// it (h2rpc's; grpc-go's always send 16 KiB) then send a 1 MiB message in
// 4 frames instead of 64: measured here, server-streaming 1 MiB messages
// took about 15 % less CPU per message. It stays at 256 KiB so that one
// stream's frame does not hold up the connection's other streams for long.
const DefaultClientMaxFrameSize = 256 << 10

// WithMaxFrameSize sets the largest HTTP/2 frame the client accepts
// (SETTINGS_MAX_FRAME_SIZE, 16 KiB to 16 MiB - 1); servers that honour it
// send large responses in fewer frames, which the client reads straight
// into the message's buffer. Default DefaultClientMaxFrameSize.
func WithMaxFrameSize(n uint32) DialOption {
	return func(o *dialOptions) { o.maxFrameSize = n }
}
