// Package pickfirst implements the "pick_first" load-balancing policy, the
// client's default: one SubConn over the whole address list, which connects
// to the first address that works and carries every RPC.
//
// Importing the package registers the policy.
//
// # What it owns
//
// At most two SubConns: the current one, whose state is the client's state,
// and, while the current one is Ready and the resolver has just changed the
// addresses, a replacement that is connecting. It never dials or backs off
// itself: the SubConn tries the addresses in order and retries after a
// backoff.
//
// # States and pickers
//
// The current SubConn's state becomes the client's state:
//
//	SubConn state      reported          Pick
//	Connecting         Connecting        ErrNoSubConnAvailable (RPCs wait)
//	Ready              Ready             the SubConn
//	TransientFailure   TransientFailure  "pick_first: last connection error: …"
//	Idle (conn. lost)  Idle              Connect once, ErrNoSubConnAvailable
//
// Failure is sticky, as gRPC specifies: once the SubConn has reported
// TransientFailure, its later Connecting (the retry after backoff) changes
// nothing, and an Idle makes the balancer call Connect at once and stay in
// TransientFailure, so that RPCs that do not wait for ready keep failing
// fast until a connection succeeds. Each TransientFailure, and each loss of
// a Ready connection, also asks the resolver to ResolveNow.
//
// An empty address list shuts the SubConn down and reports TransientFailure
// (and balancer.ErrBadResolverState to the client). A resolver error is
// reported as TransientFailure only when there is no SubConn at all;
// otherwise the SubConn's own state says more.
//
// # Address updates
//
// The same list, in the same order, changes nothing. A different list gets
// a new SubConn. If the current one is not Ready it is shut down at once and
// the new one becomes current. If it is Ready it keeps serving RPCs while
// the new one connects, and is shut down as soon as the new one reports
// Ready or TransientFailure, or itself loses its connection. A connection
// that survives in the new list is not reused: keeping it would need a
// SubConn that can change addresses, which this API does not have.
//
// # Goroutines
//
// The balancer has no goroutine and no lock: the client serialises its
// methods and StateListener calls. Pickers are immutable, except the Idle
// picker's once-only Connect, and are safe for concurrent use.
package pickfirst

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"

	"github.com/h2rpc/h2rpc/balancer"
	"github.com/h2rpc/h2rpc/connectivity"
	"github.com/h2rpc/h2rpc/resolver"
)

// Name is the policy's registered name.
const Name = "pick_first"

func init() {
	balancer.Register(builder{})
}

type builder struct{}

func (builder) Name() string { return Name }

func (builder) Build(cc balancer.ClientConn, _ balancer.BuildOptions) balancer.Balancer {
	return &pickFirst{cc: cc}
}

// queuePicker makes RPCs wait for the next picker.
var queuePicker = balancer.NewErrPicker(balancer.ErrNoSubConnAvailable)

// subConn is a SubConn with what the balancer knows of it.
type subConn struct {
	sc     balancer.SubConn
	addrs  []resolver.Address
	state  connectivity.State // last reported; Idle until the first report
	err    error              // carried by the last TransientFailure report
	failed bool               // reported TransientFailure and not Ready since
}

// pickFirst is the balancer. All fields are owned by the client's
// serialising goroutine (see the package documentation).
type pickFirst struct {
	cc      balancer.ClientConn
	current *subConn // drives the reported state; nil before addresses or after an empty list
	next    *subConn // replacement connecting while current is Ready; nil otherwise
	closed  bool
}

func (b *pickFirst) UpdateClientConnState(s balancer.ClientConnState) error {
	if b.closed {
		return nil
	}
	addrs := s.ResolverState.Addresses
	if len(addrs) == 0 {
		b.shutdownAll()
		b.report(connectivity.TransientFailure, balancer.NewErrPicker(errors.New("pick_first: resolver produced no addresses")))
		return balancer.ErrBadResolverState
	}
	latest := b.next
	if latest == nil {
		latest = b.current
	}
	if latest != nil && equalAddrs(latest.addrs, addrs) {
		return nil
	}

	sc, err := b.newSubConn(addrs)
	if err != nil {
		if b.current == nil {
			b.report(connectivity.TransientFailure, balancer.NewErrPicker(err))
		}
		return err
	}
	if b.current != nil && b.current.state == connectivity.Ready {
		if b.next != nil {
			b.next.sc.Shutdown()
		}
		b.next = sc
		sc.sc.Connect()
		return nil
	}
	b.shutdownAll()
	b.current = sc
	b.report(connectivity.Connecting, queuePicker)
	sc.sc.Connect()
	return nil
}

