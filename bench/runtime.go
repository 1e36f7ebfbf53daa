package main

import (
	"context"
	"fmt"
	"net"

	"google.golang.org/protobuf/types/known/wrapperspb"
)

// rpcRuntime is one gRPC implementation, as a server and as a client. The
// benchmark talks to both runtimes only through it, so every pair runs the
// same client loop and the same handlers.
type rpcRuntime interface {
	// serve starts a server with default options on a fresh 127.0.0.1
	// listener.
	serve() (addr string, stop func(), err error)
	// dial makes a client connection with default options (plaintext).
	// Like grpc-go's NewClient it may connect lazily.
	dial(addr string) (rpcConn, error)
}

// rpcConn is a client connection of either runtime.
type rpcConn interface {
	invoke(ctx context.Context, method string, req, resp *wrapperspb.BytesValue) error
	stream(ctx context.Context, method string, clientStreams, serverStreams bool) (rpcStream, error)
	close() error
}

// rpcStream is a client stream of either runtime; grpc.ClientStream and
// client.Stream both satisfy it.
type rpcStream interface {
	SendMsg(m any) error
	RecvMsg(m any) error
	CloseSend() error
}

// runtimes maps a runtime name (as used in pair names) to its implementation.
var runtimes = map[string]rpcRuntime{
	"h2rpc": h2rpcRuntime{},
	"grpc":  grpcRuntime{},
}

func listen() (net.Listener, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench: listening on loopback: %w", err)
	}
	return lis, nil
}
