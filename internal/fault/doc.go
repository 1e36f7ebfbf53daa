// Package fault holds fault-injection tests of h2rpc's client and server
// over loopback TCP connections: a server process killed mid-call, a
// client process killed mid-stream, a connection that stops forwarding
// bytes (over TCP in real time, about 11 s, skipped by -short; and in a
// testing/synctest bubble in virtual time), GracefulStop under load, and
// a resolver moving a busy client to another server.
//
// Processes that must die by SIGKILL are the test binary itself, started
// again with H2RPC_FAULT_CHILD set (see TestHelperProcess); the parent
// talks to a child over its stdin (the child exits when it closes) and
// reads one line per event from its stdout.
//
// The package has no code besides its tests. Every address is on
// 127.0.0.1, every loop is bounded in count and time, and TestMain checks
// that no goroutine outlives the tests.
package fault
