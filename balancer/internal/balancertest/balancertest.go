// Package balancertest provides a fake balancer.ClientConn and fake
// SubConns for unit tests of balancing policies: the test plays the client,
// creating nothing real and driving SubConn state changes by hand.
//
// The fakes record what a balancer does (SubConns created, Connect and
// Shutdown calls, states reported, ResolveNow requests). The test calls the
// balancer and SubConn.SetState from one goroutine, as the client would
// serialise them; Connect may additionally come from Picker goroutines, so
// every method is safe for concurrent use.
package balancertest

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/h2rpc/h2rpc/balancer"
	"github.com/h2rpc/h2rpc/connectivity"
	"github.com/h2rpc/h2rpc/resolver"
)

// ClientConn is a fake balancer.ClientConn.
type ClientConn struct {
	mu            sync.Mutex
	subConns      []*SubConn       // guarded by mu; in creation order
	states        []balancer.State // guarded by mu; not yet taken by TakeStates
	last          balancer.State   // guarded by mu
	resolveNows   int              // guarded by mu
	newSubConnErr error            // guarded by mu
}

// NewClientConn returns an empty fake.
func NewClientConn() *ClientConn { return &ClientConn{} }

// FailNewSubConn makes NewSubConn fail with err from now on (nil restores
// success).
func (cc *ClientConn) FailNewSubConn(err error) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.newSubConnErr = err
}

// NewSubConn records and returns a new Idle fake SubConn.
func (cc *ClientConn) NewSubConn(addrs []resolver.Address, opts balancer.NewSubConnOptions) (balancer.SubConn, error) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.newSubConnErr != nil {
		return nil, cc.newSubConnErr
	}
	sc := &SubConn{Addrs: slices.Clone(addrs), listener: opts.StateListener}
	cc.subConns = append(cc.subConns, sc)
	return sc, nil
}

// UpdateState records s.
func (cc *ClientConn) UpdateState(s balancer.State) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.states = append(cc.states, s)
	cc.last = s
}

// ResolveNow counts the request.
func (cc *ClientConn) ResolveNow() {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.resolveNows++
}

// SubConns returns every SubConn created so far, in creation order.
func (cc *ClientConn) SubConns() []*SubConn {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return slices.Clone(cc.subConns)
}

// TakeStates returns the states reported since the last call.
func (cc *ClientConn) TakeStates() []balancer.State {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	s := cc.states
	cc.states = nil
	return s
}

// Last returns the latest state reported (the zero State if none).
func (cc *ClientConn) Last() balancer.State {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.last
}

// ResolveNows returns how many times ResolveNow was called.
func (cc *ClientConn) ResolveNows() int {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.resolveNows
}

// SubConn is a fake balancer.SubConn. It never changes state by itself: the
// test calls SetState.
type SubConn struct {
	// Addrs is the address list the SubConn was created with.
	Addrs    []resolver.Address
	listener func(balancer.SubConnState)
	connects atomic.Int64
	shutdown atomic.Bool
}

// Connect counts the call.
func (sc *SubConn) Connect() { sc.connects.Add(1) }

// Shutdown marks the SubConn shut down.
func (sc *SubConn) Shutdown() { sc.shutdown.Store(true) }

// Connects returns how many times Connect was called.
func (sc *SubConn) Connects() int { return int(sc.connects.Load()) }

// IsShutdown reports whether Shutdown was called.
func (sc *SubConn) IsShutdown() bool { return sc.shutdown.Load() }

// SetState delivers a state change to the SubConn's StateListener, as the
// client would. err is only meaningful with TransientFailure.
func (sc *SubConn) SetState(s connectivity.State, err error) {
	if sc.listener != nil {
		sc.listener(balancer.SubConnState{State: s, Err: err})
	}
}
