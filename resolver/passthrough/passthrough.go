// Package passthrough implements the "passthrough" resolver, the default for
// targets without a registered scheme: it hands the target's endpoint to the
// client unchanged, as the single address to dial, and leaves any name
// lookup to the dialer.
//
// Importing the package registers its builder with the resolver registry.
//
// The resolver owns no goroutine and no state beyond its target. It reports
// once, synchronously, from inside Build; ResolveNow and Close do nothing.
// All of it is safe for concurrent use.
package passthrough

import (
	"errors"

	"github.com/h2rpc/h2rpc/resolver"
)

// Scheme is the scheme this package's builder registers, resolver.DefaultScheme.
const Scheme = resolver.DefaultScheme

func init() {
	resolver.Register(builder{})
}

type builder struct{}

// NewBuilder returns the passthrough builder, for callers that want to
// register it under the registry again after replacing it in a test.
func NewBuilder() resolver.Builder { return builder{} }

func (builder) Scheme() string { return Scheme }

func (builder) Build(t resolver.Target, cc resolver.ClientConn, _ resolver.BuildOptions) (resolver.Resolver, error) {
	if t.Endpoint == "" {
		return nil, errors.New("passthrough: empty endpoint in target")
	}
	// The error says the client could not use the address; with a single
	// fixed address there is nothing better to report, so there is nothing
	// to retry either.
	_ = cc.UpdateState(resolver.State{Addresses: []resolver.Address{{Addr: t.Endpoint}}})
	return nopResolver{}, nil
}

type nopResolver struct{}

func (nopResolver) ResolveNow() {}
func (nopResolver) Close()      {}
