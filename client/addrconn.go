package client

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/h2rpc/h2rpc/balancer"
	"github.com/h2rpc/h2rpc/connectivity"
	"github.com/h2rpc/h2rpc/internal/backoff"
	"github.com/h2rpc/h2rpc/resolver"
	"github.com/h2rpc/h2rpc/transport"
)

// addrConn is a SubConn: one connection at a time to the first of its
// addresses that works, re-established with backoff after failures.
type addrConn struct {
	cc       *ClientConn
	addrs    []resolver.Address
	listener func(balancer.SubConnState)

	mu       sync.Mutex
	state    connectivity.State
	t        *transport.Conn // ready transport, nil otherwise
	stopped  bool
	stop     chan struct{}     // closed by shutdown
	running  sync.WaitGroup    // the connecting goroutine
	looping  bool              // the connecting goroutine runs
	draining []*transport.Conn // never changed in place: readers range over copies
	kaTime   time.Duration     // keepalive interval, doubled on too_many_pings
}

func newAddrConn(cc *ClientConn, addrs []resolver.Address, l func(balancer.SubConnState)) *addrConn {
	return &addrConn{cc: cc, addrs: addrs, listener: l, state: connectivity.Idle, stop: make(chan struct{}), kaTime: cc.opts.keepalive.Time}
}

// Connect starts connecting if the SubConn is idle.
func (ac *addrConn) Connect() {
	ac.mu.Lock()
	if ac.stopped || ac.state != connectivity.Idle {
		ac.mu.Unlock()
		return
	}
	ac.state = connectivity.Connecting
	ac.running.Add(1)
	ac.looping = true
	ac.mu.Unlock()
	go ac.connectLoop()
}

// finished reports whether a shut-down SubConn has nothing left to wait
// for: its connecting goroutine ended and its draining connections closed.
func (ac *addrConn) finished() bool {
	ac.mu.Lock()
	defer ac.mu.Unlock()
	if !ac.stopped || ac.looping {
		return false
	}
	for _, d := range ac.draining {
		select {
		case <-d.Done():
		default:
			return false
		}
	}
	return true
}

// Shutdown closes the SubConn; its connection takes no new calls and
// closes once the calls it carries have finished.
func (ac *addrConn) Shutdown() { ac.shutdown(false) }

func (ac *addrConn) shutdown(closeAll bool) {
	ac.mu.Lock()
	if ac.stopped && !closeAll {
		ac.mu.Unlock()
		return
	}
	var t *transport.Conn
	if !ac.stopped {
		// (A SubConn the balancer shut down gracefully is stopped
		// already; closing the ClientConn still ends its connections.)
		ac.stopped = true
		close(ac.stop)
		t = ac.t
		ac.t = nil
		ac.state = connectivity.Shutdown
		if t != nil && !closeAll {
			ac.draining = append(ac.draining, t)
		}
	}
	draining := ac.draining
	ac.mu.Unlock()
	if closeAll {
		// The calls on them end as the ClientConn's own do: CANCELED.
		if t != nil {
			t.Close(ErrClientConnClosing)
		}
		for _, d := range draining {
			d.Close(ErrClientConnClosing)
		}
		return
	}
	if t != nil {
		// The balancer moved on (new addresses): calls already on this
		// connection finish there; it closes after the last one.
		t.GracefulClose()
	}
}

// wait blocks until the SubConn's goroutine and connections are gone.
func (ac *addrConn) wait() {
	ac.running.Wait()
	ac.mu.Lock()
	draining := ac.draining
	ac.mu.Unlock()
	for _, d := range draining {
		<-d.Done()
	}
}

func (ac *addrConn) readyTransport() *transport.Conn {
	ac.mu.Lock()
	defer ac.mu.Unlock()
	return ac.t
}

// report tells the balancer about a state change, serialised with every
// other balancer call.
func (ac *addrConn) report(s connectivity.State, err error) {
	cc := ac.cc
	cc.balMu.Lock()
	defer cc.balMu.Unlock()
	ac.mu.Lock()
	stopped, current := ac.stopped, ac.state
	ac.mu.Unlock()
	if stopped || cc.isClosed() || ac.listener == nil {
		return
	}
	if s != current {
		// Overtaken: the state changed again before this report got
		// its turn (a connection lost as it became ready reports IDLE
		// from its own goroutine), and the newer report follows. The
		// balancer must end on the state the SubConn is in.
		return
	}
	ac.listener(balancer.SubConnState{State: s, Err: err})
}

