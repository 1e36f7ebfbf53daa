package pickfirst

import (
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/h2rpc/h2rpc/balancer"
	"github.com/h2rpc/h2rpc/balancer/internal/balancertest"
	"github.com/h2rpc/h2rpc/connectivity"
	"github.com/h2rpc/h2rpc/resolver"
)

func addrs(a ...string) []resolver.Address {
	out := make([]resolver.Address, len(a))
	for i, x := range a {
		out[i] = resolver.Address{Addr: x}
	}
	return out
}

func ccState(a ...string) balancer.ClientConnState {
	return balancer.ClientConnState{ResolverState: resolver.State{Addresses: addrs(a...)}}
}

func newBalancer(t *testing.T) (balancer.Balancer, *balancertest.ClientConn) {
	t.Helper()
	b := balancer.Get(Name)
	require.NotNil(t, b, "registered")
	cc := balancertest.NewClientConn()
	bal := b.Build(cc, balancer.BuildOptions{})
	t.Cleanup(bal.Close)
	return bal, cc
}

// lastState checks that exactly one state was reported since the last call
// and returns it.
func lastState(t *testing.T, cc *balancertest.ClientConn) balancer.State {
	t.Helper()
	states := cc.TakeStates()
	require.Len(t, states, 1)
	require.NotNil(t, states[0].Picker)
	return states[0]
}

func pick(p balancer.Picker) (balancer.SubConn, error) {
	res, err := p.Pick(balancer.PickInfo{FullMethod: "/pkg.Svc/Method"})
	return res.SubConn, err
}

// start gives the balancer addresses and returns the SubConn it creates.
func start(t *testing.T, bal balancer.Balancer, cc *balancertest.ClientConn, a ...string) *balancertest.SubConn {
	t.Helper()
	require.NoError(t, bal.UpdateClientConnState(ccState(a...)))
	scs := cc.SubConns()
	sc := scs[len(scs)-1]
	require.Equal(t, 1, sc.Connects())
	return sc
}

func TestName(t *testing.T) {
	assert.Equal(t, "pick_first", Name)
	assert.Equal(t, Name, balancer.Get("pick_first").Name())
}

func TestOneSubConnForAllAddresses(t *testing.T) {
	bal, cc := newBalancer(t)
	sc := start(t, bal, cc, "a:1", "b:2", "c:3")
	require.Len(t, cc.SubConns(), 1)
	assert.Equal(t, addrs("a:1", "b:2", "c:3"), sc.Addrs)

	st := lastState(t, cc)
	assert.Equal(t, connectivity.Connecting, st.ConnectivityState)
	_, err := pick(st.Picker)
	assert.ErrorIs(t, err, balancer.ErrNoSubConnAvailable)

	sc.SetState(connectivity.Connecting, nil)
	assert.Equal(t, connectivity.Connecting, lastState(t, cc).ConnectivityState)

	sc.SetState(connectivity.Ready, nil)
	st = lastState(t, cc)
	assert.Equal(t, connectivity.Ready, st.ConnectivityState)
	for range 5 {
		got, err := pick(st.Picker)
		require.NoError(t, err)
		assert.Same(t, sc, got)
	}
}

