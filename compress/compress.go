// Package compress owns message compression: the Compressor interface, a
// registry by grpc-encoding name, and gzip (registered by default, with
// pooled writers and readers).
//
// Decompression is always bounded: a Compressor never produces more than
// the limit it is given, so a small compressed message cannot inflate into
// an allocation past the receiver's maximum message size.
//
// The registry is written by Register at init time and read concurrently
// afterwards. The package never frames messages or touches headers.
package compress

import (
	"errors"
	"sort"
	"strings"
	"sync"
)

// ErrTooLarge is returned by Decompress when the output would exceed its
// limit.
var ErrTooLarge = errors.New("compress: decompressed message exceeds the limit")

// Compressor compresses and decompresses whole messages. Implementations
// must be safe for concurrent use.
type Compressor interface {
	// Name is the grpc-encoding value, e.g. "gzip".
	Name() string
	// Compress appends the compressed form of src to dst.
	Compress(dst, src []byte) ([]byte, error)
	// Decompress returns the decompressed form of src in a pooled buffer
	// (internal/bufpool) the caller must return, failing with
	// ErrTooLarge rather than producing more than limit bytes.
	Decompress(src []byte, limit int) (*[]byte, error)
}

var (
	mu       sync.RWMutex
	registry = map[string]Compressor{}
	names    string // comma-separated, sorted: the grpc-accept-encoding value
)

// Register adds c under c.Name(), replacing any earlier one. Call it from
// init.
func Register(c Compressor) {
	mu.Lock()
	defer mu.Unlock()
	registry[strings.ToLower(c.Name())] = c
	list := make([]string, 0, len(registry))
	for n := range registry {
		list = append(list, n)
	}
	sort.Strings(list)
	names = strings.Join(list, ",")
}

// Get returns the compressor registered under name, or nil.
func Get(name string) Compressor {
	mu.RLock()
	defer mu.RUnlock()
	return registry[name]
}

// Names returns the registered names, comma-separated: the value for
// grpc-accept-encoding.
func Names() string {
	mu.RLock()
	defer mu.RUnlock()
	return names
}

func init() { Register(Gzip) }
