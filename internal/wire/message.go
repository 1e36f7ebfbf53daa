package wire

import (
	"strings"
	"unicode/utf8"
)

const upperHex = "0123456789ABCDEF"

// needsEscape reports whether b must be percent-encoded in grpc-message:
// everything outside printable ASCII, and '%' itself.
func needsEscape(b byte) bool {
	return b < 0x20 || b > 0x7E || b == '%'
}

// EncodeGrpcMessage percent-encodes msg for the grpc-message trailer: each
// byte outside 0x20–0x7E, and '%', becomes %XX with upper-case hex, so a
// UTF-8 message becomes the percent-encoding of its UTF-8 bytes. Each byte
// that is not part of valid UTF-8 becomes U+FFFD (%EF%BF%BD), as grpc-go
// does: the header promises UTF-8, so the peer always decodes valid UTF-8.
// When nothing needs encoding msg is returned as is, without allocating.
func EncodeGrpcMessage(msg string) string {
	n := 0
	for i := 0; i < len(msg); i++ {
		if needsEscape(msg[i]) {
			n++
		}
	}
	if n == 0 {
		return msg
	}
	var sb strings.Builder
	sb.Grow(len(msg) + 2*n)
	for i := 0; i < len(msg); {
		c := msg[i]
		if c < utf8.RuneSelf {
			if needsEscape(c) {
				writeEscaped(&sb, c)
			} else {
				sb.WriteByte(c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(msg[i:])
		if r == utf8.RuneError && size == 1 {
			sb.WriteString(escapedRuneError)
			i++
			continue
		}
		for end := i + size; i < end; i++ {
			writeEscaped(&sb, msg[i])
		}
	}
	return sb.String()
}

// escapedRuneError is U+FFFD percent-encoded, what an invalid byte becomes.
const escapedRuneError = "%EF%BF%BD"

func writeEscaped(sb *strings.Builder, c byte) {
	sb.WriteByte('%')
	sb.WriteByte(upperHex[c>>4])
	sb.WriteByte(upperHex[c&0xF])
}

// unhex returns the value of the hex digit c (either case) and whether c
// is one.
func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// DecodeGrpcMessage reverses EncodeGrpcMessage. It is lenient, as the
// protocol asks: a '%' not followed by two hex digits is kept verbatim
// instead of failing the call whose status is being reported. When s holds
// no '%' it is returned as is, without allocating.
func DecodeGrpcMessage(s string) string {
	i := strings.IndexByte(s, '%')
	if i < 0 {
		return s
	}
	var sb strings.Builder
	sb.Grow(len(s))
	sb.WriteString(s[:i])
	for ; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) {
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				sb.WriteByte(hi<<4 | lo)
				i += 2
				continue
			}
		}
		sb.WriteByte(c)
	}
	return sb.String()
}
