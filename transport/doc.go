// Package transport owns one HTTP/2 connection in the client or the server
// role: the handshake (preface and SETTINGS), the reader goroutine, the
// connection's inbound window, SETTINGS, PING, WINDOW_UPDATE, RST_STREAM and
// GOAWAY handling, the gRPC request and response headers, and the table of
// open streams.
//
// Goroutines: each Conn runs exactly two, the reader (which reads and
// dispatches every frame) and loopy (controlbuf.Loopy, which writes every
// frame). There is no goroutine per stream or per message. Application
// goroutines call Stream methods; they hand frames to loopy through the
// control buffer and wait for input on the stream's receive queue.
//
// Locks: Conn.mu guards the stream table and the connection's life-cycle
// fields; the control buffer's lock may be held when Conn.mu is taken
// (stream id assignment), never the other way round.
//
// The package never dispatches RPCs, resolves names or retries: that is
// the server and client packages' job.
package transport
