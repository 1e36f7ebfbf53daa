package wire

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestEncodeGrpcMessage(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"hello world", "hello world"},
		{" ~", " ~"},
		{"100%", "100%25"},
		{"a\nb", "a%0Ab"},
		{"\x00\x1f\x7f", "%00%1F%7F"},
		// Bytes that are not UTF-8 become U+FFFD, one for each byte.
		{"\xff", "%EF%BF%BD"},
		{"a\xffb\xfe", "a%EF%BF%BDb%EF%BF%BD"},
		{"\xe6\x97", "%EF%BF%BD%EF%BF%BD"},              // a rune cut short
		{"\xed\xa0\x80", "%EF%BF%BD%EF%BF%BD%EF%BF%BD"}, // a surrogate
		{"\ufffd", "%EF%BF%BD"},
		{"héllo", "h%C3%A9llo"},
		{"日本", "%E6%97%A5%E6%9C%AC"},
		{"%%", "%25%25"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, EncodeGrpcMessage(tt.in), "in=%q", tt.in)
	}
}

func TestDecodeGrpcMessage(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"100%25", "100%"},
		{"a%0Ab", "a\nb"},
		{"a%0ab", "a\nb"}, // lower-case hex is accepted
		{"h%C3%A9llo", "héllo"},
		{"%", "%"},
		{"%4", "%4"},
		{"%zz", "%zz"},
		{"%4g", "%4g"},
		{"%%41", "%A"},
		{"50% off", "50% off"},
		{"end%", "end%"},
		{"%41%", "A%"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, DecodeGrpcMessage(tt.in), "in=%q", tt.in)
	}
}

func TestGrpcMessageNoAllocWhenClean(t *testing.T) {
	msg := "nothing to escape here"
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = EncodeGrpcMessage(msg) }))
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = DecodeGrpcMessage(msg) }))
}

func BenchmarkEncodeGrpcMessage(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = EncodeGrpcMessage("invalid argument: field \"name\" is 100% required\n")
	}
}

func BenchmarkDecodeGrpcMessage(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = DecodeGrpcMessage("invalid argument: field \"name\" is 100%25 required%0A")
	}
}
