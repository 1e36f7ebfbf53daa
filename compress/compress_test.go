package compress

import (
	"bytes"
	"compress/gzip"
	"io"
	"maps"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/h2rpc/h2rpc/internal/bufpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// named is a compressor that only has a name.
type named struct {
	Compressor
	name string
}

func (n named) Name() string { return n.name }

func TestRegistry(t *testing.T) {
	assert.Equal(t, Gzip, Get("gzip"))
	assert.Equal(t, Gzip, Get("GZip"))
	assert.Nil(t, Get("zstd"))
	assert.Nil(t, Get(""))
	assert.Contains(t, strings.Split(Names(), ","), "gzip")

	// A compressor whose name has capitals is found by that name.
	c := named{Gzip, "Test-Mixed"}
	Register(c)
	t.Cleanup(func() { unregister("test-mixed") })
	assert.Equal(t, c, Get("Test-Mixed"))
	assert.Equal(t, c, Get("test-mixed"))
	assert.Contains(t, strings.Split(Names(), ","), "test-mixed")
}

func TestGzipRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 100, 64 << 10, 1 << 20} {
		src := bytes.Repeat([]byte("h2rpc "), n/6+1)[:n]
		prefix := []byte{1, 2, 3, 4, 5}
		out, err := Gzip.Compress(prefix, src)
		require.NoError(t, err)
		require.Equal(t, prefix, out[:5], "Compress must append")
		got, err := Gzip.Decompress(out[5:], len(src))
		require.NoError(t, err)
		assert.Equal(t, src, *got)
		bufpool.Put(got)
	}
}

func TestGzipLimit(t *testing.T) {
	src := make([]byte, 1000)
	out, err := Gzip.Compress(nil, src)
	require.NoError(t, err)
	tests := []struct {
		limit    int
		tooLarge bool
	}{
		{999, true},
		{1000, false},
		{1001, false},
		{math.MaxInt - 1, false},
		{math.MaxInt, false}, // "no limit": limit+1 must not wrap
	}
	for _, tt := range tests {
		got, err := Gzip.Decompress(out, tt.limit)
		if tt.tooLarge {
			assert.ErrorIs(t, err, ErrTooLarge, "limit %d", tt.limit)
			continue
		}
		require.NoError(t, err, "limit %d", tt.limit)
		assert.Equal(t, src, *got, "limit %d", tt.limit)
		bufpool.Put(got)
	}
}

func TestGzipCorrupt(t *testing.T) {
	_, err := Gzip.Decompress([]byte("not gzip at all"), 100)
	assert.Error(t, err)
	out, err := Gzip.Compress(nil, []byte("hello world"))
	require.NoError(t, err)
	// Whole, it decompresses: the cut is what makes it fail.
	whole, err := Gzip.Decompress(out, 100)
	require.NoError(t, err)
	assert.Equal(t, "hello world", string(*whole))
	bufpool.Put(whole)
	_, err = Gzip.Decompress(out[:len(out)-4], 100)
	assert.Error(t, err)
}

// zeros is an endless stream of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestGzipBomb decompresses 10 GiB of zeros (a 16 MiB gzip member
// repeated 640 times, about 10 MiB on the wire) against a 4 MiB limit: it
// must fail with ErrTooLarge, allocating a bounded amount on the way.
func TestGzipBomb(t *testing.T) {
	var member bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&member, gzip.BestCompression)
	_, err := io.Copy(zw, io.LimitReader(zeros{}, 16<<20))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	bomb := bytes.Repeat(member.Bytes(), 640)

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = Gzip.Decompress(bomb, 4<<20)
	runtime.ReadMemStats(&after)
	assert.ErrorIs(t, err, ErrTooLarge)
	grown := int64(after.TotalAlloc - before.TotalAlloc)
	assert.Less(t, grown, int64(32<<20), "decompressing allocated %d bytes", grown)
	t.Logf("10 GiB bomb (%d bytes compressed) refused after allocating %d bytes", len(bomb), grown)
}

func FuzzGzipDecompress(f *testing.F) {
	ok, _ := Gzip.Compress(nil, []byte("seed message"))
	f.Add(ok)
	f.Add([]byte{0x1f, 0x8b})
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := Gzip.Decompress(data, 1<<16)
		if err == nil {
			if len(*out) > 1<<16 {
				t.Fatalf("output %d bytes past the limit", len(*out))
			}
			bufpool.Put(out)
		}
	})
}

// unregister takes name out of the registry again (tests only).
func unregister(name string) {
	mu.Lock()
	defer mu.Unlock()
	next := &registry{byName: maps.Clone(current.Load().byName)}
	delete(next.byName, name)
	next.names = strings.Join(slices.Sorted(maps.Keys(next.byName)), ",")
	current.Store(next)
}
