package soak

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/client"
	"github.com/h2rpc/h2rpc/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

const (
	totalRPCs   = 1_000_000
	concurrency = 256
	abandoned   = 1000 // streams opened and left unread
	warmupRPCs  = 20_000
	// callLimit bounds the calls so that the test ends within 5 minutes.
	callLimit = 4*time.Minute + 30*time.Second
	// The heap may end at most 10 % above where it started, or 1 MiB
	// above it if that is more: a baseline of a few MiB moves by more than
	// 10 % with any allocation that happens to be live at the moment of
	// measuring.
	heapGrowth = 0.10
	heapFloor  = 1 << 20
	// settleLimit bounds the wait for goroutines to return to baseline.
	settleLimit = 5 * time.Second
)

const (
	unaryMethod = "/soak.Echo/Unary"
	bidiMethod  = "/soak.Echo/Bidi"
)

var bidiDesc = &client.StreamDesc{ServerStreams: true, ClientStreams: true}

var echoDesc = server.ServiceDesc{
	ServiceName: "soak.Echo",
	Methods: []server.MethodDesc{{
		MethodName: "Unary",
		Handler: func(_ any, _ context.Context, dec func(any) error, _ server.UnaryInterceptor) (any, error) {
			in := new(wrapperspb.StringValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			return in, nil
		},
	}},
	Streams: []server.StreamDesc{{
		StreamName:    "Bidi",
		ServerStreams: true,
		ClientStreams: true,
		Handler: func(_ any, st server.Stream) error {
			for {
				in := new(wrapperspb.StringValue)
				if err := st.RecvMsg(in); err != nil {
					if errors.Is(err, io.EOF) {
						return nil
					}
					return err
				}
				if err := st.SendMsg(in); err != nil {
					return err
				}
			}
		},
	}},
}

func TestSoak(t *testing.T) {
	if os.Getenv("H2RPC_SOAK") != "1" {
		t.Skip("set H2RPC_SOAK=1 to run the soak (make soak)")
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := server.New()
	s.RegisterService(&echoDesc, nil)
	served := make(chan struct{})
	go func() {
		defer close(served)
		s.Serve(lis)
	}()
	t.Cleanup(func() {
		s.Stop()
		<-served
	})
	cc, err := client.New(lis.Addr().String(), client.WithInsecure())
	require.NoError(t, err)
	t.Cleanup(func() { cc.Close() })

	heapCold, _ := measure()
	// Warm up with a small copy of the run, abandoned streams included,
	// so that the baseline already holds what only the peak leaves
	// behind: the Go runtime never frees a goroutine's descriptor
	// (about 1 MiB for the 1,000 extra handler goroutines here) and keeps
	// spans that the peak's survivors pin.
	warmAb := &abandoner{cc: cc, every: warmupRPCs / abandoned}
	warm := runUnary(cc, warmupRPCs, time.Now().Add(time.Minute), warmAb.maybeOpen)
	require.Zero(t, warm.failed, "warm-up: %v", warm.firstErr)
	require.Zero(t, warmAb.failed.Load(), "warm-up streams: %v", warmAb.firstErr())
	warmAb.cancelAll()
	steady(settleLimit)
	heapBefore, goroutinesBefore := measure()

	ab := &abandoner{cc: cc, every: totalRPCs / abandoned}
	start := time.Now()
	res := runUnary(cc, totalRPCs, start.Add(callLimit), ab.maybeOpen)
	elapsed := time.Since(start)
	goroutinesOpen := runtime.NumGoroutine()
	ab.cancelAll()

	goroutinesAfter := settle(goroutinesBefore, settleLimit)
	heapAfter, _ := measure()

	rate := float64(res.done) / elapsed.Seconds()
	t.Logf("RPCs: %d OK, %d failed, in %v: %.0f RPC/s at concurrency %d", res.done-res.failed, res.failed, elapsed.Round(time.Millisecond), rate, concurrency)
	t.Logf("abandoned streams: %d opened (%d failed to open), cancelled at the end", ab.opened, ab.failed.Load())
	t.Logf("heap in use: %s cold, %s after warm-up (the baseline), %s after the run (limit %s)",
		mib(heapCold), mib(heapBefore), mib(heapAfter), mib(heapLimit(heapBefore)))
	t.Logf("goroutines: %d before, %d with the abandoned streams open, %d after", goroutinesBefore, goroutinesOpen, goroutinesAfter)

	assert.Zero(t, res.failed, "failed RPCs; first: %v", res.firstErr)
	assert.Zero(t, ab.failed.Load(), "streams that failed to open; first: %v", ab.firstErr())
	if res.done < totalRPCs {
		t.Errorf("only %d of %d RPCs within %v (%.0f RPC/s)", res.done, totalRPCs, callLimit, rate)
	}
	assert.Equal(t, abandoned, ab.opened, "abandoned streams opened")
	assert.LessOrEqual(t, heapAfter, heapLimit(heapBefore), "the heap grew")
	if !assert.LessOrEqual(t, goroutinesAfter, goroutinesBefore, "goroutines left after %v", settleLimit) {
		var buf bytes.Buffer
		pprof.Lookup("goroutine").WriteTo(&buf, 1)
		t.Logf("goroutines:\n%s", buf.String())
	}
}

// unaryResult counts calls made by runUnary.
type unaryResult struct {
	done, failed int64
	firstErr     error
}

// runUnary makes n unary calls from concurrency goroutines, stopping
// early at deadline. Before call i it calls each(i), if set.
func runUnary(cc *client.ClientConn, n int64, deadline time.Time, each func(i int64)) unaryResult {
	var (
		next, done, failed atomic.Int64
		errOnce            sync.Once
		firstErr           error
		wg                 sync.WaitGroup
	)
	var expired atomic.Bool
	timer := time.AfterFunc(time.Until(deadline), func() { expired.Store(true) })
	defer timer.Stop()
	ctx := context.Background()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := new(wrapperspb.StringValue)
			for {
				i := next.Add(1) - 1
				if i >= n || expired.Load() {
					return
				}
				if each != nil {
					each(i)
				}
				v := strconv.FormatInt(i, 10)
				err := cc.Invoke(ctx, unaryMethod, wrapperspb.String(v), out)
				if err == nil && out.Value != v {
					err = fmt.Errorf("call %d answered %q", i, out.Value)
				}
				if err != nil {
					failed.Add(1)
					errOnce.Do(func() { firstErr = err })
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	return unaryResult{done: done.Load(), failed: failed.Load(), firstErr: firstErr}
}

// abandoner opens a stream every so many calls, sends one message on it
// and never reads, keeping only its cancel function, as a careless caller
// would.
type abandoner struct {
	cc     *client.ClientConn
	every  int64
	failed atomic.Int64

	mu      sync.Mutex
	cancels []context.CancelFunc
	opened  int // read after the calls have ended
	err     error
}

// maybeOpen opens a stream before call i if i is a multiple of every.
func (a *abandoner) maybeOpen(i int64) {
	if i%a.every != 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	st, err := a.cc.NewStream(ctx, bidiDesc, bidiMethod)
	if err == nil {
		err = st.SendMsg(wrapperspb.String(string(make([]byte, 1024))))
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.cancels = append(a.cancels, cancel)
	if err != nil {
		a.failed.Add(1)
		if a.err == nil {
			a.err = err
		}
		return
	}
	a.opened++
}

func (a *abandoner) firstErr() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

// cancelAll cancels every stream and forgets them, so that the heap
// measured afterwards holds none of the test's own references.
func (a *abandoner) cancelAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, c := range a.cancels {
		c()
	}
	a.cancels = nil
}

// measure returns the heap in use after two collections (the second
// empties what sync.Pools kept through the first) and the goroutine
// count.
func measure() (heapInuse uint64, goroutines int) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse, runtime.NumGoroutine()
}

// settle waits up to d for the goroutine count to drop to baseline and
// returns the last count seen.
func settle(baseline int, d time.Duration) int {
	deadline := time.Now().Add(d)
	for {
		n := runtime.NumGoroutine()
		if n <= baseline || time.Now().After(deadline) {
			return n
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// steady waits up to d for the goroutine count to stay the same for a
// quarter of a second.
func steady(d time.Duration) {
	deadline := time.Now().Add(d)
	last, since := runtime.NumGoroutine(), time.Now()
	for time.Now().Before(deadline) && time.Since(since) < 250*time.Millisecond {
		time.Sleep(20 * time.Millisecond)
		if n := runtime.NumGoroutine(); n != last {
			last, since = n, time.Now()
		}
	}
}

func heapLimit(before uint64) uint64 {
	return before + max(uint64(float64(before)*heapGrowth), heapFloor)
}

func mib(n uint64) string { return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20)) }
