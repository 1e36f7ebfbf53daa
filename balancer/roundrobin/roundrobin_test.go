package roundrobin

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

func ccState(a ...string) balancer.ClientConnState {
	var s resolver.State
	for _, x := range a {
		s.Addresses = append(s.Addresses, resolver.Address{Addr: x})
	}
	return balancer.ClientConnState{ResolverState: s}
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

// byAddr returns the live SubConns by address.
func byAddr(cc *balancertest.ClientConn) map[string]*balancertest.SubConn {
	m := make(map[string]*balancertest.SubConn)
	for _, sc := range cc.SubConns() {
		if !sc.IsShutdown() {
			m[sc.Addrs[0].Addr] = sc
		}
	}
	return m
}

// picks returns how many of n picks went to each SubConn.
func picks(t *testing.T, p balancer.Picker, n int) map[balancer.SubConn]int {
	t.Helper()
	counts := make(map[balancer.SubConn]int)
	for range n {
		res, err := p.Pick(balancer.PickInfo{FullMethod: "/pkg.Svc/Method"})
		require.NoError(t, err)
		counts[res.SubConn]++
	}
	return counts
}

func TestName(t *testing.T) {
	assert.Equal(t, "round_robin", Name)
	assert.Equal(t, Name, balancer.Get("round_robin").Name())
}

func TestOneSubConnPerAddress(t *testing.T) {
	bal, cc := newBalancer(t)
	require.NoError(t, bal.UpdateClientConnState(ccState("a:1", "b:2", "a:1", "c:3")))
	scs := cc.SubConns()
	require.Len(t, scs, 3, "duplicates share a SubConn")
	for i, want := range []string{"a:1", "b:2", "c:3"} {
		assert.Equal(t, []resolver.Address{{Addr: want}}, scs[i].Addrs)
		assert.Equal(t, 1, scs[i].Connects())
	}
	states := cc.TakeStates()
	require.Len(t, states, 1)
	assert.Equal(t, connectivity.Connecting, states[0].ConnectivityState)
	_, err := states[0].Picker.Pick(balancer.PickInfo{})
	assert.ErrorIs(t, err, balancer.ErrNoSubConnAvailable)
}

// TestAggregateState checks the client state for combinations of SubConn
// states. Each SubConn first reports Connecting, then its listed states in
// order.
func TestAggregateState(t *testing.T) {
	const (
		idle = connectivity.Idle
		conn = connectivity.Connecting
		rdy  = connectivity.Ready
		tf   = connectivity.TransientFailure
	)
	tests := []struct {
		name string
		subs [][]connectivity.State
		want connectivity.State
	}{
		{"all connecting", [][]connectivity.State{{}, {}, {}}, conn},
		{"one ready", [][]connectivity.State{{rdy}, {}, {tf}}, rdy},
		{"ready beats failures", [][]connectivity.State{{rdy}, {tf}, {tf}}, rdy},
		{"one failed, others connecting", [][]connectivity.State{{tf}, {}, {}}, conn},
		{"all failed", [][]connectivity.State{{tf}, {tf}, {tf}}, tf},
		{"failed stays failed while retrying", [][]connectivity.State{{tf, idle, conn}, {tf, conn}, {tf}}, tf},
		{"recovered", [][]connectivity.State{{tf, conn, rdy}, {tf}, {tf}}, rdy},
		{"lost connection counts as connecting", [][]connectivity.State{{rdy, idle}, {tf}, {tf}}, conn},
		{"lost, reconnecting", [][]connectivity.State{{rdy, idle, conn}, {tf}, {tf}}, conn},
		{"lost, then failed", [][]connectivity.State{{rdy, idle, conn, tf}, {tf}, {tf}}, tf},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bal, cc := newBalancer(t)
			require.NoError(t, bal.UpdateClientConnState(ccState("a:1", "b:2", "c:3")))
			scs := cc.SubConns()
			for i, states := range tt.subs {
				scs[i].SetState(conn, nil)
				for _, s := range states {
					scs[i].SetState(s, errors.New("refused"))
				}
			}
			assert.Equal(t, tt.want, cc.Last().ConnectivityState)
		})
	}
}