// TestStateTable drives the SubConn through sequences of states and checks
// the state reported after each step ("-" means nothing reported) and what
// the picker does.
func TestStateTable(t *testing.T) {
	connErr := errors.New("connection refused")
	type step struct {
		state    connectivity.State
		err      error
		reported string // connectivity state name reported, or "-" for none
		pick     string // "sc", "wait" or an error substring; "" to skip
		connects int    // total Connect calls expected after the step (and pick)
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"connect then fail", []step{
			{connectivity.Connecting, nil, "CONNECTING", "wait", 1},
			{connectivity.TransientFailure, connErr, "TRANSIENT_FAILURE", "pick_first: last connection error: connection refused", 1},
		}},
		{"failure is sticky through retries", []step{
			{connectivity.Connecting, nil, "CONNECTING", "wait", 1},
			{connectivity.TransientFailure, connErr, "TRANSIENT_FAILURE", "connection refused", 1},
			{connectivity.Idle, nil, "-", "", 2}, // backoff over: balancer reconnects at once
			{connectivity.Connecting, nil, "-", "", 2},
			{connectivity.TransientFailure, errors.New("timeout"), "TRANSIENT_FAILURE", "timeout", 2},
			{connectivity.Connecting, nil, "-", "", 2},
			{connectivity.Ready, nil, "READY", "sc", 2},
		}},
		{"lost connection goes idle and reconnects on pick", []step{
			{connectivity.Connecting, nil, "CONNECTING", "wait", 1},
			{connectivity.Ready, nil, "READY", "sc", 1},
			{connectivity.Idle, nil, "IDLE", "wait", 2},
			{connectivity.Connecting, nil, "CONNECTING", "wait", 2},
			{connectivity.Ready, nil, "READY", "sc", 2},
		}},
		{"failure without error still explains", []step{
			{connectivity.TransientFailure, nil, "TRANSIENT_FAILURE", "pick_first: last connection error: connection failed", 1},
		}},
		{"shutdown report ignored", []step{
			{connectivity.Shutdown, nil, "-", "", 1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bal, cc := newBalancer(t)
			sc := start(t, bal, cc, "a:1")
			cc.TakeStates()
			for i, s := range tt.steps {
				sc.SetState(s.state, s.err)
				states := cc.TakeStates()
				if s.reported == "-" {
					assert.Empty(t, states, "step %d", i)
				} else {
					require.Len(t, states, 1, "step %d", i)
					assert.Equal(t, s.reported, states[0].ConnectivityState.String(), "step %d", i)
					got, err := pick(states[0].Picker)
					switch s.pick {
					case "sc":
						assert.NoError(t, err, "step %d", i)
						assert.Same(t, sc, got, "step %d", i)
					case "wait":
						assert.ErrorIs(t, err, balancer.ErrNoSubConnAvailable, "step %d", i)
					case "":
					default:
						assert.ErrorContains(t, err, s.pick, "step %d", i)
					}
				}
				assert.Equal(t, s.connects, sc.Connects(), "step %d", i)
			}
		})
	}
}

func TestTransientFailureWrapsErrorAndResolvesNow(t *testing.T) {
	bal, cc := newBalancer(t)
	sc := start(t, bal, cc, "a:1")
	cc.TakeStates()
	connErr := errors.New("refused")
	sc.SetState(connectivity.TransientFailure, connErr)
	_, err := pick(lastState(t, cc).Picker)
	assert.ErrorIs(t, err, connErr)
	assert.NotErrorIs(t, err, balancer.ErrNoSubConnAvailable)
	assert.Equal(t, 1, cc.ResolveNows())
}

func TestIdlePickerConnectsOnce(t *testing.T) {
	bal, cc := newBalancer(t)
	sc := start(t, bal, cc, "a:1")
	sc.SetState(connectivity.Ready, nil)
	sc.SetState(connectivity.Idle, nil)
	assert.Equal(t, 1, cc.ResolveNows(), "a lost connection asks for re-resolution")
	p := cc.Last().Picker
	require.Equal(t, connectivity.Idle, cc.Last().ConnectivityState)
	require.Equal(t, 1, sc.Connects())

	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 100 {
				_, err := pick(p)
				assert.ErrorIs(t, err, balancer.ErrNoSubConnAvailable)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 2, sc.Connects(), "exactly one Connect from all the picks")
}

func TestEmptyAddressList(t *testing.T) {
	bal, cc := newBalancer(t)
	sc := start(t, bal, cc, "a:1")
	sc.SetState(connectivity.Ready, nil)
	cc.TakeStates()

	err := bal.UpdateClientConnState(ccState())
	assert.ErrorIs(t, err, balancer.ErrBadResolverState)
	assert.True(t, sc.IsShutdown())
	st := lastState(t, cc)
	assert.Equal(t, connectivity.TransientFailure, st.ConnectivityState)
	_, err = pick(st.Picker)
	assert.ErrorContains(t, err, "no addresses")

	// Late news of the old SubConn is ignored.
	sc.SetState(connectivity.Idle, nil)
	assert.Empty(t, cc.TakeStates())

	// Addresses again: a fresh start.
	sc2 := start(t, bal, cc, "a:1")
	assert.NotSame(t, sc, sc2)
	assert.Equal(t, connectivity.Connecting, lastState(t, cc).ConnectivityState)
}

func TestSameAddressesChangeNothing(t *testing.T) {
	bal, cc := newBalancer(t)
	sc := start(t, bal, cc, "a:1", "b:2")
	sc.SetState(connectivity.Ready, nil)
	cc.TakeStates()
	require.NoError(t, bal.UpdateClientConnState(ccState("a:1", "b:2")))
	assert.Len(t, cc.SubConns(), 1)
	assert.Empty(t, cc.TakeStates())
	assert.False(t, sc.IsShutdown())
}

