package wire

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// BinHeaderSuffix marks metadata keys whose values are binary and travel
// base64-encoded.
const BinHeaderSuffix = "-bin"

// IsBinHeader reports whether key names a binary metadata value.
func IsBinHeader(key string) bool {
	return strings.HasSuffix(key, BinHeaderSuffix)
}

// EncodeBinHeader returns v in standard base64 without padding, which is
// what gRPC implementations send for "-bin" keys.
func EncodeBinHeader(v []byte) string {
	return base64.RawStdEncoding.EncodeToString(v)
}

// DecodeBinHeader decodes the value of a "-bin" key. Peers may send it
// with or without padding, so both are accepted; the URL-safe alphabet is
// not.
func DecodeBinHeader(s string) ([]byte, error) {
	enc := base64.RawStdEncoding
	if strings.HasSuffix(s, "=") {
		enc = base64.StdEncoding
	}
	b, err := enc.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("wire: decoding binary header value: %w", err)
	}
	return b, nil
}