func TestIdleReconnectsAtOnce(t *testing.T) {
	bal, cc := newBalancer(t)
	require.NoError(t, bal.UpdateClientConnState(ccState("a:1")))
	sc := cc.SubConns()[0]
	sc.SetState(connectivity.Connecting, nil)
	sc.SetState(connectivity.Ready, nil)
	sc.SetState(connectivity.Idle, nil)
	assert.Equal(t, 2, sc.Connects())
	assert.Equal(t, 1, cc.ResolveNows(), "a lost connection asks for re-resolution")
	sc.SetState(connectivity.TransientFailure, errors.New("x"))
	sc.SetState(connectivity.Idle, nil)
	assert.Equal(t, 3, sc.Connects())
	assert.Equal(t, 2, cc.ResolveNows())
}

func TestRotation(t *testing.T) {
	bal, cc := newBalancer(t)
	require.NoError(t, bal.UpdateClientConnState(ccState("a:1", "b:2", "c:3")))
	scs := byAddr(cc)

	scs["a:1"].SetState(connectivity.Ready, nil)
	counts := picks(t, cc.Last().Picker, 9)
	assert.Equal(t, map[balancer.SubConn]int{scs["a:1"]: 9}, counts)

	scs["c:3"].SetState(connectivity.Ready, nil)
	p := cc.Last().Picker
	counts = picks(t, p, 10)
	assert.Equal(t, map[balancer.SubConn]int{scs["a:1"]: 5, scs["c:3"]: 5}, counts)

	// Strict alternation, whatever the random start.
	first, err := p.Pick(balancer.PickInfo{})
	require.NoError(t, err)
	for range 10 {
		next, err := p.Pick(balancer.PickInfo{})
		require.NoError(t, err)
		assert.NotSame(t, first.SubConn, next.SubConn)
		first = next
	}

	scs["b:2"].SetState(connectivity.Ready, nil)
	counts = picks(t, cc.Last().Picker, 30)
	assert.Equal(t, map[balancer.SubConn]int{scs["a:1"]: 10, scs["b:2"]: 10, scs["c:3"]: 10}, counts)

	scs["a:1"].SetState(connectivity.Idle, nil)
	counts = picks(t, cc.Last().Picker, 10)
	assert.Equal(t, map[balancer.SubConn]int{scs["b:2"]: 5, scs["c:3"]: 5}, counts)
}

func TestRandomStart(t *testing.T) {
	ready := []balancer.SubConn{&balancertest.SubConn{}, &balancertest.SubConn{}, &balancertest.SubConn{}, &balancertest.SubConn{}}
	firsts := make(map[balancer.SubConn]bool)
	for range 200 {
		res, err := newPicker(ready).Pick(balancer.PickInfo{})
		require.NoError(t, err)
		firsts[res.SubConn] = true
	}
	assert.Len(t, firsts, len(ready), "every SubConn is sometimes first")
}

func TestTransientFailurePicker(t *testing.T) {
	bal, cc := newBalancer(t)
	require.NoError(t, bal.UpdateClientConnState(ccState("a:1", "b:2")))
	scs := byAddr(cc)
	scs["a:1"].SetState(connectivity.TransientFailure, errors.New("a refused"))
	assert.Equal(t, connectivity.Connecting, cc.Last().ConnectivityState)
	lastErr := errors.New("b refused")
	scs["b:2"].SetState(connectivity.TransientFailure, lastErr)
	st := cc.Last()
	assert.Equal(t, connectivity.TransientFailure, st.ConnectivityState)
	_, err := st.Picker.Pick(balancer.PickInfo{})
	assert.ErrorIs(t, err, lastErr)
	assert.ErrorContains(t, err, "round_robin: no ready SubConn; last connection error: b refused")
	assert.Equal(t, 2, cc.ResolveNows())

	// A new error while still failing updates the picker.
	scs["a:1"].SetState(connectivity.Connecting, nil)
	scs["a:1"].SetState(connectivity.TransientFailure, errors.New("a timeout"))
	_, err = cc.Last().Picker.Pick(balancer.PickInfo{})
	assert.ErrorContains(t, err, "a timeout")
}

