package compress

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"

	"github.com/h2rpc/h2rpc/internal/bufpool"
)

// Gzip is the gzip Compressor ("gzip"), registered by default.
var Gzip Compressor = gzipCompressor{}

type gzipCompressor struct{}

var (
	gzipWriters sync.Pool // *gzipWriter
	gzipReaders sync.Pool // *gzip.Reader
)

// gzipWriter is a pooled gzip.Writer with the slice it appends to.
type gzipWriter struct {
	zw  *gzip.Writer
	dst []byte
}

func (w *gzipWriter) Write(p []byte) (int, error) {
	w.dst = append(w.dst, p...)
	return len(p), nil
}

func (gzipCompressor) Name() string { return "gzip" }

func (gzipCompressor) Compress(dst, src []byte) ([]byte, error) {
	w, _ := gzipWriters.Get().(*gzipWriter)
	if w == nil {
		w = &gzipWriter{}
		w.zw = gzip.NewWriter(w)
	} else {
		w.zw.Reset(w)
	}
	w.dst = dst
	if _, err := w.zw.Write(src); err != nil {
		return dst, fmt.Errorf("compress: gzip: %w", err)
	}
	if err := w.zw.Close(); err != nil {
		return dst, fmt.Errorf("compress: gzip: %w", err)
	}
	out := w.dst
	w.dst = nil
	gzipWriters.Put(w)
	return out, nil
}

func (gzipCompressor) Decompress(src []byte, limit int) (*[]byte, error) {
	zr, _ := gzipReaders.Get().(*gzip.Reader)
	var err error
	if zr == nil {
		zr, err = gzip.NewReader(bytes.NewReader(src))
	} else {
		err = zr.Reset(bytes.NewReader(src))
	}
	if err != nil {
		return nil, fmt.Errorf("compress: gzip: %w", err)
	}
	defer gzipReaders.Put(zr)
	return readLimited(zr, len(src), limit)
}

// readLimited reads r to its end into a pooled buffer, never holding more
// than limit+1 bytes.
func readLimited(r io.Reader, hint, limit int) (*[]byte, error) {
	// ceiling is the most worth holding: one byte past the limit proves
	// the message too large. (A limit of math.MaxInt, "no limit", must not
	// wrap around.)
	ceiling := limit
	if limit < math.MaxInt {
		ceiling = limit + 1
	}
	size := min(max(hint*4, 512), ceiling)
	buf := bufpool.Get(size)
	n := 0
	for {
		if n == len(*buf) {
			if n > limit {
				bufpool.Put(buf)
				return nil, ErrTooLarge
			}
			bigger := bufpool.Get(min(2*len(*buf), ceiling))
			copy(*bigger, (*buf)[:n])
			bufpool.Put(buf)
			buf = bigger
		}
		k, err := r.Read((*buf)[n:])
		n += k
		if n > limit {
			bufpool.Put(buf)
			return nil, ErrTooLarge
		}
		if errors.Is(err, io.EOF) {
			*buf = (*buf)[:n]
			return buf, nil
		}
		if err != nil {
			bufpool.Put(buf)
			return nil, fmt.Errorf("compress: gzip: %w", err)
		}
	}
}
