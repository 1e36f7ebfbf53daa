package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/h2rpc/h2rpc/balancer"
	_ "github.com/h2rpc/h2rpc/balancer/pickfirst"  // the default policy
	_ "github.com/h2rpc/h2rpc/balancer/roundrobin" // registers round_robin
	"github.com/h2rpc/h2rpc/codes"
	"github.com/h2rpc/h2rpc/connectivity"
	"github.com/h2rpc/h2rpc/resolver"
	_ "github.com/h2rpc/h2rpc/resolver/dns"         // registers dns
	_ "github.com/h2rpc/h2rpc/resolver/passthrough" // the default scheme
	_ "github.com/h2rpc/h2rpc/resolver/unix"        // registers unix and unix-abstract
	"github.com/h2rpc/h2rpc/status"
	"github.com/h2rpc/h2rpc/transport"
)

// Conn is what generated client stubs call.
type Conn interface {
	// Invoke runs a unary call.
	Invoke(ctx context.Context, method string, req, reply any, opts ...CallOption) error
	// NewStream starts a streaming call.
	NewStream(ctx context.Context, desc *StreamDesc, method string, opts ...CallOption) (Stream, error)
}

// ErrClientConnClosing is the status error of calls made on, or cut short
// by, a closed ClientConn.
var ErrClientConnClosing = status.Error(codes.Canceled, "grpc: the client connection is closing")

// ClientConn is a client's channel to a target. It is safe for concurrent
// use.
type ClientConn struct {
	target    resolver.Target
	opts      dialOptions
	authority string
	unaryInt  UnaryInterceptor
	streamInt StreamInterceptor

	// balMu serialises every call into the resolver and balancer and
	// every SubConn state report.
	balMu    sync.Mutex
	res      resolver.Resolver
	bal      balancer.Balancer
	subConns []*addrConn // SubConns not yet finished; nil once closed
	balDone  bool        // Close has taken subConns

	pmu      sync.Mutex
	picker   balancer.Picker
	pickerN  uint64        // counts picker updates
	pickerCh chan struct{} // closed when picker changes; made by a waiter
	state    connectivity.State
	stateCh  chan struct{} // closed when state changes; made by a waiter
	closed   bool
	idle     bool // nothing built yet: resolution starts at the first call
}

// New returns a ClientConn for target ("host:port", "passthrough:///addr",
// "dns:///host:port"). It does not connect: the first call or Connect
// does.
func New(target string, opts ...DialOption) (*ClientConn, error) {
	cc := &ClientConn{idle: true}
	cc.opts.balancer = "pick_first"
	cc.opts.maxFrameSize = DefaultClientMaxFrameSize
	for _, o := range opts {
		o(&cc.opts)
	}
	if cc.opts.creds == nil {
		return nil, errors.New("client: no transport security set (use WithInsecure or WithTransportCredentials)")
	}
	t, err := resolver.ParseTarget(target)
	if err != nil {
		return nil, fmt.Errorf("client: parsing target %q: %w", target, err)
	}
	if resolver.Get(t.Scheme) == nil {
		return nil, fmt.Errorf("client: no resolver for scheme %q", t.Scheme)
	}
	if balancer.Get(cc.opts.balancer) == nil {
		return nil, fmt.Errorf("client: no balancer named %q", cc.opts.balancer)
	}
	cc.target = t
	cc.authority = cc.opts.authority
	if cc.authority == "" {
		if sn := cc.opts.creds.Info().ServerName; sn != "" {
			cc.authority = sn
		} else if t.Scheme == "unix" || t.Scheme == "unix-abstract" {
			// A socket path is no host name; grpc-go sends localhost.
			cc.authority = "localhost"
		} else {
			cc.authority = t.Endpoint
			if strings.HasPrefix(cc.authority, ":") {
				// ":port" means this host, as in grpc-go: the name
				// to send and to verify is localhost.
				cc.authority = "localhost" + cc.authority
			}
		}
	}
	cc.unaryInt = chainUnary(cc.opts.unaryInts)
	cc.streamInt = chainStream(cc.opts.streamInts)
	return cc, nil
}

// Target returns the parsed target.
func (cc *ClientConn) Target() resolver.Target { return cc.target }

// Connect starts resolving and connecting if nothing has started yet.
func (cc *ClientConn) Connect() { cc.exitIdle() }

func (cc *ClientConn) exitIdle() {
	cc.pmu.Lock()
	if !cc.idle || cc.closed {
		cc.pmu.Unlock()
		return
	}
	cc.idle = false
	cc.pmu.Unlock()

	cc.balMu.Lock()
	cc.bal = balancer.Get(cc.opts.balancer).Build(balancerCC{cc}, balancer.BuildOptions{})
	cc.balMu.Unlock()
	cc.setState(connectivity.Connecting)
	// The resolver may report addresses from inside Build, which takes
	// balMu: build it unlocked.
	r, err := resolver.Get(cc.target.Scheme).Build(cc.target, resolverCC{cc}, resolver.BuildOptions{})
	cc.balMu.Lock()
	defer cc.balMu.Unlock()
	if err != nil {
		cc.bal.ResolverError(err)
		return
	}
	if cc.isClosed() {
		r.Close()
		return
	}
	cc.res = r
}

// GetState returns the current connectivity state.
func (cc *ClientConn) GetState() connectivity.State {
	cc.pmu.Lock()
	defer cc.pmu.Unlock()
	return cc.state
}

