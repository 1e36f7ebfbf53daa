// Package resolver defines how a client turns a target name into a list of
// server addresses: the Resolver and Builder interfaces, the ClientConn
// interface a resolver reports to, the registry of builders by URI scheme,
// and target parsing.
//
// # What it owns
//
// The interfaces and plain data types (Address, State, Target), the global
// builder registry, and ParseTarget. The built-in resolvers live in
// sub-packages that register themselves when imported: resolver/passthrough
// (the default scheme), resolver/dns, and resolver/manual (for tests, which
// registers nothing by itself).
//
// # What it never does
//
// It never dials, never picks an address (that is the balancer's job) and
// never retries connections. It does not import the client; the client
// imports it.
//
// # Targets
//
// A target is a URI "scheme://authority/endpoint" (RFC 3986 syntax, as gRPC's
// naming document describes). See ParseTarget for how a target whose scheme
// is missing or unregistered falls back to the passthrough scheme.
//
// # Goroutines
//
// Register is meant for init functions; Register, Unregister, Get and
// ParseTarget are nevertheless safe for concurrent use.
//
// The client calls Builder.Build, Resolver.ResolveNow and Resolver.Close,
// never two of them at the same time for one resolver, and calls nothing
// after Close. A resolver calls its ClientConn's UpdateState and ReportError
// from any goroutine it likes, including from inside Build, so the client's
// implementation of ClientConn must be safe for concurrent use. Once Close
// has returned, a resolver starts no new call to its ClientConn. A call
// already in progress may still be running, because Close never waits for
// one: the client may call Close while holding a lock that its UpdateState
// or ReportError takes, or from inside them, and should ignore what a
// closed resolver's last call brings.
package resolver