func TestEqualAddrs(t *testing.T) {
	withAttr := func(addr string, attrs map[string]any) resolver.Address {
		return resolver.Address{Addr: addr, Attributes: attrs}
	}
	tests := []struct {
		a, b []resolver.Address
		want bool
	}{
		{addrs("a", "b"), addrs("a", "b"), true},
		{addrs("a", "b"), addrs("b", "a"), false},
		{addrs("a"), addrs("a", "b"), false},
		{[]resolver.Address{{Addr: "a", ServerName: "x"}}, []resolver.Address{{Addr: "a", ServerName: "y"}}, false},
		{[]resolver.Address{withAttr("a", nil)}, []resolver.Address{withAttr("a", map[string]any{})}, true},
		{[]resolver.Address{withAttr("a", map[string]any{"k": []int{1}})}, []resolver.Address{withAttr("a", map[string]any{"k": []int{1}})}, true},
		{[]resolver.Address{withAttr("a", map[string]any{"k": 1})}, []resolver.Address{withAttr("a", map[string]any{"k": 2})}, false},
	}
	for i, tt := range tests {
		assert.Equal(t, tt.want, equalAddrs(tt.a, tt.b), "case %d", i)
	}
}

func TestNewAddressesWhileNotReadyReplaceAtOnce(t *testing.T) {
	for _, state := range []connectivity.State{connectivity.Connecting, connectivity.TransientFailure, connectivity.Idle} {
		t.Run(state.String(), func(t *testing.T) {
			bal, cc := newBalancer(t)
			old := start(t, bal, cc, "a:1")
			old.SetState(connectivity.Connecting, nil)
			if state != connectivity.Connecting {
				old.SetState(state, errors.New("x"))
			}
			cc.TakeStates()

			sc := start(t, bal, cc, "b:2")
			assert.True(t, old.IsShutdown())
			assert.Equal(t, addrs("b:2"), sc.Addrs)
			assert.Equal(t, connectivity.Connecting, lastState(t, cc).ConnectivityState)

			old.SetState(connectivity.Ready, nil) // stale: ignored
			assert.Empty(t, cc.TakeStates())
			sc.SetState(connectivity.Ready, nil)
			got, err := pick(lastState(t, cc).Picker)
			require.NoError(t, err)
			assert.Same(t, sc, got)
		})
	}
}

func TestNewAddressesWhileReadyKeepServing(t *testing.T) {
	bal, cc := newBalancer(t)
	old := start(t, bal, cc, "a:1")
	old.SetState(connectivity.Ready, nil)
	cc.TakeStates()

	sc := start(t, bal, cc, "b:2")
	assert.False(t, old.IsShutdown())
	assert.Empty(t, cc.TakeStates(), "RPCs keep going to the old SubConn")
	got, err := pick(cc.Last().Picker)
	require.NoError(t, err)
	assert.Same(t, old, got)

	sc.SetState(connectivity.Connecting, nil)
	assert.Empty(t, cc.TakeStates())

	sc.SetState(connectivity.Ready, nil)
	assert.True(t, old.IsShutdown())
	st := lastState(t, cc)
	assert.Equal(t, connectivity.Ready, st.ConnectivityState)
	got, err = pick(st.Picker)
	require.NoError(t, err)
	assert.Same(t, sc, got)

	// The same list again, now current: nothing happens.
	require.NoError(t, bal.UpdateClientConnState(ccState("b:2")))
	assert.Len(t, cc.SubConns(), 2)
}

func TestReplacementFailureTakesOver(t *testing.T) {
	bal, cc := newBalancer(t)
	old := start(t, bal, cc, "a:1")
	old.SetState(connectivity.Ready, nil)
	sc := start(t, bal, cc, "b:2")
	cc.TakeStates()

	sc.SetState(connectivity.TransientFailure, errors.New("b is down"))
	assert.True(t, old.IsShutdown())
	st := lastState(t, cc)
	assert.Equal(t, connectivity.TransientFailure, st.ConnectivityState)
	_, err := pick(st.Picker)
	assert.ErrorContains(t, err, "b is down")

	sc.SetState(connectivity.Idle, nil) // sticky failure: reconnect at once
	assert.Equal(t, 2, sc.Connects())
	assert.Empty(t, cc.TakeStates())
}

