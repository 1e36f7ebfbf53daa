// Package compress owns message compression: the Compressor interface, a
// registry by grpc-encoding name, and gzip (registered by default, with
// pooled writers and readers).
//
// Decompression is always bounded: a Compressor never produces more than
// the limit it is given, so a small compressed message cannot inflate into
// an allocation past the receiver's maximum message size.
//
// The registry is written by Register at init time and read concurrently,
// without locks, afterwards. The package never frames messages or touches headers.
package compress

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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

// registry is replaced whole by Register (copy on write), so that the
// lookups on every call take no lock.
type registry struct {
	byName map[string]Compressor
	names  string // comma-separated, sorted: the grpc-accept-encoding value
}

var (
	mu      sync.Mutex // serialises Register
	current atomic.Pointer[registry]
)

// Register adds c under c.Name(), replacing any earlier one. Call it from
// init.
func Register(c Compressor) {
	mu.Lock()
	defer mu.Unlock()
	next := &registry{byName: map[string]Compressor{}}
	if r := current.Load(); r != nil {
		maps.Copy(next.byName, r.byName)
	}
	next.byName[strings.ToLower(c.Name())] = c
	list := slices.Sorted(maps.Keys(next.byName))
	next.names = strings.Join(list, ",")
	current.Store(next)
}

// Get returns the compressor registered under name (in any case, as
// Register keeps names in lower case), or nil.
func Get(name string) Compressor {
	if name == "" {
		return nil
	}
	return current.Load().byName[strings.ToLower(name)]
}

// Names returns the registered names, comma-separated: the value for
// grpc-accept-encoding.
func Names() string { return current.Load().names }

func init() { Register(Gzip) }
