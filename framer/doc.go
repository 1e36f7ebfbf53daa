// Package framer reads and writes HTTP/2 frames for one connection.
//
// It owns the connection's byte buffers and nothing else: it knows frames,
// not streams, flow control or gRPC. Control frames and header blocks go
// through golang.org/x/net/http2's Framer and HPACK; DATA frames take a
// path of their own:
//
//   - Reading: the 9-byte header is read by the http2 Framer (which checks
//     the frame size limit and HEADERS/CONTINUATION ordering); a DATA
//     payload is then read by the caller piecewise, straight into its own
//     buffers (ReadFull, Discard), so message bytes are copied once, from
//     the socket buffer to their final place, or not at all when large
//     reads bypass the socket buffer.
//   - Writing: a DATA header is built by hand; a small payload is copied
//     into the batch, a large one is kept by reference and handed to the
//     kernel with the rest of the batch in one writev.
//
// Buffers: the batch buffer is taken from a pool at the first write of a
// batch and returned at Flush. On a plain TCP or Unix socket the Reader
// waits for data through the socket's RawConn holding no buffer, then reads
// into a pooled one, returned as soon as it is drained; on anything else
// (TLS) it waits in a small read buffer while the connection is quiet and
// switches to a pooled one while data streams in. An idle connection pins
// no pooled buffer either way.
//
// Concurrency: a Reader is used by the connection's reader goroutine only;
// a Writer by its writer goroutine only. Neither is safe for concurrent use.
package framer
