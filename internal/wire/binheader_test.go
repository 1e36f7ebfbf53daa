package wire

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEncodeBinHeader(t *testing.T) {
	tests := []struct {
		in   []byte
		want string
	}{
		{nil, ""},
		{[]byte{0}, "AA"},
		{[]byte{0, 1}, "AAE"},
		{[]byte{0, 1, 2}, "AAEC"},
		{[]byte{0xfb, 0xff}, "+/8"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, EncodeBinHeader(tt.in))
	}
}

func TestDecodeBinHeader(t *testing.T) {
	tests := []struct {
		in      string
		want    []byte
		wantErr bool
	}{
		{"", []byte{}, false},
		{"AA", []byte{0}, false},
		{"AA==", []byte{0}, false},
		{"AAE", []byte{0, 1}, false},
		{"AAE=", []byte{0, 1}, false},
		{"AAEC", []byte{0, 1, 2}, false},
		{"+/8", []byte{0xfb, 0xff}, false},
		{"-_8", nil, true}, // URL-safe alphabet
		{"A", nil, true},
		{"AA=", nil, true},
		{"A===", nil, true},
		{"!!!!", nil, true},
	}
	for _, tt := range tests {
		got, err := DecodeBinHeader(tt.in)
		if tt.wantErr {
			assert.Error(t, err, "in=%q", tt.in)
			continue
		}
		require.NoError(t, err, "in=%q", tt.in)
		assert.Equal(t, tt.want, got, "in=%q", tt.in)
	}
}

func TestIsBinHeader(t *testing.T) {
	assert.True(t, IsBinHeader("trace-bin"))
	assert.True(t, IsBinHeader("grpc-status-details-bin"))
	assert.False(t, IsBinHeader("binary"))
	assert.False(t, IsBinHeader("-bi"))
}
