// Package depcheck holds the test that keeps the runtime module free of
// grpc-go: nothing that h2rpc's own packages build from may come from
// google.golang.org/grpc. Only the nested interop and bench modules may
// use it.
package depcheck
