// Package keepalive holds the parameters of gRPC keepalive and connection
// management (gRFC A8 for clients, A9 for servers). The transport
// implements them; this package only names them.
package keepalive

import "time"

// ClientParameters configures client-side keepalive pings.
type ClientParameters struct {
	// Time is how long the connection may be quiet (nothing read) before
	// the client pings. Zero disables keepalive; the client raises values
	// below 10 s to 10 s, as gRPC requires.
	Time time.Duration
	// Timeout is how long the client waits for the ping's ACK (or any
	// read) before closing the connection. Default 20 s.
	Timeout time.Duration
	// PermitWithoutStream allows pings while no call is running.
	PermitWithoutStream bool
}

// ServerParameters configures server-side pings and connection ages.
type ServerParameters struct {
	// MaxConnectionIdle closes (gracefully) a connection that has had no
	// call for this long. Zero: never.
	MaxConnectionIdle time.Duration
	// MaxConnectionAge closes (gracefully) a connection this old, ±10 %
	// jitter so that connections made together do not close together.
	// Zero: never.
	MaxConnectionAge time.Duration
	// MaxConnectionAgeGrace is how long calls may still run after
	// MaxConnectionAge before the connection is closed by force. Zero:
	// forever.
	MaxConnectionAgeGrace time.Duration
	// Time is how long the connection may be quiet before the server
	// pings. Default 2 h.
	Time time.Duration
	// Timeout is how long the server waits for the ping's ACK before
	// closing. Default 20 s.
	Timeout time.Duration
}

// EnforcementPolicy is what a server accepts from clients' pings. A client
// that pings more often gets a strike per early ping; at the third it is
// sent GOAWAY(ENHANCE_YOUR_CALM, "too_many_pings") and disconnected.
type EnforcementPolicy struct {
	// MinTime is the shortest allowed interval between pings. Default
	// 5 min.
	MinTime time.Duration
	// PermitWithoutStream allows pings while no call is running; without
	// it such pings count as early unless 2 h apart.
	PermitWithoutStream bool
}
