// Package attack holds hostile-peer tests of the h2rpc server: each test
// starts a real server on loopback, attacks it with a hand-scripted HTTP/2
// peer (raw frames written with golang.org/x/net/http2's Framer and hpack:
// rapid reset, provoked resets, CONTINUATION and HPACK bombs, control-frame
// floods, empty DATA floods, zero windows, slowloris, oversized messages),
// and checks three things: the attacker's connection gets the answer the
// protocol prescribes (GOAWAY or RST_STREAM with the right code, or a
// server that stops reading), a well-behaved client on another connection
// keeps being served, and the server's heap and goroutines stay bounded.
//
// The package has no code of its own besides the test harness.
package attack
