// Package envelope turns messages into gRPC length-prefixed envelopes and
// back: marshal with the call's codec, optionally compress, and put the
// 5-byte prefix in front; or check the prefix flag against the call's
// encoding, decompress within the size limit and unmarshal. Server and
// client share it. It never touches the network.
package envelope

import (
	"errors"

	"github.com/h2rpc/h2rpc/codec"
	"github.com/h2rpc/h2rpc/codes"
	"github.com/h2rpc/h2rpc/compress"
	"github.com/h2rpc/h2rpc/internal/bufpool"
	"github.com/h2rpc/h2rpc/status"
)

// Encode marshals m with c into a pooled buffer behind its 5-byte prefix,
// compressing it with comp when comp is not nil. A payload (compressed, if
// it is) over maxSend bytes is RESOURCE_EXHAUSTED. The caller owns buf and
// returns it to the pool (or hands it to the transport, which does).
func Encode(c codec.Codec, comp compress.Compressor, m any, maxSend int) (buf *[]byte, framed []byte, err error) {
	buf, framed, err = codec.MarshalWithPrefix(c, m, codec.PrefixLen)
	if err != nil {
		return nil, nil, status.Errorf(codes.Internal, "grpc: error while marshaling: %v", err)
	}
	n := len(framed) - codec.PrefixLen
	if comp == nil {
		if n > maxSend {
			bufpool.Put(buf)
			return nil, nil, tooLarge(n, maxSend)
		}
		codec.WritePrefix(framed, false, n)
		return buf, framed, nil
	}
	zbuf := bufpool.Get(codec.PrefixLen + n/2 + 64)
	out, err := comp.Compress((*zbuf)[:codec.PrefixLen], framed[codec.PrefixLen:])
	bufpool.Put(buf)
	if err != nil {
		bufpool.Put(zbuf)
		return nil, nil, status.Errorf(codes.Internal, "grpc: error while compressing: %v", err)
	}
	if cap(out) != cap(*zbuf) {
		// Compress grew past the pooled buffer; keep what it returned.
		bufpool.Put(zbuf)
		zbuf = &out
	} else {
		*zbuf = out
	}
	// The limit is on what goes on the wire, as in grpc-go: the
	// compressed payload.
	if z := len(out) - codec.PrefixLen; z > maxSend {
		bufpool.Put(zbuf)
		return nil, nil, tooLarge(z, maxSend)
	}
	codec.WritePrefix(out, true, len(out)-codec.PrefixLen)
	return zbuf, out, nil
}

func tooLarge(n, maxSend int) error {
	return status.Errorf(codes.ResourceExhausted, "grpc: trying to send message larger than max (%d vs. %d)", n, maxSend)
}

// Side says which end of a call receives a message.
type Side bool

// The two ends of a call.
const (
	Client Side = false
	Server Side = true
)

// Decode unmarshals one message that side received into v. compressed is
// the prefix's flag; comp is the compressor named by the peer's
// grpc-encoding (nil if none or unknown, encoding its name for errors).
// A compressed message in an encoding the receiver lacks is UNIMPLEMENTED
// on a server (the client may call again without it) and INTERNAL on a
// client (the server chose an encoding the client did not offer), as
// grpc-go has it.
func Decode(side Side, c codec.Codec, comp compress.Compressor, encoding string, data []byte, compressed bool, maxRecv int, v any) error {
	if compressed {
		if comp == nil {
			if encoding == "" || encoding == "identity" {
				return status.Error(codes.Internal, "grpc: compressed flag set with identity or empty encoding")
			}
			code := codes.Internal
			if side == Server {
				code = codes.Unimplemented
			}
			return status.Errorf(code, "grpc: Decompressor is not installed for grpc-encoding %q", encoding)
		}
		out, err := comp.Decompress(data, maxRecv)
		if err != nil {
			if errors.Is(err, compress.ErrTooLarge) {
				return status.Errorf(codes.ResourceExhausted, "grpc: received message after decompression larger than max %d", maxRecv)
			}
			return status.Errorf(codes.Internal, "grpc: failed to decompress the received message: %v", err)
		}
		defer bufpool.Put(out)
		data = *out
	}
	if err := c.Unmarshal(data, v); err != nil {
		return status.Errorf(codes.Internal, "grpc: failed to unmarshal the received message: %v", err)
	}
	return nil
}
