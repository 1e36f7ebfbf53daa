// Package dns implements the "dns" resolver: it looks up the A and AAAA
// records of the endpoint's host and reports one address per IP, with the
// endpoint's port (443 when none is given).
//
// Importing the package registers a builder made with NewBuilder() (the
// system resolver, gRPC's default timings) for the scheme "dns". Register
// another one made with options to change them.
//
// # Targets
//
//	dns:///foo.example.com:50051   system DNS, port 50051
//	dns:///foo.example.com         system DNS, port 443
//	dns://8.8.8.8/foo.example.com  ask the DNS server 8.8.8.8 (port 53)
//	dns:///[2001:db8::1]:50051     IP literal: reported as is, no lookup
//
// An endpoint of the form ":port" means localhost; an IPv6 literal may omit
// its brackets when it has no port.
//
// # When it resolves
//
// Once when built, then again each time the client calls ResolveNow, but
// never more often than once per minimum resolution interval (30 s by
// default): a ResolveNow that comes sooner is served when the interval has
// passed. When a lookup fails, finds no address, or the client rejects the
// addresses, the resolver reports the failure (ReportError for the first
// two) and tries again after a delay that follows the gRPC connection
// backoff (1 s, growing by 1.6× up to 120 s, ±20 %), whatever ResolveNow
// says. It does not read TXT (service config) or SRV (grpclb) records.
//
// # Goroutines
//
// A resolver for a host name owns exactly one goroutine, started by Build
// and ended by Close: every lookup and every call to the ClientConn happens
// on that goroutine, one at a time. Close cancels any lookup and waits for
// the goroutine to end, except when the goroutine is inside a call to the
// ClientConn: then Close returns at once and the goroutine ends as soon as
// that call returns. Either way no call to the ClientConn starts after Close
// returns, and the client may call Close while holding a lock that its
// UpdateState or ReportError takes, or from inside them. A resolver for an
// IP literal reports synchronously from Build and owns no goroutine.
// ResolveNow never blocks and, like Close, is safe for concurrent use.
package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/h2rpc/h2rpc/internal/backoff"
	"github.com/h2rpc/h2rpc/resolver"
)

const (
	// Scheme is the scheme the package registers.
	Scheme = "dns"
	// DefaultPort is the port used when the endpoint has none.
	DefaultPort = "443"
	// DefaultMinResolutionInterval is the least time between two lookups
	// triggered by ResolveNow.
	DefaultMinResolutionInterval = 30 * time.Second
	// DefaultLookupTimeout bounds a single lookup.
	DefaultLookupTimeout = 30 * time.Second
	// defaultDNSServerPort is the port of a DNS server named in the
	// target's authority without one.
	defaultDNSServerPort = "53"
)

func init() {
	resolver.Register(NewBuilder())
}

// LookupHostFunc looks up the IP addresses of host, like
// (*net.Resolver).LookupHost. It must return when ctx is done.
type LookupHostFunc func(ctx context.Context, host string) ([]string, error)

// Option configures a Builder.
type Option func(*Builder)

// WithLookupHost makes the builder's resolvers look host names up with f
// instead of a net.Resolver. The target's authority (DNS server) is then
// ignored. Default: net.DefaultResolver, or a pure-Go net.Resolver that asks
// the server named in the target's authority.
func WithLookupHost(f LookupHostFunc) Option {
	return func(b *Builder) { b.lookupHost = f }
}

// WithMinResolutionInterval sets the least time between two lookups
// triggered by ResolveNow. Default: DefaultMinResolutionInterval (30 s).
// Zero or negative means no limit.
func WithMinResolutionInterval(d time.Duration) Option {
	return func(b *Builder) { b.minInterval = d }
}

// WithLookupTimeout bounds each lookup; a lookup that takes longer fails
// and is retried with backoff. Default: DefaultLookupTimeout (30 s). Zero or
// negative means no bound other than Close.
func WithLookupTimeout(d time.Duration) Option {
	return func(b *Builder) { b.lookupTimeout = d }
}

// Builder builds dns resolvers. Its configuration is fixed by NewBuilder;
// it is safe for concurrent use.
type Builder struct {
	lookupHost    LookupHostFunc // nil: a net.Resolver chosen per target
	minInterval   time.Duration
	lookupTimeout time.Duration
	backoff       backoff.Config
}

// NewBuilder returns a builder for the "dns" scheme configured by opts.
func NewBuilder(opts ...Option) *Builder {
	b := &Builder{
		minInterval:   DefaultMinResolutionInterval,
		lookupTimeout: DefaultLookupTimeout,
		backoff:       backoff.DefaultConfig,
	}
	for _, o := range opts {
		o(b)
	}
	return b
}

// Scheme returns "dns".
func (b *Builder) Scheme() string { return Scheme }