// WaitForStateChange waits until the state differs from s or ctx ends; it
// reports whether the state changed.
func (cc *ClientConn) WaitForStateChange(ctx context.Context, s connectivity.State) bool {
	for {
		cc.pmu.Lock()
		cur, ch := cc.state, waitChan(&cc.stateCh)
		cc.pmu.Unlock()
		if cur != s {
			return true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
}

func (cc *ClientConn) setState(s connectivity.State) {
	cc.pmu.Lock()
	defer cc.pmu.Unlock()
	if cc.state == s || cc.closed {
		return
	}
	cc.state = s
	notifyChan(&cc.stateCh)
}

// waitChan returns *ch, making it first if no one waits yet: idle
// ClientConns keep no channels. The caller holds pmu.
func waitChan(ch *chan struct{}) chan struct{} {
	if *ch == nil {
		*ch = make(chan struct{})
	}
	return *ch
}

// notifyChan wakes the waiters on *ch, if any. The caller holds pmu.
func notifyChan(ch *chan struct{}) {
	if *ch != nil {
		close(*ch)
		*ch = nil
	}
}

// Close tears the ClientConn down: pending and later calls fail with
// CANCELED, and every connection closes.
func (cc *ClientConn) Close() error {
	cc.pmu.Lock()
	if cc.closed {
		cc.pmu.Unlock()
		return nil
	}
	cc.closed = true
	cc.state = connectivity.Shutdown
	notifyChan(&cc.stateCh)
	notifyChan(&cc.pickerCh)
	cc.pmu.Unlock()

	cc.balMu.Lock()
	acs := cc.subConns
	cc.subConns, cc.balDone = nil, true
	if cc.res != nil {
		cc.res.Close()
	}
	if cc.bal != nil {
		cc.bal.Close()
	}
	cc.balMu.Unlock()
	for _, ac := range acs {
		ac.shutdown(true)
	}
	for _, ac := range acs {
		ac.wait()
	}
	return nil
}

// pick returns a ready transport for a call, waiting for one if the
// balancer says so or the call waits for ready.
func (cc *ClientConn) pick(ctx context.Context, method string, waitForReady bool) (*transport.Conn, func(balancer.DoneInfo), error) {
	cc.exitIdle()
	var lastErr error
	for {
		cc.pmu.Lock()
		p, n, closed := cc.picker, cc.pickerN, cc.closed
		cc.pmu.Unlock()
		if closed {
			return nil, nil, ErrClientConnClosing
		}
		if p != nil {
			res, err := p.Pick(balancer.PickInfo{FullMethod: method, Ctx: ctx})
			switch {
			case err == nil:
				if ac, ok := res.SubConn.(*addrConn); ok {
					if t := ac.readyTransport(); t != nil {
						return t, res.Done, nil
					}
				}
			case errors.Is(err, balancer.ErrNoSubConnAvailable):
			default:
				if !waitForReady {
					if _, ok := status.FromError(err); ok {
						return nil, nil, err
					}
					return nil, nil, status.Error(codes.Unavailable, err.Error())
				}
				lastErr = err
			}
		}
		cc.pmu.Lock()
		if cc.pickerN != n || cc.closed {
			cc.pmu.Unlock()
			continue
		}
		ch := waitChan(&cc.pickerCh)
		cc.pmu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			st := status.FromContextError(ctx.Err())
			if lastErr != nil {
				st = status.New(st.Code(), st.Message()+"; last error: "+lastErr.Error())
			}
			return nil, nil, st.Err()
		}
	}
}

// resolverCC is what the resolver reports to.
type resolverCC struct{ cc *ClientConn }

func (r resolverCC) UpdateState(s resolver.State) error {
	cc := r.cc
	cc.balMu.Lock()
	defer cc.balMu.Unlock()
	if cc.bal == nil || cc.isClosed() {
		return nil
	}
	return cc.bal.UpdateClientConnState(balancer.ClientConnState{ResolverState: s})
}

func (r resolverCC) ReportError(err error) {
	cc := r.cc
	cc.balMu.Lock()
	defer cc.balMu.Unlock()
	if cc.bal == nil || cc.isClosed() {
		return
	}
	cc.bal.ResolverError(err)
}

func (cc *ClientConn) isClosed() bool {
	cc.pmu.Lock()
	defer cc.pmu.Unlock()
	return cc.closed
}

// balancerCC is what the balancer talks to. Its methods are called with
// balMu held (from balancer calls) and must not take it.
type balancerCC struct{ cc *ClientConn }

func (b balancerCC) NewSubConn(addrs []resolver.Address, opts balancer.NewSubConnOptions) (balancer.SubConn, error) {
	cc := b.cc
	if cc.balDone {
		return nil, errors.New("client: ClientConn is closed")
	}
	if len(addrs) == 0 {
		return nil, errors.New("client: NewSubConn with no addresses")
	}
	ac := newAddrConn(cc, addrs, opts.StateListener)
	// Forget SubConns the balancer shut down and that have nothing left
	// to wait for, so that address changes leave nothing behind.
	cc.subConns = slices.DeleteFunc(cc.subConns, (*addrConn).finished)
	cc.subConns = append(cc.subConns, ac)
	return ac, nil
}

func (b balancerCC) UpdateState(s balancer.State) {
	cc := b.cc
	cc.pmu.Lock()
	if cc.closed {
		cc.pmu.Unlock()
		return
	}
	cc.picker = s.Picker
	cc.pickerN++
	notifyChan(&cc.pickerCh)
	cc.pmu.Unlock()
	cc.setState(s.ConnectivityState)
}

func (b balancerCC) ResolveNow() {
	// Resolvers may report from inside ResolveNow, which takes balMu.
	if r := b.cc.res; r != nil {
		go r.ResolveNow()
	}
}
