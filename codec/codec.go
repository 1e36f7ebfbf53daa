// Package codec owns message serialization: the Codec interface, the
// registry that maps a content-subtype ("proto" in
// "application/grpc+proto") to a Codec, the protocol-buffers codec, and the
// 5-byte length prefix that frames each message on a gRPC stream.
//
// It never compresses (the flag in the prefix only records whether the
// caller did), never reads from or writes to the network, and never enforces
// size limits; the transport does those. All functions are safe for
// concurrent use.
package codec

import (
	"strings"
	"sync"
	"sync/atomic"
)

// Codec turns messages into bytes and back. Implementations must be safe for
// concurrent use.
type Codec interface {
	// Name returns the content-subtype the codec is registered under, in
	// lower case, such as "proto" or "json".
	Name() string
	// Marshal returns the wire form of v.
	Marshal(v any) ([]byte, error)
	// Unmarshal parses data into v, which is usually a pointer. The codec
	// must not keep data after returning: the caller reuses its buffer.
	Unmarshal(data []byte, v any) error
}

var (
	registryMu sync.Mutex                       // serialises Register
	registry   atomic.Pointer[map[string]Codec] // copy-on-write, read lock-free by Get
)

func init() {
	registry.Store(&map[string]Codec{})
	Register(Proto)
}

// Register makes c available under its lower-cased Name, replacing any codec
// registered under that name. It is meant to be called from init functions.
// It panics if c is nil or its name is empty.
func Register(c Codec) {
	if c == nil {
		panic("codec: Register of a nil Codec")
	}
	name := strings.ToLower(c.Name())
	if name == "" {
		panic("codec: Register of a Codec with an empty name")
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	old := *registry.Load()
	m := make(map[string]Codec, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[name] = c
	registry.Store(&m)
}

// Get returns the codec registered for the content-subtype name (matched
// case-insensitively), or nil if there is none.
func Get(name string) Codec {
	return (*registry.Load())[strings.ToLower(name)]
}
