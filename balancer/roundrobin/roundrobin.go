// Package roundrobin implements the "round_robin" load-balancing policy:
// one SubConn per address, every one kept connected, and RPCs spread over
// the Ready ones in turn.
//
// Importing the package registers the policy.
//
// # What it owns
//
// One SubConn per distinct address (Addr and ServerName; Attributes do not
// make addresses distinct). It never dials or backs off itself: each
// SubConn retries after a backoff on its own, and the balancer calls Connect
// on any SubConn that reports Idle, at once, so every address stays
// connected or connecting.
//
// # States and pickers
//
// The client's state is the best of its SubConns':
//
//	any SubConn Ready                    Ready             rotate over the Ready ones
//	else any connecting (or Idle)        Connecting        ErrNoSubConnAvailable (RPCs wait)
//	else (all failing)                   TransientFailure  "round_robin: no ready SubConn; last connection error: …"
//
// Failure is sticky per SubConn, as gRPC specifies: a SubConn that reported
// TransientFailure counts as failing, through its retries, until it reports
// Ready. So a client whose backends are all down stays in
// TransientFailure, and RPCs that do not wait for ready fail fast instead
// of waiting through every retry. Each TransientFailure, and each loss of a
// Ready connection, also asks the resolver to ResolveNow.
//
// The picker starts its rotation at a random SubConn, so that many clients
// started together do not all send their first RPC to the same server, and
// advances with one atomic add per Pick. A new picker is reported only when
// the client's state or the set of Ready SubConns changes (or, in
// TransientFailure, the error), so RPCs keep their rotation otherwise.
//
// An address update creates SubConns for new addresses, shuts down those of
// addresses no longer listed and keeps the others, connection and all. An
// empty list shuts every SubConn down and reports TransientFailure (and
// balancer.ErrBadResolverState to the client). A resolver error is reported
// as TransientFailure only when there is no SubConn at all.
//
// # Goroutines
//
// The balancer has no goroutine and no lock: the client serialises its
// methods and StateListener calls. Pickers are immutable apart from their
// atomic counter, and safe for concurrent use.
package roundrobin

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"

	"github.com/h2rpc/h2rpc/balancer"
	"github.com/h2rpc/h2rpc/connectivity"
	"github.com/h2rpc/h2rpc/resolver"
)

// Name is the policy's registered name.
const Name = "round_robin"

func init() {
	balancer.Register(builder{})
}

type builder struct{}

func (builder) Name() string { return Name }

func (builder) Build(cc balancer.ClientConn, _ balancer.BuildOptions) balancer.Balancer {
	return &roundRobin{cc: cc, subConns: make(map[addrKey]*subConn)}
}

// queuePicker makes RPCs wait for the next picker.
var queuePicker = balancer.NewErrPicker(balancer.ErrNoSubConnAvailable)

// addrKey identifies an address for the balancer.
type addrKey struct{ addr, serverName string }

func keyOf(a resolver.Address) addrKey { return addrKey{a.Addr, a.ServerName} }

// subConn is a SubConn with what the balancer knows of it.
type subConn struct {
	sc     balancer.SubConn
	key    addrKey
	state  connectivity.State // last reported; Idle until the first report
	failed bool               // reported TransientFailure and not Ready since
}

// roundRobin is the balancer. All fields are owned by the client's
// serialising goroutine (see the package documentation).
type roundRobin struct {
	cc       balancer.ClientConn
	subConns map[addrKey]*subConn
	order    []*subConn // the resolver's order, for the picker
	lastErr  error      // picker error for the latest TransientFailure of any SubConn
	closed   bool

	// What was last reported, to skip reports that change nothing.
	reported      bool
	reportedState connectivity.State
	reportedReady []balancer.SubConn
	reportedErr   error
}

func (b *roundRobin) UpdateClientConnState(s balancer.ClientConnState) error {
	if b.closed {
		return nil
	}
	addrs := s.ResolverState.Addresses
	if len(addrs) == 0 {
		b.shutdownAll()
		b.report(connectivity.TransientFailure, nil, errors.New("round_robin: resolver produced no addresses"))
		return balancer.ErrBadResolverState
	}

	var (
		newErr   error
		created  []*subConn
		subConns = make(map[addrKey]*subConn, len(addrs))
		order    = make([]*subConn, 0, len(addrs))
	)
	for _, a := range addrs {
		k := keyOf(a)
		if _, dup := subConns[k]; dup {
			continue
		}
		s, ok := b.subConns[k]
		if !ok {
			var err error
			if s, err = b.newSubConn(a); err != nil {
				newErr = err
				continue
			}
			created = append(created, s)
		}
		subConns[k] = s
		order = append(order, s)
	}
	for k, s := range b.subConns {
		if _, ok := subConns[k]; !ok {
			s.sc.Shutdown()
		}
	}
	b.subConns, b.order = subConns, order
	for _, s := range created {
		s.sc.Connect()
	}
	if len(order) == 0 {
		b.report(connectivity.TransientFailure, nil, newErr)
		return newErr
	}
	b.regenerate()
	return nil
}

