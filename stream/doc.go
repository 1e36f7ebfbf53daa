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
// # Window
//
// Credit goes back as the application takes messages (Consumed), and
// earlier for the message the application is already blocked waiting for:
// its bytes are credited as they arrive (as if read piece by piece), so a
// message about the window's size does not stall the peer until it is
// whole. A message larger than what the peer may still send gets the
// shortfall granted at once (TakeGrant), as a debt its consumption does
// not return twice. A stream that carries one message
// (ExpectSingleMessage: a unary request or response) returns nothing: the
// grant covers its message and nothing may follow.
//
// The package never writes frames: it tells its caller how much window to
// give back, and the caller queues the WINDOW_UPDATE.
package stream
