package server

import (
	"time"

	"github.com/h2rpc/h2rpc/credentials"
	"github.com/h2rpc/h2rpc/keepalive"
	"github.com/h2rpc/h2rpc/transport"
)

type options struct {
	creds                credentials.TransportCredentials
	maxRecvMsgSize       int
	maxSendMsgSize       int
	maxConcurrentStreams uint32
	unaryInts            []UnaryInterceptor
	streamInts           []StreamInterceptor
	unknownHandler       StreamHandler
	streamWindow         uint32
	connWindow           uint32
	staticWindow         bool
	maxFrameSize         uint32
	connectionTimeout    time.Duration
	maxHeaderListSize    uint32
	keepalive            keepalive.ServerParameters
	policy               keepalive.EnforcementPolicy
	waitForHandlers      bool
}

func defaultOptions() options {
	return options{
		creds:             credentials.Insecure(),
		maxRecvMsgSize:    transport.DefaultMaxRecvMsgSize,
		maxSendMsgSize:    1<<31 - 1,
		connectionTimeout: 120 * time.Second,
	}
}

// Option configures a Server.
type Option func(*options)

// Creds sets the transport credentials. Default: credentials.Insecure().
func Creds(c credentials.TransportCredentials) Option {
	return func(o *options) { o.creds = c }
}

// MaxRecvMsgSize bounds the size of a received message; larger ones fail
// with RESOURCE_EXHAUSTED before anything is allocated for them. Default
// 4 MiB.
func MaxRecvMsgSize(n int) Option { return func(o *options) { o.maxRecvMsgSize = n } }

// MaxSendMsgSize bounds the size of a sent message; larger ones fail with
// RESOURCE_EXHAUSTED. Default 2 GiB - 1.
func MaxSendMsgSize(n int) Option { return func(o *options) { o.maxSendMsgSize = n } }

// MaxConcurrentStreams bounds the calls each connection runs at once; it
// is advertised to clients, and streams beyond it are refused. Handlers of
// calls the client has cancelled count until they return: a new call then
// waits for a slot, and the connection reads nothing meanwhile. Default:
// unlimited.
func MaxConcurrentStreams(n uint32) Option {
	return func(o *options) { o.maxConcurrentStreams = n }
}

// WaitForHandlers makes Stop wait, after closing every connection and
// cancelling the handlers' contexts, until every running handler has
// returned. Default false, as in grpc-go: Stop returns once the
// connections are closed, and a handler that ignores its context finishes
// on its own.
func WaitForHandlers(wait bool) Option {
	return func(o *options) { o.waitForHandlers = wait }
}

// ChainUnaryInterceptor adds unary interceptors; the first given is the
// outermost. Calls accumulate across options.
func ChainUnaryInterceptor(is ...UnaryInterceptor) Option {
	return func(o *options) { o.unaryInts = append(o.unaryInts, is...) }
}

// ChainStreamInterceptor adds stream interceptors; the first given is the
// outermost. Calls accumulate across options.
func ChainStreamInterceptor(is ...StreamInterceptor) Option {
	return func(o *options) { o.streamInts = append(o.streamInts, is...) }
}

// UnknownServiceHandler handles calls to methods no service registered,
// as a bidirectional stream, instead of failing them with UNIMPLEMENTED.
// Default: none.
func UnknownServiceHandler(h StreamHandler) Option {
	return func(o *options) { o.unknownHandler = h }
}

// InitialWindowSize sets each stream's inbound flow-control window to
// start with; BDP estimation still grows it (see StaticWindow). Default
// 64 KiB.
func InitialWindowSize(n uint32) Option { return func(o *options) { o.streamWindow = n } }

// InitialConnWindowSize sets each connection's inbound flow-control
// window to start with; BDP estimation may grow it. Default 1 MiB
// (connection window costs no memory: stream windows bound what is
// buffered).
func InitialConnWindowSize(n uint32) Option { return func(o *options) { o.connWindow = n } }

// ConnectionTimeout bounds the security handshake and the client's HTTP/2
// preface. Default 120 s.
func ConnectionTimeout(d time.Duration) Option {
	return func(o *options) { o.connectionTimeout = d }
}

// MaxHeaderListSize bounds the request header list a client may send.
// Default 16 MiB.
func MaxHeaderListSize(n uint32) Option { return func(o *options) { o.maxHeaderListSize = n } }

// KeepaliveParams sets server pings and connection ages (gRFC A9).
// Defaults: ping after 2 h of quiet, 20 s timeout, no idle or age limit.
func KeepaliveParams(p keepalive.ServerParameters) Option {
	return func(o *options) { o.keepalive = p }
}

// KeepaliveEnforcementPolicy sets what the server accepts from clients'
// pings. Default: at most one every 5 minutes, none while no call runs.
func KeepaliveEnforcementPolicy(p keepalive.EnforcementPolicy) Option {
	return func(o *options) { o.policy = p }
}

// StaticWindow turns BDP estimation off: windows stay at their initial
// sizes. Default: off (windows grow to the bandwidth-delay product, up to
// 16 MiB).
func StaticWindow(static bool) Option { return func(o *options) { o.staticWindow = static } }

// MaxFrameSize sets the largest HTTP/2 frame the server accepts
// (SETTINGS_MAX_FRAME_SIZE, 16 KiB to 16 MiB - 1). Clients that honour it,
// such as h2rpc's, then send large messages in fewer frames: with 256 KiB,
// 1 MiB server-streaming measured about 20 % less CPU per message here.
// Default 16 KiB, what HTTP/2 tools expect.
func MaxFrameSize(n uint32) Option { return func(o *options) { o.maxFrameSize = n } }
