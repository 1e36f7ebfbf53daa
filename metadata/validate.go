package metadata

import (
	"fmt"
	"strings"
)

// IsReservedHeader reports whether key (lower-case) is owned by the
// protocol rather than by users, so it is neither sent from user metadata
// nor surfaced as received metadata. Reserved are:
//   - pseudo-headers (":path", ":status", …);
//   - "content-type", "user-agent" and "te", which the transport writes;
//   - every "grpc-" key, such as grpc-timeout, grpc-status, grpc-message;
//   - HTTP/1 connection-specific headers, which HTTP/2 forbids (RFC 9113
//     section 8.2.2): "connection", "keep-alive", "proxy-connection",
//     "transfer-encoding", "upgrade";
//   - "host", which :authority replaces in HTTP/2.
func IsReservedHeader(key string) bool {
	if strings.HasPrefix(key, ":") || strings.HasPrefix(key, "grpc-") {
		return true
	}
	switch key {
	case "content-type", "user-agent", "te",
		"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade",
		"host":
		return true
	}
	return false
}

// ValidateKey reports whether k may be used as a metadata key: non-empty
// and made only of lower-case ASCII letters, digits, '-', '_' and '.'.
func ValidateKey(k string) error {
	if k == "" {
		return fmt.Errorf("metadata: empty key")
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') || c == '-' || c == '_' || c == '.' {
			continue
		}
		return fmt.Errorf("metadata: key %q: invalid byte %#x at %d", k, c, i)
	}
	return nil
}

// ValidateValue reports whether v may be the value of a key that does not
// end in "-bin": only printable ASCII (0x20 to 0x7E) is allowed. Values of
// "-bin" keys are arbitrary bytes and need no check.
func ValidateValue(v string) error {
	if i := badValueByte(v); i >= 0 {
		return fmt.Errorf("metadata: value %q: invalid byte %#x at %d", v, v[i], i)
	}
	return nil
}

// badValueByte returns the index of the first byte of v outside printable
// ASCII, or -1.
func badValueByte(v string) int {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7E {
			return i
		}
	}
	return -1
}

// Validate checks a key and, unless the key ends in "-bin", its values,
// with ValidateKey and ValidateValue.
func Validate(k string, vals ...string) error {
	if err := ValidateKey(k); err != nil {
		return err
	}
	if strings.HasSuffix(k, "-bin") {
		return nil
	}
	for _, v := range vals {
		if i := badValueByte(v); i >= 0 {
			return fmt.Errorf("metadata: key %q: value %q: invalid byte %#x at %d", k, v, v[i], i)
		}
	}
	return nil
}

// ValidateMD checks every key of md and its values with Validate, as a
// call's outgoing metadata and a server's headers are checked before they
// are sent.
func ValidateMD(md MD) error {
	for k, vs := range md {
		if err := Validate(k, vs...); err != nil {
			return err
		}
	}
	return nil
}
