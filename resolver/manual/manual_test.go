package manual

import (
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/h2rpc/h2rpc/resolver"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

type fakeCC struct {
	mu     sync.Mutex
	states []resolver.State
	errs   []error
	ret    error
}

func (c *fakeCC) UpdateState(s resolver.State) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.states = append(c.states, s)
	return c.ret
}

func (c *fakeCC) ReportError(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errs = append(c.errs, err)
}

func addrs(a ...string) resolver.State {
	var s resolver.State
	for _, x := range a {
		s.Addresses = append(s.Addresses, resolver.Address{Addr: x})
	}
	return s
}

func TestInitialStateReportedAtBuild(t *testing.T) {
	r := NewBuilderWithScheme("test-initial")
	assert.Equal(t, "test-initial", r.Scheme())
	r.InitialState(addrs("a:1"))

	var built resolver.Target
	r.BuildCallback = func(tgt resolver.Target, _ resolver.ClientConn, _ resolver.BuildOptions) { built = tgt }
	cc := &fakeCC{}
	tgt := resolver.Target{Scheme: "test-initial", Endpoint: "x"}
	res, err := r.Build(tgt, cc, resolver.BuildOptions{})
	require.NoError(t, err)
	assert.Equal(t, tgt, built)
	assert.Equal(t, tgt, r.Target())
	assert.Equal(t, []resolver.State{addrs("a:1")}, cc.states)
	assert.Same(t, cc, r.CC())
	res.Close()
	assert.Nil(t, r.CC())
}

func TestUpdateStateAndReportError(t *testing.T) {
	r := NewBuilderWithScheme("test-update")
	assert.ErrorIs(t, r.UpdateState(addrs("early:1")), ErrNotBuilt)
	r.ReportError(errors.New("dropped: not built"))

	cc := &fakeCC{}
	res, err := r.Build(resolver.Target{}, cc, resolver.BuildOptions{})
	require.NoError(t, err)
	require.Equal(t, []resolver.State{addrs("early:1")}, cc.states, "state before Build is reported by Build")

	require.NoError(t, r.UpdateState(addrs("b:1", "c:2")))
	cc.ret = errors.New("rejected")
	assert.EqualError(t, r.UpdateState(addrs()), "rejected")
	boom := errors.New("boom")
	r.ReportError(boom)
	assert.Equal(t, []resolver.State{addrs("early:1"), addrs("b:1", "c:2"), addrs()}, cc.states)
	assert.Equal(t, []error{boom}, cc.errs)
	s, ok := r.State()
	assert.True(t, ok)
	assert.Equal(t, addrs(), s)

	res.Close()
	assert.ErrorIs(t, r.UpdateState(addrs("late:1")), ErrNotBuilt)
	assert.Len(t, cc.states, 3)
}

func TestCallbacks(t *testing.T) {
	r := NewBuilderWithScheme("test-callbacks")
	var resolveNow, closed int
	r.ResolveNowCallback = func() { resolveNow++ }
	r.CloseCallback = func() { closed++ }
	res, err := r.Build(resolver.Target{}, &fakeCC{}, resolver.BuildOptions{})
	require.NoError(t, err)
	res.ResolveNow()
	res.ResolveNow()
	res.Close()
	assert.Equal(t, 2, resolveNow)
	assert.Equal(t, 1, closed)
}

func TestRebuildAndStaleClose(t *testing.T) {
	r := NewBuilderWithScheme("test-rebuild")
	first, second := &fakeCC{}, &fakeCC{}
	res1, err := r.Build(resolver.Target{}, first, resolver.BuildOptions{})
	require.NoError(t, err)
	_, err = r.Build(resolver.Target{}, second, resolver.BuildOptions{})
	require.NoError(t, err)
	res1.Close() // the first ClientConn closing late must not detach the second
	require.NoError(t, r.UpdateState(addrs("x:1")))
	assert.Empty(t, first.states)
	assert.Equal(t, []resolver.State{addrs("x:1")}, second.states)
}

func TestRegisterAndParse(t *testing.T) {
	r := NewBuilderWithScheme("test-register")
	resolver.Register(r)
	t.Cleanup(func() { resolver.Unregister("test-register") })
	tgt, err := resolver.ParseTarget("test-register:///svc")
	require.NoError(t, err)
	assert.Equal(t, resolver.Target{Scheme: "test-register", Endpoint: "svc"}, tgt)
	assert.Same(t, r, resolver.Get("test-register"))
}

func TestConcurrentUse(t *testing.T) {
	r := NewBuilderWithScheme("test-concurrent")
	cc := &fakeCC{}
	_, err := r.Build(resolver.Target{}, cc, resolver.BuildOptions{})
	require.NoError(t, err)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				_ = r.UpdateState(addrs("a:1"))
				r.ReportError(errors.New("e"))
				_ = r.CC()
			}
		})
	}
	wg.Wait()
	assert.Len(t, cc.states, 400)
}
