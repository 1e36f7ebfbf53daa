package dns

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/h2rpc/h2rpc/resolver"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// event is one call a resolver made to its ClientConn, with the (bubble)
// time it was made.
type event struct {
	at    time.Duration // since the test's start
	addrs []string      // UpdateState
	err   error         // ReportError
}

// fakeCC records calls; updateErr is what UpdateState returns.
type fakeCC struct {
	start     time.Time
	mu        sync.Mutex
	events    []event
	updateErr error
	closed    bool // set by the test once Close has returned
}

func newFakeCC() *fakeCC { return &fakeCC{start: time.Now()} }

func (c *fakeCC) UpdateState(s resolver.State) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		panic("UpdateState after Close")
	}
	var addrs []string
	for _, a := range s.Addresses {
		addrs = append(addrs, a.Addr)
	}
	c.events = append(c.events, event{at: time.Since(c.start), addrs: addrs})
	return c.updateErr
}

func (c *fakeCC) ReportError(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		panic("ReportError after Close")
	}
	c.events = append(c.events, event{at: time.Since(c.start), err: err})
}

func (c *fakeCC) markClosed() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
}

func (c *fakeCC) take() []event {
	c.mu.Lock()
	defer c.mu.Unlock()
	ev := c.events
	c.events = nil
	return ev
}

// fakeDNS answers lookups from a table and counts them.
type fakeDNS struct {
	mu      sync.Mutex
	answers map[string][]string
	err     error
	hosts   []string // every host asked, in order
}

func (d *fakeDNS) lookup(_ context.Context, host string) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.hosts = append(d.hosts, host)
	if d.err != nil {
		return nil, d.err
	}
	return d.answers[host], nil
}

func (d *fakeDNS) set(host string, ips []string, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.answers[host] = ips
	d.err = err
}

func (d *fakeDNS) lookups() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.hosts)
}

func build(t *testing.T, b *Builder, target string, cc resolver.ClientConn) resolver.Resolver {
	t.Helper()
	tgt, err := resolver.ParseTarget(target)
	require.NoError(t, err)
	require.Equal(t, Scheme, tgt.Scheme)
	r, err := b.Build(tgt, cc, resolver.BuildOptions{})
	require.NoError(t, err)
	return r
}

func TestRegistered(t *testing.T) {
	b := resolver.Get("dns")
	require.NotNil(t, b)
	assert.Equal(t, "dns", b.Scheme())
}

func TestResolvesAtBuild(t *testing.T) {
	tests := []struct {
		target string
		host   string
		want   []string
	}{
		{"dns:///foo.example.com:50051", "foo.example.com", []string{"10.0.0.1:50051", "[2001:db8::1]:50051"}},
		{"dns:///foo.example.com", "foo.example.com", []string{"10.0.0.1:443", "[2001:db8::1]:443"}},
		{"dns:foo.example.com:8080", "foo.example.com", []string{"10.0.0.1:8080", "[2001:db8::1]:8080"}},
		{"dns:///:9000", "localhost", []string{"10.0.0.1:9000", "[2001:db8::1]:9000"}},
		{"dns://8.8.8.8/foo.example.com:1", "foo.example.com", []string{"10.0.0.1:1", "[2001:db8::1]:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				dns := &fakeDNS{answers: map[string][]string{tt.host: {"10.0.0.1", "2001:db8::1"}}}
				cc := newFakeCC()
				r := build(t, NewBuilder(WithLookupHost(dns.lookup)), tt.target, cc)
				defer r.Close()
				synctest.Wait()
				assert.Equal(t, []event{{addrs: tt.want}}, cc.take())
				assert.Equal(t, []string{tt.host}, dns.hosts)
			})
		})
	}
}

