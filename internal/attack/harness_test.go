package attack

import (
	"context"
	"errors"
	"net"
	"runtime"
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

// gauge counts the running calls of one method and remembers the peak.
type gauge struct {
	cur, peak, total atomic.Int64
}

func (g *gauge) enter() {
	g.total.Add(1)
	n := g.cur.Add(1)
	for {
		p := g.peak.Load()
		if n <= p || g.peak.CompareAndSwap(p, n) {
			return
		}
	}
}

func (g *gauge) exit() { g.cur.Add(-1) }

// floodResult is what one Flood call reports when its handler returns.
type floodResult struct {
	sent    int           // messages SendMsg accepted
	elapsed time.Duration // from the first SendMsg to the handler's return
	ctxErr  error         // the call context's error at return
}

// service is the attacked echo service. Unary serves the well-behaved
// client; the attackers call Hold, Unary's twin that waits for its call to
// end, and Flood, a server stream that sends until it cannot.
type service struct {
	unary, hold, flood gauge
	// linger is how long (ns) Hold takes to return once its call has
	// ended, like a handler that notices cancellation late.
	linger   atomic.Int64
	floods   chan floodResult
	floodMsg int // Flood's message size
}

func newService() *service {
	return &service{floods: make(chan floodResult, 16), floodMsg: 16 << 10}
}

// holdLimit bounds how long a Hold call waits for its context to end.
const holdLimit = 10 * time.Second

var echoDesc = server.ServiceDesc{
	ServiceName: "attack.Echo",
	Methods: []server.MethodDesc{{
		MethodName: "Unary",
		Handler: func(srv any, ctx context.Context, dec func(any) error, _ server.UnaryInterceptor) (any, error) {
			svc := srv.(*service)
			svc.unary.enter()
			defer svc.unary.exit()
			in := new(wrapperspb.StringValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			return in, nil
		},
	}, {
		MethodName: "Hold",
		Handler: func(srv any, ctx context.Context, dec func(any) error, _ server.UnaryInterceptor) (any, error) {
			svc := srv.(*service)
			svc.hold.enter()
			defer svc.hold.exit()
			defer func() {
				if ctx.Err() != nil {
					time.Sleep(time.Duration(svc.linger.Load()))
				}
			}()
			in := new(wrapperspb.StringValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			t := time.NewTimer(holdLimit)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-t.C:
				return in, nil
			}
		},
	}},
	Streams: []server.StreamDesc{{
		StreamName:    "Flood",
		ServerStreams: true,
		Handler: func(srv any, st server.Stream) error {
			svc := srv.(*service)
			svc.flood.enter()
			defer svc.flood.exit()
			if err := st.RecvMsg(new(wrapperspb.StringValue)); err != nil {
				return err
			}
			msg := wrapperspb.Bytes(make([]byte, svc.floodMsg))
			res := floodResult{}
			start := time.Now()
			var err error
			for err == nil {
				if err = st.SendMsg(msg); err == nil {
					res.sent++
				}
			}
			res.elapsed = time.Since(start)
			res.ctxErr = st.Context().Err()
			select {
			case svc.floods <- res:
			default:
			}
			return err
		},
	}},
}

// target is a running server under attack.
type target struct {
	addr string
	svc  *service
}

func startServer(t *testing.T, opts ...server.Option) *target {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return serve(t, lis, opts...)
}

// startSmallBufferServer is startServer with 32 KiB socket buffers on the
// server's side of each connection, so that a flood the server stops
// reading backs up into the attacker after a few hundred kilobytes
// rather than the megabytes the kernel would otherwise absorb.
func startSmallBufferServer(t *testing.T, opts ...server.Option) *target {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return serve(t, smallBufferListener{lis.(*net.TCPListener)}, opts...)
}

type smallBufferListener struct{ *net.TCPListener }

func (l smallBufferListener) Accept() (net.Conn, error) {
	c, err := l.AcceptTCP()
	if err != nil {
		return nil, err
	}
	c.SetReadBuffer(32 << 10)
	c.SetWriteBuffer(32 << 10)
	return c, nil
}

func serve(t *testing.T, lis net.Listener, opts ...server.Option) *target {
	t.Helper()
	svc := newService()
	s := server.New(opts...)
	s.RegisterService(&echoDesc, svc)
	served := make(chan struct{})
	go func() {
		defer close(served)
		s.Serve(lis)
	}()
	t.Cleanup(func() {
		s.Stop()
		<-served
	})
	return &target{addr: lis.Addr().String(), svc: svc}
}

// goodClient dials tgt with an h2rpc client and makes one call, so that
// its connection is up before the attack starts.
func goodClient(t *testing.T, tgt *target) *client.ClientConn {
	t.Helper()
	cc, err := client.New(tgt.addr, client.WithInsecure())
	require.NoError(t, err)
	t.Cleanup(func() { cc.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out := new(wrapperspb.StringValue)
	require.NoError(t, cc.Invoke(ctx, "/attack.Echo/Unary", wrapperspb.String("warm-up"), out))
	require.Equal(t, "warm-up", out.Value)
	return cc
}

// prober calls Unary on a well-behaved connection in a loop while an
// attack runs, recording how the calls fared. The attack runs from when
// startProber returns to when check is called; only calls that complete
// inside that window count as served during the attack.
type prober struct {
	cc     *client.ClientConn
	stop   chan struct{}
	done   chan struct{}
	warm   chan struct{} // closed when the first call is over
	served chan struct{} // closed when a call inside the attack succeeds

	mu sync.Mutex
	// attackStart and attackEnd bound the attack; zero until known.
	attackStart, attackEnd time.Time
	ok                     int // calls served inside the attack window
	failed                 int // calls that failed, whenever they ran
	lastErr                error
	slowest                time.Duration
}

// probeTimeout is each probe's deadline: generous, because the race
// detector on two cores under a flood is slow, yet far below the test's.
const probeTimeout = 5 * time.Second

// startProber starts the prober and returns once its first call is over,
// made before any attack: the attack is what the test does next.
func startProber(t *testing.T, cc *client.ClientConn) *prober {
	t.Helper()
	p := &prober{
		cc:     cc,
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		warm:   make(chan struct{}),
		served: make(chan struct{}),
	}
	go p.run()
	t.Cleanup(func() { p.finish() })
	select {
	case <-p.warm:
	case <-time.After(probeTimeout + 5*time.Second):
		t.Fatal("the prober's first call never ended")
	}
	p.mu.Lock()
	p.attackStart = time.Now()
	p.mu.Unlock()
	return p
}

func (p *prober) run() {
	defer close(p.done)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for first := true; ; first = false {
		if !first {
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
		}
		took, err := p.call()
		p.record(took, err, time.Now())
		if first {
			close(p.warm)
		}
	}
}

// record counts one call that ended at end.
func (p *prober) record(took time.Duration, err error, end time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.slowest = max(p.slowest, took)
	if err != nil {
		p.failed++
		p.lastErr = err
		return
	}
	inAttack := !p.attackStart.IsZero() && end.After(p.attackStart) &&
		(p.attackEnd.IsZero() || !end.After(p.attackEnd))
	if !inAttack {
		return
	}
	p.ok++
	if p.ok == 1 {
		close(p.served)
	}
}

func (p *prober) call() (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	start := time.Now()
	out := new(wrapperspb.StringValue)
	err := p.cc.Invoke(ctx, "/attack.Echo/Unary", wrapperspb.String("probe"), out)
	if err == nil && out.Value != "probe" {
		err = errors.New("probe: wrong echo " + out.Value)
	}
	return time.Since(start), err
}

// finish stops the prober and waits for its last call.
func (p *prober) finish() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
}

// check ends the attack window, stops the prober and asserts that the
// well-behaved client was served during the attack and still is. An
// attack may be over in less than the prober's period, so the window is
// held open until one call has ended inside it, for at most the time one
// call may take: a call that fails or never comes leaves the count at
// zero.
func (p *prober) check(t *testing.T) {
	t.Helper()
	select {
	case <-p.served:
	case <-p.done:
	case <-time.After(probeTimeout + time.Second):
	}
	p.mu.Lock()
	p.attackEnd = time.Now()
	p.mu.Unlock()
	p.finish()
	took, err := p.call()
	p.mu.Lock()
	defer p.mu.Unlock()
	t.Logf("well-behaved client: %d calls served during the attack (%v), %d failed, slowest %v; after: %v in %v",
		p.ok, p.attackEnd.Sub(p.attackStart).Round(time.Millisecond), p.failed,
		p.slowest.Round(time.Millisecond), err, took.Round(time.Millisecond))
	assert.Positive(t, p.ok, "no call was served during the attack")
	assert.Zero(t, p.failed, "calls failed, last: %v", p.lastErr)
	assert.NoError(t, err, "call after the attack")
}

// usage is a snapshot of the process's resources.
type usage struct {
	heap       uint64 // HeapInuse after a full GC
	goroutines int
}

func measure() usage {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return usage{heap: m.HeapInuse, goroutines: runtime.NumGoroutine()}
}

// Limits on what an attack may add to the baseline: several times what
// an attacked connection legitimately holds (its buffers, a few streams
// and handlers), and well under what keeping any of these attacks would
// take (tens of megabytes for the floods, gigabytes for the HPACK bomb
// and the 4 GiB message).
const (
	heapSlack      = 8 << 20
	goroutineSlack = 48
)

// checkUsage asserts that now stays within the slacks of base.
func checkUsage(t *testing.T, label string, base, now usage, heapLimit uint64, goroutineLimit int) {
	t.Helper()
	t.Logf("%s: heap in use %.2f MiB (baseline %.2f MiB, %+.2f MiB), goroutines %d (baseline %d, %+d)",
		label, mib(now.heap), mib(base.heap), mib(now.heap)-mib(base.heap),
		now.goroutines, base.goroutines, now.goroutines-base.goroutines)
	assert.LessOrEqual(t, now.heap, base.heap+heapLimit, "%s: heap grew by more than %.0f MiB", label, mib(heapLimit))
	assert.LessOrEqual(t, now.goroutines, base.goroutines+goroutineLimit, "%s: more than %d extra goroutines", label, goroutineLimit)
}

// idleWorkers is how many handler goroutines the server keeps for reuse
// (server.New: 4 per GOMAXPROCS): an attack that ran many handlers
// leaves them behind, parked.
var idleWorkers = 4 * runtime.GOMAXPROCS(0)

// settle waits until the goroutine count is back near base (connections
// and handlers wind down asynchronously) and checks the usage: what is
// left is the server's idle workers and a few runtime goroutines.
func settle(t *testing.T, label string, base usage) {
	t.Helper()
	limit := idleWorkers + 4
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base.goroutines+limit && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	checkUsage(t, label, base, measure(), heapSlack, limit)
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }
