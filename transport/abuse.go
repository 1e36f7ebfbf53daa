package transport

import (
	"sync"
	"time"

	"golang.org/x/net/http2"
)

// A connection may make us do pointless work only so fast: each stream the
// peer resets before it was answered and before a whole message came on
// it, each reset its malformed frames provoke, and each empty DATA frame
// costs a token; tokens come back at abuseRate per second up to
// abuseBurst. A peer that runs out is sent GOAWAY(ENHANCE_YOUR_CALM)
// (Rapid Reset, CVE-2023-44487; MadeYouReset, CVE-2025-8671; empty-frame
// floods). Cancelling calls whose requests have been sent is free, however
// often: a client with many short deadlines or hedged calls does that.
const (
	abuseBurst = 1000
	abuseRate  = 500 // per second
)

// abuseBudget is the connection's token bucket. The reader spends from
// it, and loopy for a stream window the peer overflowed.
type abuseBudget struct {
	mu     sync.Mutex
	tokens float64
	last   time.Time
}

// abuse spends one token; it returns a connection error (GOAWAY and close
// queued) once the budget is gone. The reader calls it.
func (c *Conn) abuse(reason string) error {
	if c.spend() {
		return c.connError(http2.ErrCodeEnhanceYourCalm, reason)
	}
	return nil
}

// spend takes one token and reports whether the budget is gone.
func (c *Conn) spend() bool {
	b := &c.abuseB
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if b.last.IsZero() {
		b.tokens = abuseBurst
	} else {
		b.tokens = min(abuseBurst, b.tokens+now.Sub(b.last).Seconds()*abuseRate)
	}
	b.last = now
	b.tokens--
	return b.tokens < 0
}
