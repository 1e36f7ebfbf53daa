package transport

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/h2rpc/h2rpc/codes"
	"github.com/h2rpc/h2rpc/controlbuf"
	"github.com/h2rpc/h2rpc/keepalive"
	"github.com/h2rpc/h2rpc/status"
	"golang.org/x/net/http2"
)

const (
	defaultKeepaliveTimeout = 20 * time.Second
	defaultServerPingTime   = 2 * time.Hour
	defaultMinPingTime      = 5 * time.Minute
	// idlePingInterval is the enforced ping interval while no call runs
	// and the policy does not permit pings without streams.
	idlePingInterval = 2 * time.Hour
	// maxPingStrikes early pings are forgiven; the next one ends the
	// connection.
	maxPingStrikes = 2
)

var keepalivePingData = [8]byte{'k', 'e', 'e', 'p', 'a', 'l', 'v', 'e'}

// errKeepaliveTimeout ends a connection whose keepalive ping went
// unanswered.
var errKeepaliveTimeout = status.Error(codes.Unavailable, "transport: keepalive ping failed to receive ACK within timeout")

// pinger sends keepalive pings on a quiet connection and closes it when a
// ping goes unanswered. It runs on time.AfterFunc callbacks only.
type pinger struct {
	c             *Conn
	interval      time.Duration
	timeout       time.Duration
	withoutStream bool
	mu            sync.Mutex // orders the timer's creation before its callbacks
	timer         *time.Timer
	waiting       bool  // a ping is out
	pingSentAt    int64 // c.clock() when it was queued
	stopped       bool  // the connection closed: fire must not re-arm
}

func (c *Conn) startPinger(p keepalive.ClientParameters) *pinger {
	if p.Time <= 0 {
		return nil
	}
	if p.Timeout <= 0 {
		p.Timeout = defaultKeepaliveTimeout
	}
	kp := &pinger{c: c, interval: p.Time, timeout: p.Timeout, withoutStream: p.PermitWithoutStream}
	kp.mu.Lock()
	kp.timer = time.AfterFunc(kp.interval, kp.fire)
	kp.mu.Unlock()
	c.OnClose(func(error) {
		kp.mu.Lock()
		kp.stopped = true
		kp.timer.Stop()
		kp.mu.Unlock()
	})
	return kp
}

func (kp *pinger) fire() {
	kp.mu.Lock()
	defer kp.mu.Unlock()
	if kp.stopped {
		return // it fired as the connection closed
	}
	c := kp.c
	now := c.clock()
	lastRead := c.lastRead.Load()
	if kp.waiting {
		if lastRead < kp.pingSentAt {
			go c.Close(errKeepaliveTimeout) // Close runs OnClose hooks, which take kp.mu
			return
		}
		kp.waiting = false
	}
	if quiet := time.Duration(now - lastRead); quiet < kp.interval {
		kp.timer.Reset(kp.interval - quiet)
		return
	}
	if c.client && !kp.withoutStream && c.streamCount() == 0 {
		kp.timer.Reset(kp.interval)
		return
	}
	if !c.put(controlbuf.Item{Kind: controlbuf.KindPing, Ping: keepalivePingData}) {
		return
	}
	kp.waiting = true
	kp.pingSentAt = now
	kp.timer.Reset(kp.timeout)
}

// clock reads the connection's monotonic clock: nanoseconds since it was
// created, plus one so that no reading is zero.
func (c *Conn) clock() int64 { return int64(time.Since(c.epoch)) + 1 }

func (c *Conn) streamCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.streams)
}

// noLimit: a MaxConnectionIdle or MaxConnectionAge this long or longer
// (grpc-go's "infinity" is math.MaxInt64; this is about 146 years) means
// no limit, and arms no timer.
const noLimit = time.Duration(math.MaxInt64 / 2)

// startAgeTimers arms MaxConnectionIdle and MaxConnectionAge.
func (c *Conn) startAgeTimers(p keepalive.ServerParameters) {
	var (
		mu               sync.Mutex // orders timer creation before callbacks
		idle, age, grace *time.Timer
		stopped          bool // the connection closed: callbacks do nothing
	)
	mu.Lock()
	if d := p.MaxConnectionIdle; d > 0 && d < noLimit {
		c.idleSince.Store(c.clock())
		idle = time.AfterFunc(d, func() {
			mu.Lock()
			defer mu.Unlock()
			if stopped {
				return
			}
			next := d
			if since := c.idleSince.Load(); since != 0 {
				quiet := time.Duration(c.clock() - since)
				if quiet >= d {
					go c.DrainWith("max_idle")
					return
				}
				next = d - quiet
			}
			idle.Reset(next)
		})
	}
	if d := p.MaxConnectionAge; d > 0 && d < noLimit {
		// ±10 %, so that connections made together do not all drain
		// together. (Infinity, grpc-go's math.MaxInt64, is no limit: the
		// jitter would overflow it.)
		jitter := 1 + (rand.Float64()*0.2 - 0.1)
		age = time.AfterFunc(time.Duration(float64(d)*jitter), func() {
			mu.Lock()
			defer mu.Unlock()
			if stopped {
				return
			}
			go c.DrainWith("max_age")
			if g := p.MaxConnectionAgeGrace; g > 0 {
				grace = time.AfterFunc(g, func() {
					c.Close(status.Error(codes.Unavailable, "transport: connection closed after MaxConnectionAgeGrace"))
				})
			}
		})
	}
	mu.Unlock()
	if idle == nil && age == nil {
		return
	}
	// Not under mu: on a connection that has closed already, OnClose runs
	// the hook at once, on this goroutine.
	c.OnClose(func(error) {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		for _, t := range []*time.Timer{idle, age, grace} {
			if t != nil {
				t.Stop()
			}
		}
	})
}

// checkPing enforces the server's ping policy on a client's PING; it runs
// on the reader goroutine and reports a connection error when the client
// has pinged too often.
func (c *Conn) checkPing() error {
	now := time.Now()
	if c.sentData.Swap(false) {
		// A ping that follows our writes is legitimate (flow-control and
		// BDP pings during a response): forgiven, not timed.
		c.pingStrikes = 0
		c.lastPingAt = now
		return nil
	}
	minTime := c.policy.MinTime
	if minTime == 0 {
		minTime = defaultMinPingTime
	}
	if !c.policy.PermitWithoutStream && c.streamCount() == 0 {
		minTime = max(minTime, idlePingInterval)
	}
	early := !c.lastPingAt.IsZero() && now.Sub(c.lastPingAt) < minTime
	c.lastPingAt = now
	if !early {
		return nil
	}
	c.pingStrikes++
	if c.pingStrikes > maxPingStrikes {
		c.q.Put(controlbuf.Item{Kind: controlbuf.KindGoAway, StreamID: c.lastPeerIDAtomic.Load(), Code: http2.ErrCodeEnhanceYourCalm, Payload: &controlbuf.Payload{Debug: []byte("too_many_pings")}})
		c.q.Put(controlbuf.Item{Kind: controlbuf.KindClose})
		return fmt.Errorf("transport: client sent too many pings: %w", http2.ConnectionError(http2.ErrCodeEnhanceYourCalm))
	}
	return nil
}