func (b *roundRobin) newSubConn(a resolver.Address) (*subConn, error) {
	s := &subConn{key: keyOf(a)}
	sc, err := b.cc.NewSubConn([]resolver.Address{a}, balancer.NewSubConnOptions{
		StateListener: func(st balancer.SubConnState) { b.updateSubConnState(s, st) },
	})
	if err != nil {
		return nil, fmt.Errorf("round_robin: creating SubConn for %q: %w", a.Addr, err)
	}
	s.sc = sc
	return s, nil
}

func (b *roundRobin) updateSubConnState(s *subConn, st balancer.SubConnState) {
	if b.closed || st.State == connectivity.Shutdown || b.subConns[s.key] != s {
		return // closed, or a SubConn already shut down
	}
	wasReady := s.state == connectivity.Ready
	s.state = st.State
	switch st.State {
	case connectivity.Idle:
		s.sc.Connect()
		if wasReady {
			b.cc.ResolveNow()
		}
	case connectivity.Ready:
		s.failed = false
	case connectivity.TransientFailure:
		s.failed = true
		err := st.Err
		if err == nil {
			err = errors.New("connection failed")
		}
		b.lastErr = fmt.Errorf("round_robin: no ready SubConn; last connection error: %w", err)
		b.cc.ResolveNow()
	}
	b.regenerate()
}

// regenerate reports the state and picker the SubConns' states imply.
func (b *roundRobin) regenerate() {
	var ready []balancer.SubConn
	connecting := false
	for _, s := range b.order {
		switch {
		case s.state == connectivity.Ready:
			ready = append(ready, s.sc)
		case s.failed:
			// Failing, even while it retries.
		default: // Idle or Connecting
			connecting = true
		}
	}
	switch {
	case len(ready) > 0:
		b.report(connectivity.Ready, ready, nil)
	case connecting:
		b.report(connectivity.Connecting, nil, nil)
	default:
		b.report(connectivity.TransientFailure, nil, b.lastErr)
	}
}

// report sends the state to the client unless it is what was last sent. In
// TransientFailure, err is what the picker fails RPCs with.
func (b *roundRobin) report(state connectivity.State, ready []balancer.SubConn, err error) {
	if b.reported && state == b.reportedState && slices.Equal(ready, b.reportedReady) && err == b.reportedErr {
		return
	}
	b.reported, b.reportedState, b.reportedReady, b.reportedErr = true, state, ready, err

	var p balancer.Picker
	switch state {
	case connectivity.Ready:
		p = newPicker(ready)
	case connectivity.TransientFailure:
		if err == nil {
			err = errors.New("round_robin: no SubConn")
		}
		p = balancer.NewErrPicker(err)
	default:
		p = queuePicker
	}
	b.cc.UpdateState(balancer.State{ConnectivityState: state, Picker: p})
}

func (b *roundRobin) ResolverError(err error) {
	if b.closed || len(b.order) > 0 {
		return
	}
	b.report(connectivity.TransientFailure, nil, fmt.Errorf("round_robin: resolver error: %w", err))
}

func (b *roundRobin) Close() {
	b.shutdownAll()
	b.closed = true
}

func (b *roundRobin) shutdownAll() {
	for _, s := range b.order {
		s.sc.Shutdown()
	}
	clear(b.subConns)
	b.order = nil
}

// picker rotates over a fixed list of Ready SubConns.
type picker struct {
	results []balancer.PickResult
	next    atomic.Uint64
}

func newPicker(ready []balancer.SubConn) *picker {
	p := &picker{results: make([]balancer.PickResult, len(ready))}
	for i, sc := range ready {
		p.results[i] = balancer.PickResult{SubConn: sc}
	}
	p.next.Store(rand.Uint64N(uint64(len(ready))))
	return p
}

func (p *picker) Pick(balancer.PickInfo) (balancer.PickResult, error) {
	n := p.next.Add(1) - 1
	return p.results[n%uint64(len(p.results))], nil
}
