//go:build race

package e2e

// raceEnabled reports whether the race detector is on; throughput
// comparisons skip under it and run in a separate pass without it.
const raceEnabled = true
