// Package peer carries the identity of the other end of an RPC in a
// context: its address and what the security handshake learned. It never
// inspects connections itself.
package peer

import (
	"context"
	"net"

	"github.com/h2rpc/h2rpc/credentials"
)

// Peer is the other end of an RPC.
type Peer struct {
	// Addr is the peer's network address.
	Addr net.Addr
	// LocalAddr is our end of the connection.
	LocalAddr net.Addr
	// AuthInfo is what the security handshake learned (may be nil).
	AuthInfo credentials.AuthInfo
}

type peerKey struct{}

// NewContext returns a context carrying p.
func NewContext(ctx context.Context, p *Peer) context.Context {
	return context.WithValue(ctx, peerKey{}, p)
}

// FromContext returns the peer stored in ctx, if any.
func FromContext(ctx context.Context) (*Peer, bool) {
	p, ok := ctx.Value(peerKey{}).(*Peer)
	return p, ok
}
