// Package backoff computes the delays between connection attempts that the
// gRPC connection-backoff algorithm prescribes (grpc/grpc
// doc/connection-backoff.md).
//
// The package owns only the arithmetic: it never sleeps, never starts a
// goroutine and keeps no state between calls. Config values are plain data;
// Backoff is safe for concurrent use.
//
// The algorithm: the first retry waits BaseDelay; each further one
// multiplies the previous delay by Multiplier, up to MaxDelay; the result is
// then spread uniformly over ±Jitter of itself so that clients that lost a
// server at the same moment do not reconnect in lockstep. A connection
// attempt itself gets at least MinConnectTimeout, however small the backoff.
package backoff

import (
	"math"
	"math/rand/v2"
	"time"
)

// MinConnectTimeout is the least time a single connection attempt is given
// before it is abandoned, even when the backoff delay is shorter.
const MinConnectTimeout = 20 * time.Second

// Config holds the parameters of the backoff algorithm.
type Config struct {
	// BaseDelay is the delay before the first retry.
	BaseDelay time.Duration
	// Multiplier is the factor by which the delay grows after each failed
	// retry. Values below 1 make the delay shrink; use at least 1.
	Multiplier float64
	// Jitter is the fraction (0 to 1) by which a delay is randomly
	// lengthened or shortened.
	Jitter float64
	// MaxDelay caps the delay before jitter is applied, so a jittered delay
	// may exceed it by up to Jitter·MaxDelay.
	MaxDelay time.Duration
}

// DefaultConfig holds the parameters gRPC specifies: 1 s base delay,
// multiplier 1.6, jitter 0.2 and 120 s maximum delay.
//
// It is read-only: copy it and change the copy instead of assigning to its
// fields, which every user of the default would see.
var DefaultConfig = Config{
	BaseDelay:  1 * time.Second,
	Multiplier: 1.6,
	Jitter:     0.2,
	MaxDelay:   120 * time.Second,
}

// Backoff returns how long to wait before retry number retries, counting
// from 0. Retry 0 waits exactly BaseDelay, without jitter; retry n waits
// min(BaseDelay·Multiplierⁿ, MaxDelay) ± Jitter. A negative retries counts
// as 0. The result is never negative.
func (c Config) Backoff(retries int) time.Duration {
	return c.backoff(retries, rand.Float64())
}

// backoff is Backoff with the uniform random number in [0, 1) supplied by
// the caller, so that tests can pin it.
func (c Config) backoff(retries int, r float64) time.Duration {
	if retries <= 0 {
		return c.BaseDelay
	}
	limit := float64(c.MaxDelay)
	// math.Pow overflows to +Inf rather than wrapping, so the cap below
	// still holds for absurd retry counts.
	d := math.Min(float64(c.BaseDelay)*math.Pow(c.Multiplier, float64(retries)), limit)
	d *= 1 + c.Jitter*(2*r-1)
	if d < 0 || math.IsNaN(d) {
		return 0
	}
	if d >= math.MaxInt64 {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(d)
}