// connectLoop tries the addresses in order until one works, backing off
// between rounds.
func (ac *addrConn) connectLoop() {
	defer ac.running.Done()
	defer func() {
		ac.mu.Lock()
		ac.looping = false
		ac.mu.Unlock()
	}()
	ac.report(connectivity.Connecting, nil)
	for retries := 0; ; retries++ {
		delay := backoff.DefaultConfig.Backoff(retries)
		deadline := time.Now().Add(max(delay, backoff.MinConnectTimeout))
		var lastErr error
		for _, addr := range ac.addrs {
			t, err := ac.dial(addr, deadline)
			if err == nil {
				ac.mu.Lock()
				if ac.stopped {
					ac.mu.Unlock()
					t.Close(transport.ErrConnClosed)
					return
				}
				if t.Draining() {
					// GOAWAY came before the connection was ours to
					// lose (transportGone ignored it): do not offer it.
					ac.mu.Unlock()
					t.GracefulClose()
					lastErr = fmt.Errorf("client: %s sent GOAWAY during the handshake", addr.Addr)
					continue
				}
				ac.t = t
				ac.state = connectivity.Ready
				ac.mu.Unlock()
				t.OnClose(func(error) { ac.transportGone(t) })
				ac.report(connectivity.Ready, nil)
				return
			}
			lastErr = err
			select {
			case <-ac.stop:
				return
			default:
			}
		}
		ac.mu.Lock()
		ac.state = connectivity.TransientFailure
		ac.mu.Unlock()
		ac.report(connectivity.TransientFailure, lastErr)
		timer := time.NewTimer(time.Until(time.Now().Add(delay)))
		select {
		case <-ac.stop:
			timer.Stop()
			return
		case <-timer.C:
		}
		ac.mu.Lock()
		ac.state = connectivity.Connecting
		ac.mu.Unlock()
		ac.report(connectivity.Connecting, nil)
	}
}

func (ac *addrConn) dial(addr resolver.Address, deadline time.Time) (*transport.Conn, error) {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	go func() {
		select {
		case <-ac.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	o := &ac.cc.opts
	var raw net.Conn
	var err error
	if o.dialer != nil {
		raw, err = o.dialer(ctx, addr.Addr)
	} else {
		network := addr.Network
		if network == "" {
			network = "tcp"
		}
		var d net.Dialer
		raw, err = d.DialContext(ctx, network, addr.Addr)
	}
	if err != nil {
		return nil, fmt.Errorf("client: dialing %s: %w", addr.Addr, err)
	}
	authority := ac.cc.authority
	if addr.ServerName != "" && o.authority == "" {
		authority = addr.ServerName
	}
	nc, auth, err := o.creds.ClientHandshake(ctx, authority, raw)
	if err != nil {
		raw.Close()
		return nil, fmt.Errorf("client: security handshake with %s: %w", addr.Addr, err)
	}
	// The connection, once NewClientConn returns it; its reader may
	// report GOAWAY before then (connectLoop checks Draining for that).
	var conn atomic.Pointer[transport.Conn]
	ka := o.keepalive
	ac.mu.Lock()
	ka.Time = ac.kaTime
	ac.mu.Unlock()
	cfg := transport.ClientConfig{
		Config: transport.Config{
			StreamWindow:      o.streamWindow,
			ConnWindow:        o.connWindow,
			StaticWindow:      o.staticWindow,
			MaxFrameSize:      o.maxFrameSize,
			MaxHeaderListSize: o.maxHeaderListSize,
			AuthInfo:          auth,
		},
		Authority: authority,
		Secure:    o.creds.Info().SecurityProtocol != "insecure",
		UserAgent: o.userAgent,
		Keepalive: ka,
		OnGoAway: func(tooManyPings bool) {
			if tooManyPings {
				ac.mu.Lock()
				if ac.kaTime > 0 {
					ac.kaTime *= 2
				}
				ac.mu.Unlock()
			}
			ac.transportGone(conn.Load())
		},
	}
	t, err := transport.NewClientConn(ctx, nc, cfg)
	if err != nil {
		return nil, fmt.Errorf("client: HTTP/2 handshake with %s: %w", addr.Addr, err)
	}
	conn.Store(t)
	return t, nil
}

// transportGone handles a connection that closed or got GOAWAY: the
// SubConn goes idle, and a draining connection is kept until it closes.
func (ac *addrConn) transportGone(t *transport.Conn) {
	ac.mu.Lock()
	if ac.t != t || t == nil {
		ac.mu.Unlock()
		return
	}
	ac.t = nil
	ac.state = connectivity.Idle
	select {
	case <-t.Done():
	default:
		ac.draining = append(ac.draining, t)
		go func() {
			<-t.Done()
			ac.mu.Lock()
			// A new slice, not an in-place delete: shutdown and wait
			// range over copies of ac.draining without the lock.
			ac.draining = slices.DeleteFunc(slices.Clone(ac.draining), func(d *transport.Conn) bool { return d == t })
			ac.mu.Unlock()
		}()
	}
	ac.mu.Unlock()
	go ac.report(connectivity.Idle, nil)
}