// Build parses t.Endpoint as host[:port] and t.Authority, if any, as the DNS
// server's host[:port]. An IP-literal host is reported at once; a host name
// is looked up on a new goroutine, so Build does not wait for DNS.
func (b *Builder) Build(t resolver.Target, cc resolver.ClientConn, _ resolver.BuildOptions) (resolver.Resolver, error) {
	host, port, err := splitHostPort(t.Endpoint, DefaultPort)
	if err != nil {
		return nil, fmt.Errorf("dns: target endpoint %q: %w", t.Endpoint, err)
	}
	if _, err := netip.ParseAddr(host); err == nil {
		// Nothing to look up and nothing will ever change.
		_ = cc.UpdateState(resolver.State{Addresses: []resolver.Address{{Addr: net.JoinHostPort(host, port)}}})
		return literalResolver{}, nil
	}

	lookup := b.lookupHost
	if lookup == nil {
		lookup, err = systemLookup(t.Authority)
		if err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &dnsResolver{
		host:          host,
		port:          port,
		cc:            cc,
		lookup:        lookup,
		minInterval:   b.minInterval,
		lookupTimeout: b.lookupTimeout,
		backoff:       b.backoff,
		ctx:           ctx,
		cancel:        cancel,
		resolveNow:    make(chan struct{}, 1),
		done:          make(chan struct{}),
	}
	go r.watch()
	return r, nil
}

// systemLookup returns the lookup of net.DefaultResolver, or, when
// authority names a DNS server, of a resolver that sends every query there.
func systemLookup(authority string) (LookupHostFunc, error) {
	if authority == "" {
		return net.DefaultResolver.LookupHost, nil
	}
	host, port, err := splitHostPort(authority, defaultDNSServerPort)
	if err != nil {
		return nil, fmt.Errorf("dns: target authority (DNS server) %q: %w", authority, err)
	}
	server := net.JoinHostPort(host, port)
	var d net.Dialer
	r := &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, server)
		},
	}
	return r.LookupHost, nil
}

// splitHostPort splits "host", "host:port", "[v6]", "[v6]:port" or a bare
// IPv6 literal; ":port" means localhost.
func splitHostPort(s, defaultPort string) (host, port string, err error) {
	if s == "" {
		return "", "", errors.New("missing address")
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return s, defaultPort, nil // IP literal without port, maybe IPv6 without brackets
	}
	if host, port, err := net.SplitHostPort(s); err == nil {
		if port == "" {
			return "", "", errors.New("missing port after the colon")
		}
		if host == "" {
			host = "localhost"
		}
		return host, port, nil
	}
	if host, port, err := net.SplitHostPort(s + ":" + defaultPort); err == nil {
		return host, port, nil
	}
	return "", "", errors.New("not of the form host[:port]")
}

// literalResolver is what an IP-literal target gets: it has already
// reported and has nothing to watch.
type literalResolver struct{}

func (literalResolver) ResolveNow() {}
func (literalResolver) Close()      {}

// dnsResolver watches one host name. The fields above mu are immutable after
// Build; the lookup state lives in watch's local variables, on the
// resolver's own goroutine.
type dnsResolver struct {
	host, port    string
	cc            resolver.ClientConn
	lookup        LookupHostFunc
	minInterval   time.Duration
	lookupTimeout time.Duration
	backoff       backoff.Config

	ctx        context.Context // done once Close is called
	cancel     context.CancelFunc
	resolveNow chan struct{} // capacity 1: a pending ResolveNow request
	done       chan struct{} // closed when watch returns

	mu     sync.Mutex
	closed bool // guarded by mu; set by Close
	inCall bool // guarded by mu; watch is calling the ClientConn
}

// ResolveNow asks for a lookup; see the package documentation for how it is
// rate limited. It never blocks.
func (r *dnsResolver) ResolveNow() {
	select {
	case r.resolveNow <- struct{}{}:
	default: // one is pending already
	}
}

// Close stops the resolver; see the package documentation for when it
// waits for the resolver's goroutine.
func (r *dnsResolver) Close() {
	r.mu.Lock()
	r.closed = true
	inCall := r.inCall
	r.mu.Unlock()
	r.cancel()
	if !inCall {
		<-r.done
	}
}

// report makes one call to the ClientConn unless the resolver is closed, in
// which case it returns errClosed.
func (r *dnsResolver) report(call func() error) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return errClosed
	}
	r.inCall = true
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.inCall = false
		r.mu.Unlock()
	}()
	return call()
}

var errClosed = errors.New("dns: resolver closed")

// watch is the resolver's goroutine.
func (r *dnsResolver) watch() {
	defer close(r.done)
	failures := 0
	for {
		// This lookup answers any request made so far.
		select {
		case <-r.resolveNow:
		default:
		}
		started := time.Now()
		err := r.resolve()
		if r.ctx.Err() != nil {
			return
		}
		var wait time.Duration
		if err == nil {
			failures = 0
			select {
			case <-r.ctx.Done():
				return
			case <-r.resolveNow:
			}
			wait = r.minInterval - time.Since(started)
		} else {
			wait = r.backoff.Backoff(failures)
			failures++
		}
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-r.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
}

// resolve looks the host up once and reports the outcome. It returns an
// error when the next attempt should come after a backoff delay.
func (r *dnsResolver) resolve() error {
	ctx := r.ctx
	if r.lookupTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.lookupTimeout)
		defer cancel()
	}
	ips, err := r.lookup(ctx, r.host)
	if err == nil && len(ips) == 0 {
		err = errors.New("no addresses found")
	}
	if err != nil {
		err = fmt.Errorf("dns: resolving %q: %w", r.host, err)
		if rerr := r.report(func() error { r.cc.ReportError(err); return nil }); rerr != nil {
			return rerr
		}
		return err
	}
	addrs := make([]resolver.Address, len(ips))
	for i, ip := range ips {
		addrs[i] = resolver.Address{Addr: net.JoinHostPort(ip, r.port)}
	}
	return r.report(func() error { return r.cc.UpdateState(resolver.State{Addresses: addrs}) })
}
