package wire

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEncodeTimeout(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "1n"},
		{0, "1n"},
		{1, "1n"},
		{99_999_999, "99999999n"},
		{100_000_000, "100000u"},
		{100_000_001, "100001u"}, // rounded up, never down
		{time.Second, "1000000u"},
		{100 * time.Second, "100000m"},
		{100*time.Second + 1, "100001m"},
		{99_999_999 * time.Millisecond, "99999999m"},
		{100_000 * time.Second, "100000S"},
		{99_999_999 * time.Second, "99999999S"},
		{100_000_000 * time.Second, "1666667M"},
		{99_999_999 * time.Minute, "99999999M"},
		{100_000_000 * time.Minute, "1666667H"},
		{math.MaxInt64, "2562048H"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, EncodeTimeout(tt.d), "d=%d", tt.d)
	}
}

func TestDecodeTimeout(t *testing.T) {
	tests := []struct {
		s       string
		want    time.Duration
		wantErr bool
	}{
		{"1n", 1, false},
		{"0n", 0, false},
		{"00000001S", time.Second, false},
		{"99999999n", 99_999_999, false},
		{"5u", 5 * time.Microsecond, false},
		{"250m", 250 * time.Millisecond, false},
		{"30S", 30 * time.Second, false},
		{"2M", 2 * time.Minute, false},
		{"3H", 3 * time.Hour, false},
		{"2562047H", 2562047 * time.Hour, false},
		{"2562048H", math.MaxInt64, false}, // saturates
		{"99999999H", math.MaxInt64, false},
		{"", 0, true},
		{"S", 0, true},
		{"1", 0, true},
		{"123456789n", 0, true}, // nine digits
		{"1x", 0, true},
		{"1s", 0, true}, // units are case-sensitive
		{"-1S", 0, true},
		{"+1S", 0, true},
		{" 1S", 0, true},
		{"1 S", 0, true},
		{"1.5S", 0, true},
		{"1SS", 0, true},
	}
	for _, tt := range tests {
		got, err := DecodeTimeout(tt.s)
		if tt.wantErr {
			assert.Error(t, err, "s=%q", tt.s)
			continue
		}
		require.NoError(t, err, "s=%q", tt.s)
		assert.Equal(t, tt.want, got, "s=%q", tt.s)
	}
}

func TestTimeoutRoundTripNeverShortens(t *testing.T) {
	for _, d := range []time.Duration{1, 999, time.Microsecond + 1, 3*time.Second + 7,
		time.Hour + 1, 1000 * time.Hour, math.MaxInt64 - 1, math.MaxInt64} {
		got, err := DecodeTimeout(EncodeTimeout(d))
		require.NoError(t, err)
		assert.GreaterOrEqual(t, got, d)
	}
}

func BenchmarkEncodeTimeout(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = EncodeTimeout(1500 * time.Millisecond)
	}
}

func BenchmarkDecodeTimeout(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_, _ = DecodeTimeout("1500000u")
	}
}
