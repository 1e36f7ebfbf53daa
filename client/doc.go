// Package client calls gRPC services: New parses a target, resolves it to
// addresses (passthrough by default, dns too), balances calls over the
// connections it makes to them (pick_first by default, round_robin too),
// and runs unary calls (Invoke) and streams (NewStream) through the chained
// interceptors, with deadlines, cancellation and metadata.
//
// A ClientConn is safe for concurrent use by many goroutines. A Stream may
// have one goroutine sending and another receiving. Calls watch their
// context without a goroutine of their own: a streaming call registers a
// context.AfterFunc that resets the stream when the context ends, and is
// released when the stream ends.
//
// Connections are made lazily, like grpc-go's NewClient: the first call
// (or Connect) starts connecting. Reconnection follows gRPC's connection
// backoff (internal/backoff).
//
// The package never reads or writes frames itself (package transport does)
// and never serves calls.
package client
