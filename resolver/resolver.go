package resolver

// Address is one server address produced by a resolver.
type Address struct {
	// Addr is the address to dial, in the form net.Dial accepts for
	// Network: host:port (IPv6 hosts in brackets) for "tcp", a socket
	// path for "unix" ("@name" for a Linux abstract socket).
	Addr string
	// Network is how Addr is dialled: "tcp" (also when empty) or "unix".
	// A dialer set with WithContextDialer gets Addr alone.
	Network string
	// ServerName, if not empty, overrides the :authority the client sends
	// and the name it verifies in the server's TLS certificate for this
	// address. Empty means the client's default (derived from the target).
	ServerName string
	// Attributes carries resolver-specific data to the balancer. The
	// client and the built-in balancers never read it. Treat it as
	// read-only once the Address is passed on.
	Attributes map[string]any
}

// State is what a resolver reports: the current complete list of
// addresses. Each report replaces the previous one.
type State struct {
	// Addresses is the list of addresses, in the resolver's order of
	// preference.
	Addresses []Address
}

// ClientConn is what a resolver reports to; the client implements it.
//
// Its methods are safe for concurrent use and may be called from inside
// Builder.Build.
type ClientConn interface {
	// UpdateState replaces the address list. A non-nil error means the
	// client or its balancer could not use the state (for example an empty
	// address list); a resolver that polls should then retry sooner, with
	// backoff, rather than wait for its next scheduled resolution.
	UpdateState(State) error
	// ReportError tells the client that resolution failed. The client keeps
	// using the previous addresses, if any, and passes the error to its
	// balancer, which may fail RPCs with it.
	ReportError(error)
}

// BuildOptions holds options for Builder.Build. It is empty today and exists
// so that options can be added without changing the Builder interface.
type BuildOptions struct{}

// Builder creates resolvers for one URI scheme. Builders are registered
// with Register and looked up by the client with Get.
type Builder interface {
	// Build starts resolving t and reporting results to cc. It may report
	// synchronously, before returning. An error means t cannot be resolved
	// by this builder at all (for example a malformed endpoint); transient
	// failures go to cc.ReportError instead.
	Build(t Target, cc ClientConn, opts BuildOptions) (Resolver, error)
	// Scheme returns the URI scheme this builder handles. It must be
	// lower case: ParseTarget lower-cases schemes before looking them up.
	Scheme() string
}

// Resolver watches one target for changes. The client calls its methods
// serially; see the package documentation.
type Resolver interface {
	// ResolveNow is a hint that the client would like a fresh resolution,
	// typically because a connection failed. It must not block; resolvers
	// may ignore or rate-limit it.
	ResolveNow()
	// Close stops the resolver and releases its resources, including its
	// goroutines. After Close returns the resolver starts no new call to
	// its ClientConn. Close never waits for a call to the ClientConn in
	// progress, so it may be called with the locks those calls take held.
	Close()
}
