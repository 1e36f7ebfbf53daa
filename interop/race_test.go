//go:build race

package interop_test

// raceEnabled: this test binary runs under the race detector, so the h2rpc
// interop binaries are built with it too.
const raceEnabled = true
