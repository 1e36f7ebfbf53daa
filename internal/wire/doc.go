// Package wire owns the text encodings of gRPC header values: the
// grpc-timeout duration, the percent-encoded grpc-message, and the base64
// values of "-bin" metadata keys.
//
// Each encoder produces exactly what a gRPC peer expects to read, and each
// decoder accepts whatever a conforming peer may send (decoders are fuzzed;
// they never panic on hostile input). The package never sees HTTP/2 frames,
// HPACK, or message bodies, and it keeps no state: every function is pure
// and safe for concurrent use.
package wire
