// Package server serves gRPC: it accepts connections, runs each through
// the security handshake and the HTTP/2 transport, and dispatches every
// stream's /package.Service/Method to the handler registered for it,
// through the chained unary or stream interceptors.
//
// Handlers run on a bounded pool of reused goroutines (which keep their
// grown stacks), with a goroutine of its own for a stream that finds no
// idle worker. A connection never runs more handlers at once than its
// MaxConcurrentStreams: the transport refuses streams beyond it, and a
// stream the client opens while handlers of calls it cancelled are still
// finishing waits for one of them (the connection reads nothing
// meanwhile, as in grpc-go).
//
// A request's content-subtype (application/grpc+name) picks the codec
// registered under that name; a subtype with no codec is served with the
// proto codec rather than refused, as grpc-go does, and the response
// repeats the request's content-type.
//
// The descriptor types (ServiceDesc, MethodDesc, StreamDesc) have the
// shape of grpc-go's so that stubs written for grpc-go port by changing
// imports. Server methods are safe for concurrent use. The package never
// dials out and never parses frames.
package server
