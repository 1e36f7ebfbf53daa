package metadata

import (
	"context"
	"fmt"
	"strings"
)

type incomingKey struct{}

type outgoingKey struct{}

// outgoing is what an outgoing context stores: the MD given to
// NewOutgoingContext plus the pairs appended since, kept apart so that
// AppendToOutgoingContext never copies the map. Neither is ever mutated
// after it is stored.
type outgoing struct {
	md    MD
	added [][]string // each element is an even-length key, value, ... list
}

// NewIncomingContext returns a child of ctx carrying md as the metadata
// received from the peer. Servers and transports call it; md must not be
// modified afterwards.
func NewIncomingContext(ctx context.Context, md MD) context.Context {
	return context.WithValue(ctx, incomingKey{}, md)
}

// FromIncomingContext returns a copy of the incoming metadata in ctx, keys
// lower-cased, and whether there was any. The copy is the caller's to
// modify.
func FromIncomingContext(ctx context.Context) (MD, bool) {
	md, ok := ctx.Value(incomingKey{}).(MD)
	if !ok {
		return nil, false
	}
	out := make(MD, len(md))
	for k, v := range md {
		k = strings.ToLower(k)
		out[k] = append(out[k], v...)
	}
	return out, true
}

// ValueFromIncomingContext returns a copy of the incoming values of key in
// ctx, or nil. It copies only that key's values, so it is the cheap way to
// read one key.
func ValueFromIncomingContext(ctx context.Context, key string) []string {
	md, ok := ctx.Value(incomingKey{}).(MD)
	if !ok {
		return nil
	}
	key = strings.ToLower(key)
	if v, ok := md[key]; ok {
		return copyOf(v)
	}
	// An MD built by hand may hold keys that are not lower-case.
	var out []string
	for k, v := range md {
		if strings.EqualFold(k, key) {
			out = append(out, v...)
		}
	}
	return out
}

// NewOutgoingContext returns a child of ctx carrying md as the metadata to
// send, replacing any outgoing metadata ctx had (including appended pairs).
// md must not be modified afterwards.
func NewOutgoingContext(ctx context.Context, md MD) context.Context {
	return context.WithValue(ctx, outgoingKey{}, outgoing{md: md})
}

// AppendToOutgoingContext returns a child of ctx whose outgoing metadata is
// ctx's plus the alternating keys and values kv (keys lower-cased). It does
// not copy the existing metadata, so calling it once per interceptor is
// cheap. It panics if kv has an odd number of elements.
func AppendToOutgoingContext(ctx context.Context, kv ...string) context.Context {
	if len(kv)%2 == 1 {
		panic(fmt.Sprintf("metadata: AppendToOutgoingContext got an odd number of arguments: %d", len(kv)))
	}
	o, _ := ctx.Value(outgoingKey{}).(outgoing)
	pairs := make([]string, len(kv))
	for i, s := range kv {
		if i%2 == 0 {
			s = strings.ToLower(s)
		}
		pairs[i] = s
	}
	added := make([][]string, len(o.added), len(o.added)+1)
	copy(added, o.added)
	added = append(added, pairs)
	return context.WithValue(ctx, outgoingKey{}, outgoing{md: o.md, added: added})
}

// FromOutgoingContext returns the outgoing metadata of ctx, appended pairs
// merged in, as a new MD with lower-case keys that the caller may modify,
// and whether ctx had any outgoing metadata.
func FromOutgoingContext(ctx context.Context) (MD, bool) {
	o, ok := ctx.Value(outgoingKey{}).(outgoing)
	if !ok {
		return nil, false
	}
	n := len(o.md)
	for _, kv := range o.added {
		n += len(kv) / 2
	}
	out := make(MD, n)
	for k, v := range o.md {
		k = strings.ToLower(k)
		out[k] = append(out[k], v...)
	}
	for _, kv := range o.added {
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = append(out[kv[i]], kv[i+1])
		}
	}
	return out, true
}

// FromOutgoingContextRaw returns the outgoing metadata of ctx without
// copying anything, for the transport's hot path: md as given to
// NewOutgoingContext (its keys are lower-case only if its creator made them
// so; MDs built with this package's functions always are) and the pairs
// added by AppendToOutgoingContext, each an alternating key/value list with
// lower-case keys, oldest first. ok reports whether ctx had any outgoing
// metadata. The results are shared and must not be modified.
func FromOutgoingContextRaw(ctx context.Context) (md MD, added [][]string, ok bool) {
	o, ok := ctx.Value(outgoingKey{}).(outgoing)
	if !ok {
		return nil, nil, false
	}
	return o.md, o.added, true
}
