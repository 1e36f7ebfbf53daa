package codec

import (
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWritePrefix(t *testing.T) {
	tests := []struct {
		compressed bool
		n          int
		want       []byte
	}{
		{false, 0, []byte{0, 0, 0, 0, 0}},
		{true, 1, []byte{1, 0, 0, 0, 1}},
		{false, 0x01020304, []byte{0, 1, 2, 3, 4}},
		{true, math.MaxUint32, []byte{1, 0xff, 0xff, 0xff, 0xff}},
	}
	for _, tt := range tests {
		dst := make([]byte, 6)
		dst[5] = 0xaa
		WritePrefix(dst, tt.compressed, tt.n)
		assert.Equal(t, tt.want, dst[:5])
		assert.Equal(t, byte(0xaa), dst[5], "must write only 5 bytes")
	}
	assert.Panics(t, func() { WritePrefix(make([]byte, 4), false, 1) })
	assert.Panics(t, func() { WritePrefix(make([]byte, 5), false, -1) })
	assert.Panics(t, func() { WritePrefix(make([]byte, 5), false, math.MaxUint32+1) })
}

func TestParsePrefix(t *testing.T) {
	tests := []struct {
		in         []byte
		compressed bool
		n          uint32
		wantErr    bool
	}{
		{[]byte{0, 0, 0, 0, 0}, false, 0, false},
		{[]byte{1, 0, 0, 1, 0}, true, 256, false},
		{[]byte{0, 0xff, 0xff, 0xff, 0xff, 9}, false, math.MaxUint32, false},
		{[]byte{2, 0, 0, 0, 0}, false, 0, true},
		{[]byte{0x80, 0, 0, 0, 0}, false, 0, true},
		{[]byte{0, 0, 0, 0}, false, 0, true},
		{nil, false, 0, true},
	}
	for _, tt := range tests {
		compressed, n, err := ParsePrefix(tt.in)
		if tt.wantErr {
			assert.True(t, errors.Is(err, ErrBadPrefix), "in=%x err=%v", tt.in, err)
			continue
		}
		require.NoError(t, err, "in=%x", tt.in)
		assert.Equal(t, tt.compressed, compressed)
		assert.Equal(t, tt.n, n)
	}
}

func FuzzParsePrefix(f *testing.F) {
	for _, s := range [][]byte{{}, {0, 0, 0, 0, 0}, {1, 0, 0, 0, 5}, {2, 0, 0, 0, 0}, {0, 0xff, 0xff, 0xff, 0xff}, {1, 2, 3}} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		compressed, n, err := ParsePrefix(p)
		if err != nil {
			if !errors.Is(err, ErrBadPrefix) {
				t.Fatalf("ParsePrefix(%x): error %v does not wrap ErrBadPrefix", p, err)
			}
			return
		}
		var again [PrefixLen]byte
		WritePrefix(again[:], compressed, int(n))
		if string(again[:]) != string(p[:PrefixLen]) {
			t.Fatalf("ParsePrefix(%x) = %v, %d; rewritten as %x", p, compressed, n, again)
		}
	})
}
