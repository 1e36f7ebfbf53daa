package cases

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/h2rpc/h2rpc/client"
	pb "github.com/h2rpc/h2rpc/interop/grpc_testing"
)

// SoakConfig configures rpc_soak and channel_soak. DefaultSoakConfig holds
// the interop client's defaults.
type SoakConfig struct {
	// Iterations is the number of large-unary RPCs across all workers.
	Iterations int
	// MaxFailures is how many iterations may fail (error or too slow)
	// before the case does.
	MaxFailures int
	// PerIterationMaxLatency is the slowest an iteration may be and still count
	// as a success.
	PerIterationMaxLatency time.Duration
	// OverallTimeout bounds the whole case; iterations not started by then
	// are not run, and the case fails.
	OverallTimeout time.Duration
	// MinTimeBetweenRPCs is the least time between the starts of two
	// iterations of one worker.
	MinTimeBetweenRPCs time.Duration
	// RequestSize and ResponseSize are the payload sizes of each RPC.
	RequestSize, ResponseSize int
	// Workers is the number of goroutines that share the iterations.
	Workers int
}

// DefaultSoakConfig returns the defaults of the interop client's soak flags.
func DefaultSoakConfig() SoakConfig {
	return SoakConfig{
		Iterations:             10,
		MaxFailures:            0,
		PerIterationMaxLatency: 1000 * time.Millisecond,
		OverallTimeout:         10 * time.Second,
		MinTimeBetweenRPCs:     0,
		RequestSize:            largeReqSize,
		ResponseSize:           largeRespSize,
		Workers:                1,
	}
}

// RPCSoak runs the soak iterations on env.Conn, one connection for all.
func RPCSoak(ctx context.Context, env *Env) error {
	return soak(ctx, env, "rpc_soak", func() (client.Conn, func(), error) {
		return env.Conn, func() {}, nil
	})
}

// ChannelSoak runs each soak iteration on a connection of its own, from env.Dial.
func ChannelSoak(ctx context.Context, env *Env) error {
	if env.Dial == nil {
		return errors.New("channel_soak: no way to open new connections (Env.Dial is nil)")
	}
	return soak(ctx, env, "channel_soak", env.Dial)
}

type soakResult struct {
	succeeded, failed int
	latencies         []time.Duration // of the successful iterations
}

func soak(ctx context.Context, env *Env, name string, conn func() (client.Conn, func(), error)) error {
	cfg := env.Soak
	if cfg.Iterations < 0 || cfg.Workers < 1 || cfg.OverallTimeout <= 0 {
		return fmt.Errorf("%s: bad configuration: %d iterations, %d workers, overall timeout %v",
			name, cfg.Iterations, cfg.Workers, cfg.OverallTimeout)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, cfg.OverallTimeout)
	defer cancel()

	results := make([]soakResult, cfg.Workers)
	var wg sync.WaitGroup
	for w := range cfg.Workers {
		// Spread the remainder so that the workers run Iterations in all.
		n := cfg.Iterations / cfg.Workers
		if w < cfg.Iterations%cfg.Workers {
			n++
		}
		wg.Go(func() {
			results[w] = soakWorker(ctx, env, name, w, n, conn)
		})
	}
	wg.Wait()

	var total soakResult
	for _, r := range results {
		total.succeeded += r.succeeded
		total.failed += r.failed
		total.latencies = append(total.latencies, r.latencies...)
	}
	env.logf("%s: %d of %d iterations succeeded, %d failed, in %v; latency of successes %s",
		name, total.succeeded, cfg.Iterations, total.failed, time.Since(start).Round(time.Millisecond), summarize(total.latencies))
	if ran := total.succeeded + total.failed; ran != cfg.Iterations {
		return fmt.Errorf("%s: overall timeout of %v reached after %d of %d iterations", name, cfg.OverallTimeout, ran, cfg.Iterations)
	}
	if total.failed > cfg.MaxFailures {
		return fmt.Errorf("%s: %d iterations failed, more than the %d allowed", name, total.failed, cfg.MaxFailures)
	}
	return nil
}

func soakWorker(ctx context.Context, env *Env, name string, worker, iterations int, conn func() (client.Conn, func(), error)) soakResult {
	cfg := env.Soak
	var r soakResult
	for i := range iterations {
		if ctx.Err() != nil {
			return r
		}
		next := time.Now().Add(cfg.MinTimeBetweenRPCs)
		latency, err := soakIteration(ctx, env, conn)
		switch {
		case err != nil:
			r.failed++
			env.logf("%s: worker %d iteration %d failed: %v", name, worker, i, err)
		case latency > cfg.PerIterationMaxLatency:
			r.failed++
			env.logf("%s: worker %d iteration %d took %v, more than the %v allowed", name, worker, i, latency, cfg.PerIterationMaxLatency)
		default:
			r.succeeded++
			r.latencies = append(r.latencies, latency)
		}
		if d := time.Until(next); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return r
			}
		}
	}
	return r
}

// soakIteration is one large-unary RPC, on a connection from conn; the time
// taken includes opening that connection.
func soakIteration(ctx context.Context, env *Env, conn func() (client.Conn, func(), error)) (time.Duration, error) {
	start := time.Now()
	cc, closeConn, err := conn()
	if err != nil {
		return 0, fmt.Errorf("opening a connection: %w", err)
	}
	defer closeConn()
	tc := pb.NewTestServiceClient(cc)
	if err := largeUnary(ctx, tc, env.Soak.RequestSize, env.Soak.ResponseSize, env.CallOptions...); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// summarize describes a set of latencies by their minimum, median, 90th
// percentile and maximum.
func summarize(ls []time.Duration) string {
	if len(ls) == 0 {
		return "(none)"
	}
	ls = slices.Clone(ls)
	slices.Sort(ls)
	at := func(q float64) time.Duration { return ls[int(q*float64(len(ls)-1))] }
	return fmt.Sprintf("min %v, p50 %v, p90 %v, max %v", ls[0], at(0.5), at(0.9), ls[len(ls)-1])
}