func TestNoRedundantUpdates(t *testing.T) {
	bal, cc := newBalancer(t)
	require.NoError(t, bal.UpdateClientConnState(ccState("a:1", "b:2")))
	scs := byAddr(cc)
	scs["a:1"].SetState(connectivity.Ready, nil)
	cc.TakeStates()

	// b's troubles do not change the ready set.
	scs["b:2"].SetState(connectivity.Connecting, nil)
	scs["b:2"].SetState(connectivity.TransientFailure, errors.New("x"))
	scs["b:2"].SetState(connectivity.Idle, nil)
	assert.Empty(t, cc.TakeStates())

	// Nor does the same address list.
	require.NoError(t, bal.UpdateClientConnState(ccState("a:1", "b:2")))
	assert.Empty(t, cc.TakeStates())
	assert.Len(t, cc.SubConns(), 2)
}

func TestAddressUpdates(t *testing.T) {
	bal, cc := newBalancer(t)
	require.NoError(t, bal.UpdateClientConnState(ccState("a:1", "b:2")))
	old := byAddr(cc)
	old["a:1"].SetState(connectivity.Ready, nil)
	old["b:2"].SetState(connectivity.Ready, nil)

	require.NoError(t, bal.UpdateClientConnState(ccState("b:2", "c:3")))
	assert.True(t, old["a:1"].IsShutdown())
	now := byAddr(cc)
	require.Len(t, now, 2)
	assert.Same(t, old["b:2"], now["b:2"], "kept, connection and all")
	assert.Equal(t, 1, now["b:2"].Connects())
	assert.Equal(t, 1, now["c:3"].Connects())

	st := cc.Last()
	assert.Equal(t, connectivity.Ready, st.ConnectivityState)
	assert.Equal(t, map[balancer.SubConn]int{now["b:2"]: 4}, picks(t, st.Picker, 4))

	// Late news of the removed SubConn is ignored.
	cc.TakeStates()
	old["a:1"].SetState(connectivity.Idle, nil)
	assert.Empty(t, cc.TakeStates())
	assert.Equal(t, 1, old["a:1"].Connects())

	now["c:3"].SetState(connectivity.Ready, nil)
	assert.Equal(t, map[balancer.SubConn]int{now["b:2"]: 3, now["c:3"]: 3}, picks(t, cc.Last().Picker, 6))

	// Removing the only ready one leaves the others connecting.
	require.NoError(t, bal.UpdateClientConnState(ccState("c:3", "d:4")))
	require.NoError(t, bal.UpdateClientConnState(ccState("d:4")))
	assert.Equal(t, connectivity.Connecting, cc.Last().ConnectivityState)
}

func TestEmptyAddressList(t *testing.T) {
	bal, cc := newBalancer(t)
	require.NoError(t, bal.UpdateClientConnState(ccState("a:1", "b:2")))
	scs := cc.SubConns()
	assert.ErrorIs(t, bal.UpdateClientConnState(ccState()), balancer.ErrBadResolverState)
	for _, sc := range scs {
		assert.True(t, sc.IsShutdown())
	}
	st := cc.Last()
	assert.Equal(t, connectivity.TransientFailure, st.ConnectivityState)
	_, err := st.Picker.Pick(balancer.PickInfo{})
	assert.ErrorContains(t, err, "no addresses")

	require.NoError(t, bal.UpdateClientConnState(ccState("a:1")))
	assert.Len(t, cc.SubConns(), 3, "a fresh SubConn")
	assert.Equal(t, connectivity.Connecting, cc.Last().ConnectivityState)
}

