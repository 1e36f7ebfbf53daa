package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/h2rpc/h2rpc/peer"
	"github.com/h2rpc/h2rpc/transport"
)

// ErrServerStopped is returned by Serve when called after Stop or
// GracefulStop.
var ErrServerStopped = errors.New("server: the server has been stopped")

// Server is a gRPC server. Its methods are safe for concurrent use.
type Server struct {
	opts       options
	unaryInt   UnaryInterceptor
	streamInt  StreamInterceptor
	handlers   map[string]*handler // by full method, /package.Service/Method
	services   map[string]bool
	work       chan *transport.Stream
	startFn    func(*transport.Stream) // s.start, bound once
	quit       chan struct{}
	idle       atomic.Int32 // workers kept for reuse
	maxWorkers int32

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*transport.Conn]struct{}
	stopped   bool
	serving   bool
	connWG    sync.WaitGroup // handshakes and connections
	workerWG  sync.WaitGroup
	handlerWG sync.WaitGroup
}

type handler struct {
	impl   any
	method *MethodDesc
	stream *StreamDesc
	full   string
}

// New returns a Server with the given options.
func New(opts ...Option) *Server {
	s := &Server{
		opts:       defaultOptions(),
		handlers:   make(map[string]*handler),
		services:   make(map[string]bool),
		work:       make(chan *transport.Stream),
		quit:       make(chan struct{}),
		listeners:  make(map[net.Listener]struct{}),
		conns:      make(map[*transport.Conn]struct{}),
		maxWorkers: int32(4 * runtime.GOMAXPROCS(0)),
	}
	for _, o := range opts {
		o(&s.opts)
	}
	s.unaryInt = chainUnary(s.opts.unaryInts)
	s.streamInt = chainStream(s.opts.streamInts)
	s.startFn = s.start
	return s
}

// RegisterService registers a service implementation. It panics if impl
// does not implement desc.HandlerType, if the service is registered twice,
// or after Serve has been called.
func (s *Server) RegisterService(desc *ServiceDesc, impl any) {
	if desc.HandlerType != nil && impl != nil {
		ht := reflect.TypeOf(desc.HandlerType).Elem()
		if !reflect.TypeOf(impl).Implements(ht) {
			panic(fmt.Sprintf("server: RegisterService: %T does not implement %v", impl, ht))
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.serving {
		panic("server: RegisterService after Serve")
	}
	if s.services[desc.ServiceName] {
		panic(fmt.Sprintf("server: service %s registered twice", desc.ServiceName))
	}
	s.services[desc.ServiceName] = true
	for i := range desc.Methods {
		m := &desc.Methods[i]
		full := "/" + desc.ServiceName + "/" + m.MethodName
		s.handlers[full] = &handler{impl: impl, method: m, full: full}
	}
	for i := range desc.Streams {
		st := &desc.Streams[i]
		full := "/" + desc.ServiceName + "/" + st.StreamName
		s.handlers[full] = &handler{impl: impl, stream: st, full: full}
	}
}

// ServiceNames lists the registered services.
func (s *Server) ServiceNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.services))
	for n := range s.services {
		names = append(names, n)
	}
	return names
}

// Serve accepts connections on lis until Stop or GracefulStop (then it
// returns nil) or a non-temporary accept error. lis is closed when Serve
// returns.
func (s *Server) Serve(lis net.Listener) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		lis.Close()
		return ErrServerStopped
	}
	s.serving = true
	s.listeners[lis] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, lis)
		s.mu.Unlock()
		lis.Close()
	}()
	var delay time.Duration
	for {
		raw, err := lis.Accept()
		if err != nil {
			s.mu.Lock()
			stopped := s.stopped
			s.mu.Unlock()
			if stopped {
				return nil
			}
			var ne interface{ Temporary() bool }
			if errors.As(err, &ne) && ne.Temporary() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				t := time.NewTimer(delay)
				select {
				case <-t.C:
				case <-s.quit:
					t.Stop()
					return nil
				}
				continue
			}
			return fmt.Errorf("server: accept: %w", err)
		}
		delay = 0
		s.mu.Lock()
		if s.stopped {
			s.mu.Unlock()
			raw.Close()
			return nil
		}
		s.connWG.Add(1)
		s.mu.Unlock()
		go s.handleRawConn(raw)
	}
}

