// Package metadata owns gRPC metadata: the custom key/value pairs that ride
// in request headers, response headers and trailers, and their attachment
// to a context.Context.
//
// Keys are lower-case, because HTTP/2 forbids upper-case header names: every
// function and method that takes a key lower-cases it, and those that return
// a copy lower-case the keys they copy. A map stored with NewIncomingContext
// or NewOutgoingContext is kept as given. Keys ending in "-bin" carry
// arbitrary bytes; the transport base64-encodes them on the wire, so their
// values here are raw. Other values must be printable ASCII.
//
// The package never touches the network and never encodes values; it does
// not decide which headers a transport sends, but IsReservedHeader tells the
// transport which keys users may not set. An MD is a plain map and is not
// safe for concurrent mutation; metadata stored in a context must be treated
// as read-only by everyone.
package metadata

import (
	"fmt"
	"strings"
)

// MD maps lower-case keys to their values. A key may carry several values;
// their order is preserved on the wire.
type MD map[string][]string

// New returns an MD with one value per key of m, keys lower-cased.
func New(m map[string]string) MD {
	md := make(MD, len(m))
	for k, v := range m {
		k = strings.ToLower(k)
		md[k] = append(md[k], v)
	}
	return md
}

// Pairs returns an MD built from alternating keys and values. Keys are
// lower-cased; a repeated key collects all its values in order. Pairs panics
// if kv has an odd number of elements.
func Pairs(kv ...string) MD {
	if len(kv)%2 == 1 {
		panic(fmt.Sprintf("metadata: Pairs got an odd number of arguments: %d", len(kv)))
	}
	md := make(MD, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k := strings.ToLower(kv[i])
		md[k] = append(md[k], kv[i+1])
	}
	return md
}

// Len returns the number of keys in md.
func (md MD) Len() int {
	return len(md)
}

// Copy returns a deep copy of md with lower-case keys: changing either
// afterwards, values included, does not affect the other.
func (md MD) Copy() MD {
	out := make(MD, len(md))
	for k, v := range md {
		k = strings.ToLower(k)
		out[k] = append(out[k], v...)
	}
	return out
}

// Get returns the values of key k (lower-cased first). The result aliases
// md's storage.
func (md MD) Get(k string) []string {
	return md[strings.ToLower(k)]
}

// Set replaces the values of key k (lower-cased first) with vals. Setting
// no values is a no-op; use Delete to remove a key.
func (md MD) Set(k string, vals ...string) {
	if len(vals) == 0 {
		return
	}
	md[strings.ToLower(k)] = vals
}

// Append adds vals to the values of key k (lower-cased first). Appending no
// values is a no-op, so it never creates an empty key.
func (md MD) Append(k string, vals ...string) {
	if len(vals) == 0 {
		return
	}
	k = strings.ToLower(k)
	md[k] = append(md[k], vals...)
}

// Delete removes key k (lower-cased first) and its values.
func (md MD) Delete(k string) {
	delete(md, strings.ToLower(k))
}

// Join returns a new MD holding the values of all mds; values of a key
// present in several are concatenated in argument order.
func Join(mds ...MD) MD {
	n := 0
	for _, md := range mds {
		n += len(md)
	}
	out := make(MD, n)
	for _, md := range mds {
		for k, v := range md {
			k = strings.ToLower(k)
			out[k] = append(out[k], v...)
		}
	}
	return out
}

func copyOf(v []string) []string {
	if v == nil {
		return nil
	}
	return append(make([]string, 0, len(v)), v...)
}
