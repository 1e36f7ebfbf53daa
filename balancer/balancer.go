package balancer

import (
	"context"
	"errors"

	"github.com/h2rpc/h2rpc/connectivity"
	"github.com/h2rpc/h2rpc/resolver"
)

// SubConnState is a state change of a SubConn, delivered to its
// StateListener.
type SubConnState struct {
	// State is the SubConn's new state.
	State connectivity.State
	// Err is the last connection error when State is TransientFailure,
	// nil otherwise.
	Err error
}

// SubConn is one logical connection to a list of addresses, created by
// ClientConn.NewSubConn. The client implements it.
type SubConn interface {
	// Connect starts connecting if the SubConn is Idle and does nothing
	// otherwise. It does not block and is safe to call from any goroutine,
	// including from Picker.Pick.
	Connect()
	// Shutdown closes the SubConn and its connection; RPCs already running
	// on it may finish. Its StateListener may be called once more, with
	// Shutdown. It is a no-op on a SubConn already shut down.
	Shutdown()
}

// NewSubConnOptions holds the options of ClientConn.NewSubConn.
type NewSubConnOptions struct {
	// StateListener receives every state change of the new SubConn. The
	// client calls it serially with the balancer's other methods (see the
	// package documentation). The SubConn starts Idle; that first state is
	// not reported.
	StateListener func(SubConnState)
}

// State is what a balancer reports to its ClientConn: the client's
// aggregate connectivity state and the Picker RPCs must use from now on.
type State struct {
	// ConnectivityState is the client's state as a whole.
	ConnectivityState connectivity.State
	// Picker chooses a SubConn for each RPC. Never nil.
	Picker Picker
}

// ClientConn is what a balancer drives; the client implements it. A
// balancer calls it only from inside its own serialised methods.
type ClientConn interface {
	// NewSubConn creates an Idle SubConn that will try addrs in order. An
	// error means no SubConn was created, typically because the client is
	// closing.
	NewSubConn(addrs []resolver.Address, opts NewSubConnOptions) (SubConn, error)
	// UpdateState installs a new aggregate state and Picker. RPCs waiting
	// for a Picker are retried with it.
	UpdateState(State)
	// ResolveNow asks the resolver for a fresh resolution. It is a hint;
	// the resolver may rate-limit it.
	ResolveNow()
}

// ClientConnState is what the client passes to a balancer when the
// resolver reports.
type ClientConnState struct {
	// ResolverState is the resolver's latest report.
	ResolverState resolver.State
}

// ErrBadResolverState may be returned by UpdateClientConnState when the
// state cannot be used at all (for example it has no addresses). The client
// then hands an error back to the resolver's UpdateState, so a polling
// resolver retries sooner.
var ErrBadResolverState = errors.New("balancer: bad resolver state")

// Balancer is a load-balancing policy instance for one client. Its methods
// are called serially by the client; see the package documentation.
type Balancer interface {
	// UpdateClientConnState gives the balancer a new address list. It
	// returns ErrBadResolverState if the list cannot be used.
	UpdateClientConnState(ClientConnState) error
	// ResolverError tells the balancer that resolution failed. A balancer
	// with working SubConns may ignore it; one without should report
	// TransientFailure with a Picker that fails RPCs with the error.
	ResolverError(error)
	// Close shuts down every SubConn the balancer created. The balancer
	// must not call its ClientConn afterwards.
	Close()
}

// BuildOptions holds options for Builder.Build. It is empty today and exists
// so that options can be added without changing the Builder interface.
type BuildOptions struct{}

// Builder creates balancers of one policy. Builders are registered by name
// with Register.
type Builder interface {
	// Build creates a balancer that reports to cc. It must not call cc
	// before returning.
	Build(cc ClientConn, opts BuildOptions) Balancer
	// Name returns the policy's name, as used in service configs, such as
	// "pick_first".
	Name() string
}

// PickInfo describes the RPC a Picker chooses for.
type PickInfo struct {
	// FullMethod is the RPC's method, "/package.Service/Method".
	FullMethod string
	// Ctx is the RPC's context.
	Ctx context.Context
}

// DoneInfo describes how an RPC ended, for PickResult.Done.
type DoneInfo struct {
	// Err is the RPC's error, nil on success.
	Err error
}

// PickResult is a Picker's choice.
type PickResult struct {
	// SubConn is the SubConn to use, one the balancer created and saw
	// Ready.
	SubConn SubConn
	// Done, if not nil, is called once when the RPC ends (or fails to
	// start on SubConn), from the RPC's goroutine.
	Done func(DoneInfo)
}

// ErrNoSubConnAvailable is returned by Pick to mean "no SubConn yet, wait
// for the next Picker": the client blocks the RPC until the balancer's next
// UpdateState and picks again (or until the RPC's context ends).
var ErrNoSubConnAvailable = errors.New("balancer: no SubConn is available")

// Picker chooses a SubConn for each RPC. The client calls Pick from many
// goroutines concurrently; see the package documentation.
type Picker interface {
	// Pick chooses a SubConn for the RPC. Errors other than
	// ErrNoSubConnAvailable fail the RPC at once, unless it is
	// wait-for-ready, in which case it waits for the next Picker like
	// ErrNoSubConnAvailable. A status error keeps its code; any other
	// error becomes UNAVAILABLE.
	Pick(info PickInfo) (PickResult, error)
}

// PickerFunc adapts a function to the Picker interface.
type PickerFunc func(info PickInfo) (PickResult, error)

// Pick returns f(info).
func (f PickerFunc) Pick(info PickInfo) (PickResult, error) { return f(info) }

// NewErrPicker returns a Picker whose every Pick fails with err. Pass
// ErrNoSubConnAvailable for a Picker that makes RPCs wait.
func NewErrPicker(err error) Picker { return errPicker{err} }

type errPicker struct{ err error }

func (p errPicker) Pick(PickInfo) (PickResult, error) { return PickResult{}, p.err }