func TestIPLiteralNeedsNoLookup(t *testing.T) {
	tests := []struct{ target, want string }{
		{"dns:///1.2.3.4:5", "1.2.3.4:5"},
		{"dns:///1.2.3.4", "1.2.3.4:443"},
		{"dns:///[::1]:50051", "[::1]:50051"},
		{"dns:///[::1]", "[::1]:443"},
		{"dns:///::1", "[::1]:443"},
		{"dns:///2001:db8::7", "[2001:db8::7]:443"},
		{"dns:///[fe80::1%25eth0]:80", "[fe80::1%eth0]:80"},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			lookup := func(context.Context, string) ([]string, error) {
				t.Error("unexpected lookup")
				return nil, nil
			}
			cc := newFakeCC()
			r := build(t, NewBuilder(WithLookupHost(lookup)), tt.target, cc)
			ev := cc.take()
			require.Len(t, ev, 1, "reported synchronously")
			assert.Equal(t, []string{tt.want}, ev[0].addrs)
			r.ResolveNow()
			r.Close()
			assert.Empty(t, cc.take())
		})
	}
}

func TestBuildRejectsBadTargets(t *testing.T) {
	for _, tgt := range []resolver.Target{
		{Scheme: "dns", Endpoint: ""},
		{Scheme: "dns", Endpoint: "foo.com:"},
		{Scheme: "dns", Endpoint: "[::1"},
		{Scheme: "dns", Endpoint: "a:b:c:d"},
		{Scheme: "dns", Authority: "8.8.8.8:", Endpoint: "foo.com"},
	} {
		cc := newFakeCC()
		_, err := NewBuilder().Build(tgt, cc, resolver.BuildOptions{})
		assert.Error(t, err, "%+v", tgt)
		assert.Empty(t, cc.take())
	}
}

func TestSplitHostPort(t *testing.T) {
	tests := []struct {
		in, host, port string
		ok             bool
	}{
		{"foo.com", "foo.com", "443", true},
		{"foo.com:80", "foo.com", "80", true},
		{":80", "localhost", "80", true},
		{"1.2.3.4", "1.2.3.4", "443", true},
		{"::1", "::1", "443", true},
		{"[::1]", "::1", "443", true},
		{"[::1]:80", "::1", "80", true},
		{"", "", "", false},
		{"foo.com:", "", "", false},
		{"[::1]:", "", "", false},
		{"[::1", "", "", false},
		{"a:b:c", "", "", false},
	}
	for _, tt := range tests {
		host, port, err := splitHostPort(tt.in, "443")
		if !tt.ok {
			assert.Error(t, err, "%q", tt.in)
			continue
		}
		require.NoError(t, err, "%q", tt.in)
		assert.Equal(t, tt.host, host, "%q", tt.in)
		assert.Equal(t, tt.port, port, "%q", tt.in)
	}
}

func TestResolveNowIsRateLimited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dns := &fakeDNS{answers: map[string][]string{"svc": {"10.0.0.1"}}}
		cc := newFakeCC()
		r := build(t, NewBuilder(WithLookupHost(dns.lookup)), "dns:///svc:1", cc)
		defer r.Close()
		synctest.Wait()
		assert.Equal(t, []event{{at: 0, addrs: []string{"10.0.0.1:1"}}}, cc.take())

		// Without ResolveNow, nothing happens however long we wait.
		time.Sleep(10 * time.Second)
		synctest.Wait()
		assert.Empty(t, cc.take())
		assert.Equal(t, 1, dns.lookups())

		// A ResolveNow 10 s after the first lookup waits until 30 s; asking
		// several times changes nothing.
		dns.set("svc", []string{"10.0.0.2", "10.0.0.3"}, nil)
		r.ResolveNow()
		r.ResolveNow()
		time.Sleep(19 * time.Second)
		synctest.Wait()
		assert.Empty(t, cc.take())
		r.ResolveNow()
		time.Sleep(time.Second)
		synctest.Wait()
		assert.Equal(t, []event{{at: 30 * time.Second, addrs: []string{"10.0.0.2:1", "10.0.0.3:1"}}}, cc.take())

		// A ResolveNow long after the last lookup is served at once.
		time.Sleep(time.Minute)
		r.ResolveNow()
		synctest.Wait()
		assert.Equal(t, []event{{at: 90 * time.Second, addrs: []string{"10.0.0.2:1", "10.0.0.3:1"}}}, cc.take())
		assert.Equal(t, 3, dns.lookups())
	})
}

func TestMinResolutionIntervalOption(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dns := &fakeDNS{answers: map[string][]string{"svc": {"10.0.0.1"}}}
		cc := newFakeCC()
		r := build(t, NewBuilder(WithLookupHost(dns.lookup), WithMinResolutionInterval(0)), "dns:///svc", cc)
		defer r.Close()
		synctest.Wait()
		for range 3 {
			r.ResolveNow()
			synctest.Wait()
		}
		assert.Len(t, cc.take(), 4)
	})
}

func TestLookupErrorsRetryWithBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dnsErr := errors.New("SERVFAIL")
		dns := &fakeDNS{answers: map[string][]string{}, err: dnsErr}
		cc := newFakeCC()
		r := build(t, NewBuilder(WithLookupHost(dns.lookup)), "dns:///svc:1", cc)
		defer r.Close()

		// Failures are reported, then retried at growing intervals:
		// 1 s, then 1.6 s ± 20 %, then 2.56 s ± 20 %.
		synctest.Wait()
		ev := cc.take()
		require.Len(t, ev, 1)
		assert.ErrorIs(t, ev[0].err, dnsErr)
		assert.ErrorContains(t, ev[0].err, `dns: resolving "svc"`)

		time.Sleep(time.Second)
		synctest.Wait()
		require.Len(t, cc.take(), 1, "first retry after exactly 1 s")

		// ResolveNow does not hurry a retry.
		r.ResolveNow()
		time.Sleep(1280*time.Millisecond - time.Nanosecond)
		synctest.Wait()
		assert.Empty(t, cc.take())
		time.Sleep(640 * time.Millisecond)
		synctest.Wait()
		require.Len(t, cc.take(), 1, "second retry within 1.6 s ± 20 %")

		// Success: addresses reported, then back to waiting for ResolveNow.
		dns.set("svc", []string{"10.0.0.1"}, nil)
		time.Sleep(4 * time.Second)
		synctest.Wait()
		ev = cc.take()
		require.Len(t, ev, 1)
		assert.Equal(t, []string{"10.0.0.1:1"}, ev[0].addrs)
		n := dns.lookups()
		time.Sleep(time.Hour)
		assert.Equal(t, n, dns.lookups())
	})
}

func TestNoAddressesIsAnError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dns := &fakeDNS{answers: map[string][]string{}}
		cc := newFakeCC()
		r := build(t, NewBuilder(WithLookupHost(dns.lookup)), "dns:///svc", cc)
		defer r.Close()
		synctest.Wait()
		ev := cc.take()
		require.Len(t, ev, 1)
		assert.ErrorContains(t, ev[0].err, "no addresses")
		time.Sleep(time.Second)
		synctest.Wait()
		assert.Len(t, cc.take(), 1, "retried")
	})
}

func TestRejectedStateIsRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dns := &fakeDNS{answers: map[string][]string{"svc": {"10.0.0.1"}}}
		cc := newFakeCC()
		cc.updateErr = errors.New("balancer says no")
		r := build(t, NewBuilder(WithLookupHost(dns.lookup)), "dns:///svc", cc)
		defer r.Close()
		synctest.Wait()
		require.Len(t, cc.take(), 1)
		time.Sleep(time.Second)
		synctest.Wait()
		require.Len(t, cc.take(), 1, "retried after backoff without ResolveNow")

		cc.mu.Lock()
		cc.updateErr = nil
		cc.mu.Unlock()
		time.Sleep(3 * time.Second)
		synctest.Wait()
		require.Len(t, cc.take(), 1)
		time.Sleep(time.Hour)
		synctest.Wait()
		assert.Empty(t, cc.take(), "accepted: no more lookups")
	})
}

func TestLookupTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		blocking := func(ctx context.Context, _ string) ([]string, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		cc := newFakeCC()
		r := build(t, NewBuilder(WithLookupHost(blocking), WithLookupTimeout(5*time.Second)), "dns:///svc", cc)
		defer r.Close()
		time.Sleep(5 * time.Second)
		synctest.Wait()
		ev := cc.take()
		require.Len(t, ev, 1)
		assert.ErrorIs(t, ev[0].err, context.DeadlineExceeded)
		assert.Equal(t, 5*time.Second, ev[0].at)
	})
}

func TestCloseStopsLookupInProgress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		started := make(chan struct{})
		blocking := func(ctx context.Context, _ string) ([]string, error) {
			close(started)
			<-ctx.Done()
			return []string{"10.0.0.1"}, nil // a late answer must not be reported
		}
		cc := newFakeCC()
		r := build(t, NewBuilder(WithLookupHost(blocking)), "dns:///svc", cc)
		<-started
		r.Close()
		cc.markClosed()
		r.Close() // idempotent
		r.ResolveNow()
		synctest.Wait()
		assert.Empty(t, cc.take())
	})
}

func TestCloseWhileWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dns := &fakeDNS{answers: map[string][]string{"svc": {"10.0.0.1"}}}
		cc := newFakeCC()
		r := build(t, NewBuilder(WithLookupHost(dns.lookup)), "dns:///svc", cc)
		synctest.Wait()
		r.ResolveNow() // now waiting out the minimum interval
		synctest.Wait()
		r.Close()
		cc.markClosed()
		time.Sleep(time.Minute)
		synctest.Wait()
		assert.Equal(t, 1, dns.lookups())
	})
}

// TestConcurrentResolveNow runs in real time under the race detector.
func TestConcurrentResolveNow(t *testing.T) {
	dns := &fakeDNS{answers: map[string][]string{"svc": {"10.0.0.1"}}}
	cc := newFakeCC()
	r := build(t, NewBuilder(WithLookupHost(dns.lookup), WithMinResolutionInterval(time.Millisecond)), "dns:///svc", cc)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				r.ResolveNow()
			}
		})
	}
	wg.Wait()
	r.Close()
	cc.markClosed()
	assert.GreaterOrEqual(t, dns.lookups(), 1)
}

func TestSystemResolverLiteralAuthority(t *testing.T) {
	// The default lookup is never called for an IP literal, whatever the
	// authority; a bad authority is rejected only for host names.
	cc := newFakeCC()
	r, err := NewBuilder().Build(resolver.Target{Scheme: "dns", Authority: "[::1]:53", Endpoint: "127.0.0.1:80"}, cc, resolver.BuildOptions{})
	require.NoError(t, err)
	r.Close()
	assert.Equal(t, []string{"127.0.0.1:80"}, cc.take()[0].addrs)

	lookup, err := systemLookup("127.0.0.1")
	require.NoError(t, err)
	assert.NotNil(t, lookup)
}

// lockingCC takes a lock in UpdateState, like a client that serialises
// resolver updates with its own mutex.
type lockingCC struct {
	mu      sync.Mutex
	updates int
	entered chan struct{}
}

func (c *lockingCC) UpdateState(resolver.State) error {
	c.entered <- struct{}{}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.updates++
	return nil
}

func (c *lockingCC) ReportError(error) {}

// TestCloseHoldingClientLock closes the resolver while holding the lock its
// ClientConn's UpdateState is blocked on: Close must not wait for that call.
func TestCloseHoldingClientLock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dns := &fakeDNS{answers: map[string][]string{"svc": {"10.0.0.1"}}}
		cc := &lockingCC{entered: make(chan struct{}, 1)}
		cc.mu.Lock()
		r := build(t, NewBuilder(WithLookupHost(dns.lookup), WithMinResolutionInterval(0)), "dns:///svc", cc)
		<-cc.entered // the resolver's goroutine is now blocked on cc.mu
		r.Close()
		r.ResolveNow()
		cc.mu.Unlock()
		synctest.Wait() // the goroutine ends once the call returns
		assert.Equal(t, 1, cc.updates)
		assert.Equal(t, 1, dns.lookups(), "no lookup after Close")
	})
}

// closingCC closes the resolver from inside UpdateState.
type closingCC struct {
	r       resolver.Resolver
	ready   chan struct{}
	updates int
}

func (c *closingCC) UpdateState(resolver.State) error {
	<-c.ready
	c.updates++
	c.r.Close()
	return nil
}

func (c *closingCC) ReportError(error) {}

func TestCloseFromInsideUpdateState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dns := &fakeDNS{answers: map[string][]string{"svc": {"10.0.0.1"}}}
		cc := &closingCC{ready: make(chan struct{})}
		cc.r = build(t, NewBuilder(WithLookupHost(dns.lookup), WithMinResolutionInterval(0)), "dns:///svc", cc)
		close(cc.ready)
		synctest.Wait()
		cc.r.ResolveNow()
		synctest.Wait()
		assert.Equal(t, 1, cc.updates)
		assert.Equal(t, 1, dns.lookups())
	})
}
