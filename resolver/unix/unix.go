// Package unix resolves unix and unix-abstract targets to a Unix domain
// socket address, as grpc-go's built-in resolvers of the same schemes do:
//
//	unix:///tmp/s.sock, unix:/tmp/s.sock → /tmp/s.sock
//	unix:s.sock                          → s.sock (relative)
//	unix-abstract:name                   → the abstract socket "name" (Linux)
//
// The address never changes, so the resolver does nothing after Build. It
// never dials. Importing the client registers it.
package unix

import (
	"errors"
	"fmt"
	"strings"

	"github.com/h2rpc/h2rpc/resolver"
)

// The schemes this package registers.
const (
	Scheme         = "unix"
	AbstractScheme = "unix-abstract"
)

func init() {
	resolver.Register(builder{scheme: Scheme})
	resolver.Register(builder{scheme: AbstractScheme})
}

type builder struct{ scheme string }

func (b builder) Scheme() string { return b.scheme }

func (b builder) Build(t resolver.Target, cc resolver.ClientConn, _ resolver.BuildOptions) (resolver.Resolver, error) {
	if t.Authority != "" {
		return nil, fmt.Errorf("%s: a target with an authority (%q) names no socket path", b.scheme, t.Authority)
	}
	path := t.Endpoint
	if b.scheme == AbstractScheme {
		// Go's net package writes an abstract socket as "@name".
		path = "@" + strings.TrimPrefix(path, "/")
	}
	if path == "" || path == "@" {
		return nil, errors.New(b.scheme + ": empty socket path in target")
	}
	_ = cc.UpdateState(resolver.State{Addresses: []resolver.Address{{Addr: path, Network: "unix"}}})
	return nop{}, nil
}

type nop struct{}

func (nop) ResolveNow() {}
func (nop) Close()      {}
