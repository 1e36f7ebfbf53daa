// Package crosstest holds in-process cross-tests between h2rpc and grpc-go:
// every test runs in both directions, an h2rpc client against a grpc-go
// server and a grpc-go client against an h2rpc server, over real loopback
// connections, with the same service (cross.Test, over wrapperspb
// messages) described once for each runtime.
//
// The package has no library code; everything is in its _test.go files:
//
//   - harness_test.go: the cross.Test service for both runtimes, and the
//     client and server adapters the direction table is built from;
//   - tap_test.go: a listener that counts the bytes of accepted connections
//     and, in cleartext, parses the HTTP/2 frames both ways;
//   - pki_test.go: a CA and leaf certificates made up in each test;
//   - one file per subject: compression, mutual TLS, keepalive, graceful
//     stop, 64 MiB messages, metadata, status details, deadlines and
//     cancellation.
//
// grpc-go's interop packages are never imported: their generated protos
// would clash in the protobuf registry with the interop module's own.
package crosstest
