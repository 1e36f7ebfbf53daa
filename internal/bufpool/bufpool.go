// Package bufpool owns h2rpc's size-classed byte-buffer pools.
//
// Buffers come in classes that are powers of two and their midpoints (256,
// 384, 512, 768, …, 16 MiB, 24 MiB), so a request never wastes more than a
// third of what it gets. Buffers are handed out as *[]byte so that putting
// one back does not allocate. Get never zeroes memory: callers overwrite
// what they use. Requests above the largest class are allocated directly and
// dropped on Put.
//
// The package never retains a buffer it has handed out; the caller owns it
// until Put. All functions are safe for concurrent use.
package bufpool

import (
	"math/bits"
	"sync"
)

const (
	minShift = 8  // smallest class: 256 bytes
	maxShift = 24 // largest power-of-two class: 16 MiB (its midpoint class is 24 MiB)
)

// numClasses counts the power-of-two classes and their midpoints.
const numClasses = (maxShift - minShift + 1) * 2

var (
	classSize [numClasses]int
	pools     [numClasses]sync.Pool
)

func init() {
	for i := range numClasses {
		shift := minShift + i/2
		size := 1 << shift
		if i%2 == 1 {
			size += size / 2
		}
		classSize[i] = size
	}
}

// MaxPooled is the largest size served from a pool.
const MaxPooled = 3 << (maxShift - 1)

// classFor returns the index of the smallest class holding n bytes, or -1.
func classFor(n int) int {
	if n <= 1<<minShift {
		return 0
	}
	if n > MaxPooled {
		return -1
	}
	// shift is the exponent of the power of two at or above n.
	shift := bits.Len(uint(n - 1))
	pow := (shift - minShift) * 2
	// The midpoint below 2^shift is 1.5 * 2^(shift-1).
	if pow > 0 && n <= classSize[pow-1] {
		return pow - 1
	}
	return pow
}

// Get returns a buffer of length n. Its contents are undefined.
func Get(n int) *[]byte {
	c := classFor(n)
	if c < 0 {
		b := make([]byte, n)
		return &b
	}
	if v := pools[c].Get(); v != nil {
		b := v.(*[]byte)
		*b = (*b)[:n]
		return b
	}
	b := make([]byte, n, classSize[c])
	return &b
}

// Put returns b to its pool. Buffers whose capacity is not exactly a class
// size (including those above MaxPooled) are dropped. b must not be used
// after Put.
func Put(b *[]byte) {
	if b == nil {
		return
	}
	c := cap(*b)
	idx := classFor(c)
	if idx < 0 || classSize[idx] != c {
		return
	}
	*b = (*b)[:0]
	pools[idx].Put(b)
}
