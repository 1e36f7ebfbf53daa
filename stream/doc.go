// Package stream owns one HTTP/2 stream's life and its inbound side: the
// state machine, the reassembly of gRPC messages from DATA payloads, the
// queue of whole messages waiting for the application, and the stream's
// inbound flow-control window. Its writer side (pending writes, send
// quota) is a controlbuf.OutStream embedded in Stream.
//
// # States
//
// The state machine is RFC 9113 §5.1 without the push states. Events are
// opening the stream (HEADERS sent or received), sending END_STREAM,
// receiving END_STREAM, and a reset (RST_STREAM sent or received, or the
// connection going away). Next implements exactly this table; "-" is a
// protocol violation and leaves the state unchanged:
//
//	state               | Open            | SendEnd           | RecvEnd            | Reset
//	--------------------+-----------------+-------------------+--------------------+-------
//	Idle                | Open            | HalfClosedLocal   | HalfClosedRemote   | Closed
//	Open                | Open            | HalfClosedLocal   | HalfClosedRemote   | Closed
//	HalfClosedLocal     | HalfClosedLocal | -                 | Closed             | Closed
//	HalfClosedRemote    | HalfClosedRemote| Closed            | -                  | Closed
//	Closed              | -               | -                 | -                  | Closed
//
// # Goroutines
//
// The connection's reader goroutine feeds DATA (ReadData) and ends the
// receive side (CloseRecv); one application goroutine receives (Recv) and
// returns flow-control credit (Consumed). Fields shared between them are
// guarded by mu. The reassembly state belongs to the reader alone.
//
// The package never writes frames: it tells its caller how much window to
// give back, and the caller queues the WINDOW_UPDATE.
package stream
