package fault

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/client"
	"github.com/h2rpc/h2rpc/codes"
	"github.com/h2rpc/h2rpc/resolver"
	"github.com/h2rpc/h2rpc/resolver/manual"
	"github.com/h2rpc/h2rpc/status"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGracefulStopUnderLoad stops server A gracefully while 256 callers
// keep one ClientConn busy, then points the ClientConn's resolver at
// server B. Every call A's handler started must answer OK; every other
// call that A did not take must fail UNAVAILABLE, and its retry (waiting
// for ready) must be answered by B. Nothing is lost and nothing runs twice.
func TestGracefulStopUnderLoad(t *testing.T) {
	const (
		callers      = 256
		perCaller    = 2000 // bounds each caller's calls
		handlerDelay = 3 * time.Millisecond
		phaseCalls   = 2000 // handler starts per server before moving on
		phaseLimit   = 5 * time.Second
	)
	var onA, onB ledger
	srvA, addrA := startServer(t, &echoService{delay: handlerDelay, onUnary: onA.record})
	_, addrB := startServer(t, &echoService{delay: handlerDelay, onUnary: onB.record})

	r := manual.NewBuilderWithScheme("fault-graceful")
	r.InitialState(resolver.State{Addresses: []resolver.Address{{Addr: addrA}}})
	resolver.Register(r)
	t.Cleanup(func() { resolver.Unregister(r.Scheme()) })
	cc := dial(t, r.Scheme()+":///echo")

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var stop atomic.Bool
	results := make([][]callResult, callers)
	var wg sync.WaitGroup
	for g := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perCaller && !stop.Load() && ctx.Err() == nil; i++ {
				res := callResult{req: fmt.Sprintf("%d-%d", g, i)}
				res.first = echoOnce(ctx, cc, res.req)
				if status.Code(res.first) == codes.Unavailable {
					res.retry = echoOnce(ctx, cc, res.req, client.WaitForReady(true))
				}
				results[g] = append(results[g], res)
			}
		}()
	}
	defer func() {
		stop.Store(true)
		wg.Wait()
	}()

	require.True(t, waitUntil(phaseLimit, func() bool { return onA.total() >= phaseCalls }), "server A took only %d calls", onA.total())
	stopStart := time.Now()
	srvA.GracefulStop()
	stopTook := time.Since(stopStart)
	require.NoError(t, r.UpdateState(resolver.State{Addresses: []resolver.Address{{Addr: addrB}}}))
	require.True(t, waitUntil(phaseLimit, func() bool { return onB.total() >= phaseCalls }), "server B took only %d calls", onB.total())
	stop.Store(true)
	wg.Wait()
	require.NoError(t, ctx.Err(), "the callers ran out of time")

	var sent, okOnA, okOnB, failed, retriedOK int
	var problems []string
	for _, rs := range results {
		for _, res := range rs {
			sent++
			a, b := onA.count(res.req), onB.count(res.req)
			switch {
			case res.first == nil:
				switch {
				case a == 1 && b == 0:
					okOnA++
				case a == 0 && b == 1:
					okOnB++
				default:
					problems = append(problems, fmt.Sprintf("%s answered OK, handled %d times by A and %d by B", res.req, a, b))
				}
			case status.Code(res.first) != codes.Unavailable:
				problems = append(problems, fmt.Sprintf("%s failed with %v", res.req, res.first))
			default:
				failed++
				switch {
				case a != 0:
					problems = append(problems, fmt.Sprintf("%s failed although A started its handler: %v", res.req, res.first))
				case res.retry != nil:
					problems = append(problems, fmt.Sprintf("%s failed (%v), then its retry failed: %v", res.req, res.first, res.retry))
				case b != 1:
					problems = append(problems, fmt.Sprintf("%s retried OK but handled %d times by B", res.req, b))
				default:
					retriedOK++
				}
			}
		}
	}
	t.Logf("%d calls sent by %d callers; OK at once: %d on A, %d on B; failed UNAVAILABLE: %d, all retried OK on B: %d; handlers started: %d on A, %d on B; GracefulStop took %v",
		sent, callers, okOnA, okOnB, failed, retriedOK, onA.total(), onB.total(), stopTook.Round(time.Millisecond))
	if len(problems) > 10 {
		problems = append(problems[:10], fmt.Sprintf("… and %d more", len(problems)-10))
	}
	assert.Empty(t, problems)
	assert.Equal(t, sent, okOnA+okOnB+retriedOK, "calls lost")
	assert.Equal(t, onA.total(), okOnA, "handlers A started for calls that did not answer OK")
	assert.Equal(t, onB.total(), okOnB+retriedOK, "handlers B started for calls not accounted for")
}

// callResult is what one call of TestGracefulStopUnderLoad saw.
type callResult struct {
	req   string
	first error // the call
	retry error // its retry, if the call failed UNAVAILABLE
}

// ledger counts handler starts per request.
type ledger struct {
	mu   sync.Mutex
	seen map[string]int
	n    atomic.Int64
}

func (l *ledger) record(_ context.Context, req string) {
	l.mu.Lock()
	if l.seen == nil {
		l.seen = make(map[string]int)
	}
	l.seen[req]++
	l.mu.Unlock()
	l.n.Add(1)
}

func (l *ledger) count(req string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seen[req]
}

func (l *ledger) total() int { return int(l.n.Load()) }

// waitUntil polls cond every few milliseconds for up to d.
func waitUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}
