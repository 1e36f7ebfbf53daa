package bufpool

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestClassFor(t *testing.T) {
	tests := []struct {
		n    int
		size int
	}{
		{0, 256},
		{1, 256},
		{256, 256},
		{257, 384},
		{384, 384},
		{385, 512},
		{512, 512},
		{513, 768},
		{16 << 10, 16 << 10},
		{16<<10 + 1, 24 << 10},
		{24<<10 + 1, 32 << 10},
		{1 << 20, 1 << 20},
		{16 << 20, 16 << 20},
		{MaxPooled, MaxPooled},
	}
	for _, tt := range tests {
		c := classFor(tt.n)
		require.GreaterOrEqual(t, c, 0, "n=%d", tt.n)
		assert.Equal(t, tt.size, classSize[c], "n=%d", tt.n)
	}
	assert.Equal(t, -1, classFor(MaxPooled+1))
}

func TestGetPut(t *testing.T) {
	for _, n := range []int{0, 5, 300, 4096, 70000, MaxPooled, MaxPooled + 10} {
		b := Get(n)
		require.Len(t, *b, n)
		Put(b)
	}
	Put(nil)
	// A foreign buffer with an odd capacity is dropped, not pooled.
	odd := make([]byte, 10, 1000)
	Put(&odd)
}

func TestGetPutDoesNotAllocate(t *testing.T) {
	Put(Get(1000))
	allocs := testing.AllocsPerRun(100, func() {
		Put(Get(1000))
	})
	// sync.Pool may drop entries during GC; allow a little slack.
	assert.LessOrEqual(t, allocs, 0.1)
}

func BenchmarkGetPut(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Put(Get(4096))
	}
}