func TestResolverError(t *testing.T) {
	bal, cc := newBalancer(t)
	resErr := errors.New("no such host")
	bal.ResolverError(resErr)
	st := cc.Last()
	assert.Equal(t, connectivity.TransientFailure, st.ConnectivityState)
	_, err := st.Picker.Pick(balancer.PickInfo{})
	assert.ErrorIs(t, err, resErr)
	assert.ErrorContains(t, err, "round_robin: resolver error")

	require.NoError(t, bal.UpdateClientConnState(ccState("a:1")))
	cc.TakeStates()
	bal.ResolverError(resErr)
	assert.Empty(t, cc.TakeStates())
}

func TestNewSubConnFailure(t *testing.T) {
	bal, cc := newBalancer(t)
	cc.FailNewSubConn(errors.New("client closing"))
	err := bal.UpdateClientConnState(ccState("a:1"))
	assert.ErrorContains(t, err, "client closing")
	st := cc.Last()
	assert.Equal(t, connectivity.TransientFailure, st.ConnectivityState)
	_, err = st.Picker.Pick(balancer.PickInfo{})
	assert.ErrorContains(t, err, "client closing")
}

func TestClose(t *testing.T) {
	bal, cc := newBalancer(t)
	require.NoError(t, bal.UpdateClientConnState(ccState("a:1", "b:2")))
	scs := cc.SubConns()
	cc.TakeStates()
	bal.Close()
	for _, sc := range scs {
		assert.True(t, sc.IsShutdown())
	}
	scs[0].SetState(connectivity.Ready, nil)
	bal.ResolverError(errors.New("late"))
	assert.NoError(t, bal.UpdateClientConnState(ccState("c:3")))
	assert.Empty(t, cc.TakeStates())
	assert.Len(t, cc.SubConns(), 2)
}

// TestConcurrentPicks checks, under the race detector, that concurrent
// picks on one picker share the load exactly evenly, and that picking races
// cleanly with the balancer replacing pickers.
func TestConcurrentPicks(t *testing.T) {
	bal, cc := newBalancer(t)
	require.NoError(t, bal.UpdateClientConnState(ccState("a:1", "b:2", "c:3", "d:4")))
	scs := cc.SubConns()
	for _, sc := range scs {
		sc.SetState(connectivity.Ready, nil)
	}
	p := cc.Last().Picker

	const goroutines, perGoroutine = 16, 1000
	var (
		mu     sync.Mutex
		counts = make(map[balancer.SubConn]int)
		wg     sync.WaitGroup
	)
	for range goroutines {
		wg.Go(func() {
			local := make(map[balancer.SubConn]int)
			for range perGoroutine {
				res, err := p.Pick(balancer.PickInfo{})
				if assert.NoError(t, err) {
					local[res.SubConn]++
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for sc, n := range local {
				counts[sc] += n
			}
		})
	}
	wg.Wait()
	require.Len(t, counts, len(scs))
	for _, n := range counts {
		assert.Equal(t, goroutines*perGoroutine/len(scs), n)
	}

	stop := make(chan struct{})
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, _ = cc.Last().Picker.Pick(balancer.PickInfo{})
			}
		})
	}
	for range 200 {
		scs[1].SetState(connectivity.Idle, nil)
		scs[1].SetState(connectivity.Ready, nil)
	}
	close(stop)
	wg.Wait()
}

func BenchmarkPick(b *testing.B) {
	cc := balancertest.NewClientConn()
	bal := builder{}.Build(cc, balancer.BuildOptions{})
	defer bal.Close()
	if err := bal.UpdateClientConnState(ccState("a:1", "b:2", "c:3")); err != nil {
		b.Fatal(err)
	}
	for _, sc := range cc.SubConns() {
		sc.SetState(connectivity.Ready, nil)
	}
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