func (b *pickFirst) newSubConn(addrs []resolver.Address) (*subConn, error) {
	s := &subConn{addrs: slices.Clone(addrs)}
	sc, err := b.cc.NewSubConn(s.addrs, balancer.NewSubConnOptions{
		StateListener: func(st balancer.SubConnState) { b.updateSubConnState(s, st) },
	})
	if err != nil {
		return nil, fmt.Errorf("pick_first: creating SubConn: %w", err)
	}
	s.sc = sc
	return s, nil
}

func (b *pickFirst) updateSubConnState(s *subConn, st balancer.SubConnState) {
	if b.closed || st.State == connectivity.Shutdown {
		return
	}
	s.state, s.err = st.State, st.Err
	switch s {
	case b.current:
		if st.State == connectivity.Idle && b.next != nil {
			// The old connection is gone: nothing left to keep serving on.
			b.promoteNext()
			return
		}
		b.follow(s, st)
	case b.next:
		switch st.State {
		case connectivity.Ready, connectivity.TransientFailure:
			b.promoteNext()
		case connectivity.Idle:
			s.sc.Connect()
		}
	default:
		// A SubConn already shut down; its late news does not matter.
	}
}

// promoteNext shuts the current SubConn down and makes the replacement
// current, reporting the replacement's state.
func (b *pickFirst) promoteNext() {
	b.current.sc.Shutdown()
	b.current, b.next = b.next, nil
	s := b.current
	switch s.state {
	case connectivity.Ready, connectivity.TransientFailure:
		// Its listener call brought us here; follow reports it.
		b.follow(s, balancer.SubConnState{State: s.state, Err: s.err})
	default:
		b.report(connectivity.Connecting, queuePicker)
	}
}

// follow reports the client state that the current SubConn's new state
// implies.
func (b *pickFirst) follow(s *subConn, st balancer.SubConnState) {
	switch st.State {
	case connectivity.Ready:
		s.failed = false
		b.report(connectivity.Ready, &readyPicker{result: balancer.PickResult{SubConn: s.sc}})
	case connectivity.TransientFailure:
		s.failed = true
		err := st.Err
		if err == nil {
			err = errors.New("connection failed")
		}
		b.report(connectivity.TransientFailure, balancer.NewErrPicker(fmt.Errorf("pick_first: last connection error: %w", err)))
		b.cc.ResolveNow()
	case connectivity.Connecting:
		if !s.failed {
			b.report(connectivity.Connecting, queuePicker)
		}
	case connectivity.Idle:
		if s.failed {
			// Backoff is over: try again at once, still failing fast.
			s.sc.Connect()
			return
		}
		b.report(connectivity.Idle, &idlePicker{sc: s.sc})
		b.cc.ResolveNow()
	}
}

func (b *pickFirst) ResolverError(err error) {
	if b.closed || b.current != nil {
		return
	}
	b.report(connectivity.TransientFailure, balancer.NewErrPicker(fmt.Errorf("pick_first: resolver error: %w", err)))
}

func (b *pickFirst) Close() {
	b.shutdownAll()
	b.closed = true
}

func (b *pickFirst) shutdownAll() {
	for _, s := range []*subConn{b.current, b.next} {
		if s != nil {
			s.sc.Shutdown()
		}
	}
	b.current, b.next = nil, nil
}

func (b *pickFirst) report(state connectivity.State, p balancer.Picker) {
	b.cc.UpdateState(balancer.State{ConnectivityState: state, Picker: p})
}

// equalAddrs reports whether two address lists are the same, in order.
func equalAddrs(a, b []resolver.Address) bool {
	return slices.EqualFunc(a, b, func(x, y resolver.Address) bool {
		return x.Addr == y.Addr && x.ServerName == y.ServerName &&
			(len(x.Attributes) == 0 && len(y.Attributes) == 0 || reflect.DeepEqual(x.Attributes, y.Attributes))
	})
}

// readyPicker sends every RPC to one SubConn.
type readyPicker struct{ result balancer.PickResult }

func (p *readyPicker) Pick(balancer.PickInfo) (balancer.PickResult, error) { return p.result, nil }

// idlePicker wakes an Idle SubConn on the first Pick and makes RPCs wait
// for the picker its connecting brings.
type idlePicker struct {
	sc   balancer.SubConn
	once sync.Once
}

func (p *idlePicker) Pick(balancer.PickInfo) (balancer.PickResult, error) {
	p.once.Do(p.sc.Connect)
	return balancer.PickResult{}, balancer.ErrNoSubConnAvailable
}