func TestOldLostWhileReplacementConnects(t *testing.T) {
	bal, cc := newBalancer(t)
	old := start(t, bal, cc, "a:1")
	old.SetState(connectivity.Ready, nil)
	sc := start(t, bal, cc, "b:2")
	sc.SetState(connectivity.Connecting, nil)
	cc.TakeStates()

	old.SetState(connectivity.Idle, nil)
	assert.True(t, old.IsShutdown())
	assert.Equal(t, 1, old.Connects(), "the old one is not woken up")
	st := lastState(t, cc)
	assert.Equal(t, connectivity.Connecting, st.ConnectivityState)
	_, err := pick(st.Picker)
	assert.ErrorIs(t, err, balancer.ErrNoSubConnAvailable)

	sc.SetState(connectivity.Ready, nil)
	got, err := pick(lastState(t, cc).Picker)
	require.NoError(t, err)
	assert.Same(t, sc, got)
}

func TestSecondReplacementSupersedesFirst(t *testing.T) {
	bal, cc := newBalancer(t)
	old := start(t, bal, cc, "a:1")
	old.SetState(connectivity.Ready, nil)
	first := start(t, bal, cc, "b:2")
	second := start(t, bal, cc, "c:3")
	assert.True(t, first.IsShutdown())
	assert.False(t, old.IsShutdown())
	cc.TakeStates()

	first.SetState(connectivity.Ready, nil) // stale
	assert.Empty(t, cc.TakeStates())
	second.SetState(connectivity.Ready, nil)
	assert.True(t, old.IsShutdown())
	got, err := pick(lastState(t, cc).Picker)
	require.NoError(t, err)
	assert.Same(t, second, got)
}

func TestResolverError(t *testing.T) {
	bal, cc := newBalancer(t)
	resErr := errors.New("no such host")
	bal.ResolverError(resErr)
	st := lastState(t, cc)
	assert.Equal(t, connectivity.TransientFailure, st.ConnectivityState)
	_, err := pick(st.Picker)
	assert.ErrorIs(t, err, resErr)
	assert.ErrorContains(t, err, "pick_first: resolver error")

	sc := start(t, bal, cc, "a:1")
	sc.SetState(connectivity.Ready, nil)
	cc.TakeStates()
	bal.ResolverError(resErr)
	assert.Empty(t, cc.TakeStates(), "a working SubConn outranks a resolver error")
}

func TestNewSubConnFailure(t *testing.T) {
	bal, cc := newBalancer(t)
	cc.FailNewSubConn(errors.New("client closing"))
	err := bal.UpdateClientConnState(ccState("a:1"))
	assert.ErrorContains(t, err, "client closing")
	st := lastState(t, cc)
	assert.Equal(t, connectivity.TransientFailure, st.ConnectivityState)
}

func TestClose(t *testing.T) {
	bal, cc := newBalancer(t)
	old := start(t, bal, cc, "a:1")
	old.SetState(connectivity.Ready, nil)
	sc := start(t, bal, cc, "b:2")
	cc.TakeStates()
	bal.Close()
	assert.True(t, old.IsShutdown())
	assert.True(t, sc.IsShutdown())
	sc.SetState(connectivity.Ready, nil)
	bal.ResolverError(errors.New("late"))
	assert.NoError(t, bal.UpdateClientConnState(ccState("c:3")))
	assert.Empty(t, cc.TakeStates())
	assert.Len(t, cc.SubConns(), 2)
}

// TestConcurrentPicks races RPC goroutines picking against the balancer
// changing state and pickers.
func TestConcurrentPicks(t *testing.T) {
	bal, cc := newBalancer(t)
	sc := start(t, bal, cc, "a:1")
	sc.SetState(connectivity.Ready, nil)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				got, err := pick(cc.Last().Picker)
				if err == nil {
					assert.Same(t, sc, got)
				}
			}
		})
	}
	for range 200 {
		sc.SetState(connectivity.Idle, nil)
		sc.SetState(connectivity.Connecting, nil)
		sc.SetState(connectivity.Ready, nil)
	}
	close(stop)
	wg.Wait()
}

func BenchmarkPickReady(b *testing.B) {
	cc := balancertest.NewClientConn()
	bal := builder{}.Build(cc, balancer.BuildOptions{})
	defer bal.Close()
	if err := bal.UpdateClientConnState(ccState("a:1")); err != nil {
		b.Fatal(err)
	}
	cc.SubConns()[0].SetState(connectivity.Ready, nil)
	p := cc.Last().Picker
	info := balancer.PickInfo{FullMethod: "/pkg.Svc/Method"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := p.Pick(info); err != nil {
				b.Fatal(err)
			}
		}
	})
}
