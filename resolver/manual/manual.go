// Package manual provides a resolver whose addresses a test sets by hand.
//
// A Resolver is its own Builder. Unlike the other built-in resolvers it
// registers nothing when imported, since its scheme is the caller's choice:
// register it with resolver.Register (and remove it with
// resolver.Unregister) or hand it to the client directly if the client
// offers that.
//
// # Goroutines
//
// All methods are safe for concurrent use. UpdateState and ReportError call
// the ClientConn on the caller's goroutine, without holding any lock of the
// Resolver, so a ClientConn may call back into the Resolver. Build reports
// the last known state synchronously, before returning. A Resolver serves
// one ClientConn at a time: a later Build replaces the earlier one's
// ClientConn. Because calls are not serialised against Close, an
// UpdateState racing with Close may reach the ClientConn after Close
// returns; tests that need otherwise must not race them.
package manual

import (
	"errors"
	"sync"

	"github.com/h2rpc/h2rpc/resolver"
)

// ErrNotBuilt is returned by UpdateState when the resolver has not been
// built yet (or its last build was closed); the state is still recorded
// and reported by the next Build.
var ErrNotBuilt = errors.New("manual: resolver not built (state kept for the next Build)")

// Resolver is a resolver.Builder and resolver.Resolver driven by its caller.
// Create it with NewBuilderWithScheme. The callback fields must be set
// before the Resolver is built and not changed afterwards.
type Resolver struct {
	scheme string

	// BuildCallback, if set, is called by Build before it reports anything.
	BuildCallback func(resolver.Target, resolver.ClientConn, resolver.BuildOptions)
	// ResolveNowCallback, if set, is called by ResolveNow.
	ResolveNowCallback func()
	// CloseCallback, if set, is called by Close.
	CloseCallback func()

	mu         sync.Mutex
	cc         resolver.ClientConn // of the current build; nil if none
	generation int                 // counts builds, so a stale Close is harmless
	target     resolver.Target     // of the latest build
	state      *resolver.State     // latest InitialState or UpdateState; nil if none
}

// NewBuilderWithScheme returns a manual resolver for scheme. The scheme
// should be lower case and unique to the test, such as "test-1234".
func NewBuilderWithScheme(scheme string) *Resolver {
	return &Resolver{scheme: scheme}
}

// InitialState sets the state Build reports. It is equivalent to an
// UpdateState before Build and exists for the familiar spelling.
func (r *Resolver) InitialState(s resolver.State) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.state = &s
}

// Scheme returns the scheme given to NewBuilderWithScheme.
func (r *Resolver) Scheme() string { return r.scheme }

// Build records cc as the ClientConn to report to and reports the last
// state set by InitialState or UpdateState, if any. It never fails.
func (r *Resolver) Build(t resolver.Target, cc resolver.ClientConn, opts resolver.BuildOptions) (resolver.Resolver, error) {
	if r.BuildCallback != nil {
		r.BuildCallback(t, cc, opts)
	}
	r.mu.Lock()
	r.generation++
	gen := r.generation
	r.cc = cc
	r.target = t
	state := r.state
	r.mu.Unlock()
	if state != nil {
		_ = cc.UpdateState(*state)
	}
	return &build{r: r, generation: gen}, nil
}

// UpdateState records s and reports it to the ClientConn of the current
// build, returning the ClientConn's error. Without a current build it
// returns ErrNotBuilt and Build reports s later.
func (r *Resolver) UpdateState(s resolver.State) error {
	r.mu.Lock()
	r.state = &s
	cc := r.cc
	r.mu.Unlock()
	if cc == nil {
		return ErrNotBuilt
	}
	return cc.UpdateState(s)
}

// ReportError reports err to the ClientConn of the current build, if any.
func (r *Resolver) ReportError(err error) {
	r.mu.Lock()
	cc := r.cc
	r.mu.Unlock()
	if cc != nil {
		cc.ReportError(err)
	}
}

// CC returns the ClientConn of the current build, or nil.
func (r *Resolver) CC() resolver.ClientConn {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cc
}

// Target returns the target of the latest build.
func (r *Resolver) Target() resolver.Target {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.target
}

// State returns the latest state set by InitialState or UpdateState, and
// false if there is none.
func (r *Resolver) State() (resolver.State, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state == nil {
		return resolver.State{}, false
	}
	return *r.state, true
}

// ResolveNow calls ResolveNowCallback, if set.
func (r *Resolver) ResolveNow() {
	if r.ResolveNowCallback != nil {
		r.ResolveNowCallback()
	}
}

// Close forgets the current build's ClientConn and calls CloseCallback, if
// set. The resolver may be built again afterwards.
func (r *Resolver) Close() {
	r.close(-1)
}

func (r *Resolver) close(generation int) {
	r.mu.Lock()
	if generation < 0 || generation == r.generation {
		r.cc = nil
	}
	r.mu.Unlock()
	if r.CloseCallback != nil {
		r.CloseCallback()
	}
}

// build is what Build returns: Close only detaches its own build, so a
// ClientConn closing late does not cut off a newer one.
type build struct {
	r          *Resolver
	generation int
}

func (b *build) ResolveNow() { b.r.ResolveNow() }
func (b *build) Close()      { b.r.close(b.generation) }
