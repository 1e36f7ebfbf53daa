package metadata

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestIsReservedHeader(t *testing.T) {
	tests := []struct {
		key  string
		want bool
	}{
		{":path", true},
		{":authority", true},
		{"content-type", true},
		{"user-agent", true},
		{"te", true},
		{"grpc-timeout", true},
		{"grpc-status-details-bin", true},
		{"grpc-previous-rpc-attempts", true},
		{"connection", true},
		{"keep-alive", true},
		{"proxy-connection", true},
		{"transfer-encoding", true},
		{"upgrade", true},
		{"host", true},
		{"x-user", false},
		{"authorization", false},
		{"trace-bin", false},
		{"grpc", false},
		{"content-length", false},
		{"", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, IsReservedHeader(tt.key), "key=%q", tt.key)
	}
}

func TestValidateKey(t *testing.T) {
	for _, k := range []string{"a", "x-user", "trace-bin", "a.b_c-d", "0"} {
		assert.NoError(t, ValidateKey(k), "key=%q", k)
	}
	for _, k := range []string{"", "A", "x user", ":path", "k\x00", "ключ", "a/b"} {
		assert.Error(t, ValidateKey(k), "key=%q", k)
	}
}

func TestValidateValue(t *testing.T) {
	for _, v := range []string{"", "plain", " ~!\"#", "a=b;c"} {
		assert.NoError(t, ValidateValue(v), "value=%q", v)
	}
	for _, v := range []string{"\x00", "a\nb", "\x7f", "é", "\t"} {
		assert.Error(t, ValidateValue(v), "value=%q", v)
	}
}

func TestValidate(t *testing.T) {
	assert.NoError(t, Validate("k", "v1", "v2"))
	assert.NoError(t, Validate("k-bin", "\x00\xff"))
	assert.Error(t, Validate("k", "ok", "\x00"))
	assert.Error(t, Validate("K", "v"))
}

func TestValidateMD(t *testing.T) {
	tests := []struct {
		name string
		md   MD
		ok   bool
	}{
		{"empty", MD{}, true},
		{"plain", MD{"x-a": {"1", "two words"}}, true},
		{"binary value", MD{"x-bin": {"\x00\r\n\xff"}}, true},
		{"capital in key", MD{"Grpc-Status": {"0"}}, false},
		{"control byte in value", MD{"x-note": {"a\r\nb"}}, false},
		{"NUL in value", MD{"x-note": {"ok", "a\x00"}}, false},
		{"pseudo-header", MD{":path": {"/x"}}, false},
		{"empty key", MD{"": {"v"}}, false},
	}
	for _, tt := range tests {
		err := ValidateMD(tt.md)
		if tt.ok {
			assert.NoError(t, err, tt.name)
		} else {
			assert.Error(t, err, tt.name)
		}
	}
}
