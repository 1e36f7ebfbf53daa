package balancer

import (
	"strings"
	"sync"
)

var registry struct {
	mu       sync.RWMutex
	builders map[string]Builder // guarded by mu; keys lower case
}

// Register makes b the builder for the policy b.Name(), compared case-
// insensitively, replacing any builder registered earlier under that name.
// It is meant to be called from init functions but is safe for concurrent
// use.
func Register(b Builder) {
	name := strings.ToLower(b.Name())
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if registry.builders == nil {
		registry.builders = make(map[string]Builder)
	}
	registry.builders[name] = b
}

// Unregister removes the builder registered under name, if any. It exists
// for tests that register a builder temporarily.
func Unregister(name string) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	delete(registry.builders, strings.ToLower(name))
}

// Get returns the builder registered under name (compared case-
// insensitively), or nil if there is none.
func Get(name string) Builder {
	registry.mu.RLock()
	defer registry.mu.RUnlock()
	return registry.builders[strings.ToLower(name)]
}
