// Package controlbuf owns the hand-off from the goroutines that want frames
// written to the one goroutine that writes them: the control buffer
// (Queue) and the loopy writer (Loopy).
//
// Any goroutine may Put items on a Queue: stream writes (headers, message
// data, trailers), WINDOW_UPDATE, SETTINGS and their ACK, PING, RST_STREAM,
// GOAWAY, stream clean-up, and the peer's flow-control grants. Put takes a
// mutex for a few instructions and wakes the writer only when it sleeps.
//
// Loopy runs on the connection's writer goroutine and is the only code
// that touches the framer.Writer and the writer-side state of streams
// (OutStream): pending writes, stream and connection send quota. Each turn
// it takes every queued item, turns control items into frames, and gives
// each stream that has data and quota at most one max-size DATA frame,
// round-robin, within the connection quota. When there is nothing left to
// do it flushes the batch with one system call; if the batch is small it
// first yields once so that other goroutines can add to it.
//
// Floods of frames the peer makes us answer (PING, SETTINGS, RST_STREAM)
// are bounded: once more than MaxQueuedResponses such answers wait in the
// queue, Queue.Throttle blocks the connection's reader until loopy has
// taken them.
//
// The package never reads from the network and never decides what a frame
// means for a stream's life; it writes what it is given, in order.
package controlbuf