func (s *Server) handleRawConn(raw net.Conn) {
	defer s.connWG.Done()
	if d := s.opts.connectionTimeout; d > 0 {
		raw.SetDeadline(time.Now().Add(d))
	}
	nc, auth, err := s.opts.creds.ServerHandshake(raw)
	if err != nil {
		raw.Close()
		return
	}
	nc.SetDeadline(time.Time{})
	cfg := transport.ServerConfig{
		Config: transport.Config{
			StreamWindow:         s.opts.streamWindow,
			ConnWindow:           s.opts.connWindow,
			StaticWindow:         s.opts.staticWindow,
			MaxFrameSize:         s.opts.maxFrameSize,
			MaxHeaderListSize:    s.opts.maxHeaderListSize,
			MaxRecvMsgSize:       s.opts.maxRecvMsgSize,
			MaxConcurrentStreams: s.opts.maxConcurrentStreams,
			AuthInfo:             auth,
		},
		Handle:           s.dispatch,
		HandshakeTimeout: s.opts.connectionTimeout,
		ConnContext: func(ctx context.Context) context.Context {
			// One Peer per connection, shared by its calls.
			return peer.NewContext(ctx, &peer.Peer{Addr: nc.RemoteAddr(), LocalAddr: nc.LocalAddr(), AuthInfo: auth})
		},
		Keepalive: s.opts.keepalive,
		Policy:    s.opts.policy,
	}
	c, err := transport.NewServerConn(nc, cfg)
	if err != nil {
		return
	}
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		c.Close(transport.ErrConnClosed)
		<-c.Done()
		return
	}
	s.conns[c] = struct{}{}
	s.connWG.Add(1)
	s.mu.Unlock()
	// No goroutine waits on the connection: it reports its own end.
	c.OnDone(func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		s.connWG.Done()
	})
}

// dispatch takes a new stream on the connection's reader goroutine. A
// unary call is started once its request message is there: its handler
// decodes it before anything else, interceptors included. Streaming calls
// start at once, since their handlers may send before they receive.
func (s *Server) dispatch(st *transport.Stream) {
	s.handlerWG.Add(1)
	h := s.handlers[st.Method()]
	// Before any of the stream's DATA: a call whose client sends one
	// message returns no window for it.
	if h != nil && (h.method != nil || !h.stream.ClientStreams) {
		st.ExpectSingleMessage()
	}
	if h != nil && h.method != nil {
		st.StartOnMessage(s.startFn)
		return
	}
	s.start(st)
}

// start hands a stream to an idle worker, or to a goroutine of its own
// when none is idle.
func (s *Server) start(st *transport.Stream) {
	select {
	case s.work <- st:
		return
	default:
	}
	s.workerWG.Add(1)
	go s.worker(st)
}

// worker runs streams; after each one it stays as an idle worker unless
// enough are idle already.
func (s *Server) worker(st *transport.Stream) {
	defer s.workerWG.Done()
	for {
		s.handleStream(st)
		s.handlerWG.Done()
		if s.idle.Add(1) > s.maxWorkers {
			s.idle.Add(-1)
			return
		}
		select {
		case st = <-s.work:
			s.idle.Add(-1)
		case <-s.quit:
			s.idle.Add(-1)
			return
		}
	}
}

// Stop closes every listener and connection at once; running handlers see
// their contexts cancelled. It returns once every connection has closed,
// and with WaitForHandlers(true) once every handler has returned too;
// otherwise handlers still running finish on their own, and the server's
// idle workers exit after them.
func (s *Server) Stop() {
	conns := s.shutdown()
	// All at once: each may wait up to a second for a peer that does not
	// read to take its GOAWAY.
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(c.GoAwayAndClose)
	}
	wg.Wait()
	if s.opts.waitForHandlers {
		s.wait()
		return
	}
	s.connWG.Wait()
	go s.wait()
}

// GracefulStop stops accepting connections and calls, lets every call
// already accepted finish (two-phase GOAWAY), then returns.
func (s *Server) GracefulStop() {
	conns := s.shutdown()
	for _, c := range conns {
		c.Drain()
	}
	s.wait()
}

func (s *Server) shutdown() []*transport.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.stopped {
		s.stopped = true
		for l := range s.listeners {
			l.Close()
		}
	}
	conns := make([]*transport.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	return conns
}

func (s *Server) wait() {
	s.connWG.Wait()
	s.handlerWG.Wait()
	s.mu.Lock()
	select {
	case <-s.quit:
	default:
		close(s.quit)
	}
	s.mu.Unlock()
	s.workerWG.Wait()
}

// splitMethod splits /package.Service/Method.
func splitMethod(full string) (service, method string, ok bool) {
	if !strings.HasPrefix(full, "/") {
		return "", "", false
	}
	i := strings.LastIndexByte(full, '/')
	if i <= 0 {
		return "", "", false
	}
	return full[1:i], full[i+1:], true
}
