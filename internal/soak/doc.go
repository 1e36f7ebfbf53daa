// Package soak holds TestSoak, a long run of h2rpc's client against its
// server over one loopback connection: a million unary calls from 256
// goroutines, with a thousand streams opened and abandoned along the way.
// It checks that the heap and the goroutine count come back to where they
// started once the calls are over and the abandoned streams' contexts are
// cancelled.
//
// It runs only when H2RPC_SOAK=1 (make soak), without the race detector,
// and takes under a minute on two cores; it gives up after 4.5 minutes of
// calls. The package has no code besides the test.
package soak
