package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/h2rpc/h2rpc/internal/bufpool"
	"google.golang.org/protobuf/proto"
)

// PrefixLen is the size of the prefix in front of every gRPC message on a
// stream: one flag byte, then the message length as a 4-byte big-endian
// integer.
const PrefixLen = 5

// The values of the prefix flag byte.
const (
	flagPlain      = 0
	flagCompressed = 1
)

// ErrBadPrefix is wrapped by the errors ParsePrefix returns.
var ErrBadPrefix = errors.New("codec: bad message prefix")

// WritePrefix writes the 5-byte message prefix for a message of n bytes into
// dst[:PrefixLen]: the flag (1 if compressed, else 0) and n in big-endian.
// It panics if dst is shorter than PrefixLen or n does not fit in 32 bits;
// callers enforce far smaller message size limits before framing.
func WritePrefix(dst []byte, compressed bool, n int) {
	if n < 0 || uint64(n) > math.MaxUint32 {
		panic(fmt.Sprintf("codec: message length %d does not fit the prefix", n))
	}
	_ = dst[PrefixLen-1] // one bounds check
	if compressed {
		dst[0] = flagCompressed
	} else {
		dst[0] = flagPlain
	}
	binary.BigEndian.PutUint32(dst[1:PrefixLen], uint32(n))
}

// ParsePrefix parses the message prefix at the start of p. It fails, with
// an error wrapping ErrBadPrefix, if p is shorter than PrefixLen or the flag
// byte is neither 0 nor 1.
func ParsePrefix(p []byte) (compressed bool, n uint32, err error) {
	if len(p) < PrefixLen {
		return false, 0, fmt.Errorf("%w: %d bytes, want %d", ErrBadPrefix, len(p), PrefixLen)
	}
	switch p[0] {
	case flagPlain:
	case flagCompressed:
		compressed = true
	default:
		return false, 0, fmt.Errorf("%w: flag %#x", ErrBadPrefix, p[0])
	}
	return compressed, binary.BigEndian.Uint32(p[1:PrefixLen]), nil
}

// MarshalWithPrefix marshals v with c into a pooled buffer, leaving its
// first prefixLen bytes for the caller (normally PrefixLen bytes, filled
// with WritePrefix once compression has been decided). framed is
// (*buf)[:prefixLen+messageLen]; its prefix bytes are undefined. The caller
// owns buf and returns it with bufpool.Put when framed is no longer used.
//
// For the proto codec the message is sized first and encoded straight into
// the pooled buffer, with no intermediate slice. Other codecs' output is
// copied in.
func MarshalWithPrefix(c Codec, v any, prefixLen int) (buf *[]byte, framed []byte, err error) {
	if prefixLen < 0 {
		return nil, nil, fmt.Errorf("codec: negative prefix length %d", prefixLen)
	}
	switch c.(type) {
	case ProtoCodec, *ProtoCodec:
		return marshalProtoWithPrefix(v, prefixLen)
	}
	data, err := c.Marshal(v)
	if err != nil {
		return nil, nil, err
	}
	buf = bufpool.Get(prefixLen + len(data))
	copy((*buf)[prefixLen:], data)
	return buf, *buf, nil
}

func marshalProtoWithPrefix(v any, prefixLen int) (buf *[]byte, framed []byte, err error) {
	m, err := protoMessage(v)
	if err != nil {
		return nil, nil, fmt.Errorf("codec: proto: marshal: %w", err)
	}
	size := proto.MarshalOptions{}.Size(m)
	buf = bufpool.Get(prefixLen + size)
	// The size just computed is cached in the message, so marshalling need
	// not walk it a second time.
	out, err := proto.MarshalOptions{UseCachedSize: true}.MarshalAppend((*buf)[:prefixLen], m)
	if err != nil {
		bufpool.Put(buf)
		return nil, nil, fmt.Errorf("codec: proto: marshal %T: %w", v, err)
	}
	// out outgrows buf only if the message changed size between the two
	// calls (a data race in the caller); hand out whatever was produced,
	// and bufpool.Put will drop the non-pooled array.
	*buf = out
	return buf, out, nil
}
