// Package interop is the root of h2rpc's gRPC interoperability module. It
// holds no library code: its test (interop_test.go) runs the interop test
// cases of grpc/grpc's doc/interop-test-descriptions.md across process
// boundaries, between h2rpc and grpc-go in both directions and between h2rpc
// and itself, each in cleartext and over TLS (with the test certificates in
// grpc-go's module directory, never copied here).
//
// This is a separate Go module so that grpc-go, which the cross-tests need,
// never becomes a dependency of h2rpc itself. Its parts:
//
//   - proto/grpc/testing: test.proto, messages.proto and empty.proto from
//     grpc/grpc-proto, unchanged;
//   - grpc_testing: the Go messages generated from them (generate.sh) and
//     hand-written h2rpc service stubs (test_h2rpc.go);
//   - testservice: the TestService implementation on h2rpc;
//   - cases: the client side of each interop case, callable in-process;
//   - cmd/server, cmd/client: interop server and client binaries with the
//     command-line flags every gRPC implementation's interop binaries take.
//
// grpc-go's own interop client and server, h2spec, grpcurl and ghz are
// pinned by the tool directives in go.mod; the tests build them with
// `go build` from this module. grpcurl_test.go calls the TestService of an
// in-process h2rpc server with grpcurl (v1.9.4) and ghz_test.go puts a
// bounded load on it with ghz (v0.121.0); both read the service from proto/,
// since the server offers no reflection.
package interop
