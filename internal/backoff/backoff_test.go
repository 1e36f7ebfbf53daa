package backoff

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestDefaultConfig(t *testing.T) {
	assert.Equal(t, Config{BaseDelay: time.Second, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 120 * time.Second}, DefaultConfig)
	assert.Equal(t, 20*time.Second, MinConnectTimeout)
}

func TestBackoffTable(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name    string
		cfg     Config
		retries int
		r       float64 // the uniform random number in [0, 1)
		want    time.Duration
	}{
		{"first retry is base, no jitter", DefaultConfig, 0, 0, time.Second},
		{"first retry ignores random", DefaultConfig, 0, 0.999, time.Second},
		{"negative retries count as first", DefaultConfig, -3, 0, time.Second},
		{"one growth, centred", DefaultConfig, 1, 0.5, 1600 * ms},
		{"two growths, centred", DefaultConfig, 2, 0.5, 2560 * ms},
		{"one growth, lowest jitter", DefaultConfig, 1, 0, 1280 * ms},
		{"one growth, highest jitter", DefaultConfig, 1, 1, 1920 * ms},
		{"capped, centred", DefaultConfig, 20, 0.5, 120 * time.Second},
		{"capped, jitter above cap", DefaultConfig, 20, 1, 144 * time.Second},
		{"capped, jitter below cap", DefaultConfig, 20, 0, 96 * time.Second},
		{"huge retries do not overflow", DefaultConfig, math.MaxInt, 0.5, 120 * time.Second},
		{"no jitter", Config{BaseDelay: 10 * ms, Multiplier: 2, MaxDelay: time.Second}, 3, 0.9, 80 * ms},
		{"multiplier one stays at base", Config{BaseDelay: 10 * ms, Multiplier: 1, MaxDelay: time.Second}, 1000, 0.5, 10 * ms},
		{"base above max", Config{BaseDelay: 2 * time.Second, Multiplier: 2, MaxDelay: time.Second}, 1, 0.5, time.Second},
		{"jitter above one is clamped at zero", Config{BaseDelay: time.Second, Multiplier: 1, Jitter: 3, MaxDelay: time.Minute}, 1, 0, 0},
		{"zero config", Config{}, 5, 0.5, 0},
		{"max delay at the duration limit", Config{BaseDelay: time.Second, Multiplier: 2, Jitter: 0.5, MaxDelay: time.Duration(math.MaxInt64)}, 200, 1, time.Duration(math.MaxInt64)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.cfg.backoff(tt.retries, tt.r)
			assert.InDelta(t, float64(tt.want), float64(got), float64(time.Microsecond), "got %v", got)
		})
	}
}

// TestBackoffProperties checks, over many random draws, that delays stay
// within the jitter band around the capped exponential value and are never
// negative.
func TestBackoffProperties(t *testing.T) {
	cfgs := []Config{
		DefaultConfig,
		{BaseDelay: 100 * time.Millisecond, Multiplier: 1.5, Jitter: 0.5, MaxDelay: 5 * time.Second},
		{BaseDelay: time.Millisecond, Multiplier: 10, Jitter: 1, MaxDelay: time.Second},
	}
	for _, cfg := range cfgs {
		for retries := 0; retries < 40; retries++ {
			centre := math.Min(float64(cfg.BaseDelay)*math.Pow(cfg.Multiplier, float64(retries)), float64(cfg.MaxDelay))
			if retries == 0 {
				centre = float64(cfg.BaseDelay)
			}
			lo, hi := centre*(1-cfg.Jitter), centre*(1+cfg.Jitter)
			if retries == 0 {
				lo, hi = centre, centre
			}
			for range 200 {
				d := cfg.Backoff(retries)
				assert.GreaterOrEqual(t, d, time.Duration(0))
				assert.GreaterOrEqual(t, float64(d), math.Floor(lo)-1, "cfg %+v retries %d", cfg, retries)
				assert.LessOrEqual(t, float64(d), math.Ceil(hi)+1, "cfg %+v retries %d", cfg, retries)
			}
		}
	}
}

// TestBackoffMonotoneWithoutJitter checks that, without jitter, delays never
// shrink as retries grow and settle at MaxDelay.
func TestBackoffMonotoneWithoutJitter(t *testing.T) {
	cfg := DefaultConfig
	cfg.Jitter = 0
	prev := time.Duration(0)
	for retries := 0; retries < 100; retries++ {
		d := cfg.Backoff(retries)
		assert.GreaterOrEqual(t, d, prev, "retries %d", retries)
		assert.LessOrEqual(t, d, cfg.MaxDelay)
		prev = d
	}
	assert.Equal(t, cfg.MaxDelay, prev)
}

// TestBackoffJitterSpreads checks that jitter actually spreads delays over
// both halves of the band rather than always pushing one way.
func TestBackoffJitterSpreads(t *testing.T) {
	var below, above int
	for range 1000 {
		d := DefaultConfig.Backoff(30)
		switch {
		case d < DefaultConfig.MaxDelay:
			below++
		case d > DefaultConfig.MaxDelay:
			above++
		}
	}
	assert.Greater(t, below, 100)
	assert.Greater(t, above, 100)
}
