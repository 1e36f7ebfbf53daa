// Package balancer defines how a client spreads RPCs over the addresses its
// resolver found: the Balancer and Builder interfaces, the ClientConn and
// SubConn interfaces a balancer drives, the Picker that chooses a SubConn
// for each RPC, and the registry of builders by name.
//
// # What it owns
//
// The interfaces, their plain data types, the registry, and two small
// pickers (NewErrPicker, PickerFunc). The policies live in sub-packages that
// register themselves when imported: balancer/pickfirst ("pick_first", the
// client's default) and balancer/roundrobin ("round_robin").
//
// # What it never does
//
// It never dials, never retries a connection and never sleeps: a SubConn
// (implemented by the client) makes its own connection attempts, in address
// order, with the gRPC connection backoff between rounds. A balancer only
// decides which SubConns exist, when they should connect, and which one
// each RPC uses.
//
// # How the pieces talk
//
//	resolver ──addresses──▶ client ──UpdateClientConnState──▶ Balancer
//	Balancer ──NewSubConn / Connect / Shutdown──▶ SubConn (client)
//	SubConn ──StateListener(SubConnState)──▶ Balancer
//	Balancer ──UpdateState(State{ConnectivityState, Picker})──▶ client
//	each RPC ──Pick──▶ Picker ──PickResult{SubConn}──▶ transport
//
// A SubConn goes Idle → Connecting → Ready; when every address of a round
// fails it reports TransientFailure with the last error and the client
// retries after a backoff; when an established connection is lost it goes
// back to Idle and waits for Connect.
//
// # Goroutines
//
// The client serialises every call into a balancer: UpdateClientConnState,
// ResolverError, Close and the StateListener of each of its SubConns are
// never called concurrently for one balancer, and nothing is called after
// Close. A balancer calls its ClientConn's methods, and its SubConns'
// Connect and Shutdown, only from inside those calls, so it needs no lock of
// its own for that state.
//
// A Picker is different: the client calls Pick from the goroutines of many
// RPCs at once, concurrently with everything above, and may keep calling an
// old Picker until it has switched to the one in the latest UpdateState. A
// Picker must therefore be immutable or synchronise itself, and must be
// cheap: no locks held for long, no blocking. Pick may call SubConn.Connect,
// so the client's SubConn.Connect must be safe to call from any goroutine.
package balancer
