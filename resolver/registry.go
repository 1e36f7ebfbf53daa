package resolver

import (
	"strings"
	"sync"
)

// DefaultScheme is the scheme used for targets that have no scheme or whose
// scheme has no registered builder.
const DefaultScheme = "passthrough"

var registry struct {
	mu       sync.RWMutex
	builders map[string]Builder // guarded by mu
}

// Register makes b the builder for the scheme b.Scheme() returns, lower
// cased, replacing any builder registered earlier for that scheme.
//
// It is meant to be called from init functions: a target parsed before the
// registration may have been resolved by another builder. It is safe for
// concurrent use nonetheless.
func Register(b Builder) {
	scheme := strings.ToLower(b.Scheme())
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if registry.builders == nil {
		registry.builders = make(map[string]Builder)
	}
	registry.builders[scheme] = b
}

// Unregister removes the builder registered for scheme, if any. It exists
// for tests that register a builder temporarily; restore the previous one
// (from Get) with Register afterwards.
func Unregister(scheme string) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	delete(registry.builders, strings.ToLower(scheme))
}

// Get returns the builder registered for scheme (compared case-
// insensitively), or nil if there is none.
func Get(scheme string) Builder {
	registry.mu.RLock()
	defer registry.mu.RUnlock()
	return registry.builders[strings.ToLower(scheme)]
}
