package main

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
)

// config is one run of the driver, as the flags set it.
type config struct {
	duration time.Duration // measured time per pair, round and workload
	warmup   time.Duration // unmeasured load before each measurement
	rounds   int
	maxOps   int           // bound on operations per measurement, all workers together
	grace    time.Duration // how long past its duration a measurement may run before it is abandoned
	pairs    []pair
	progress func(format string, args ...any) // status lines (stderr); nil for none
	// inProcess measures in this process instead of a child per
	// measurement (measureIsolated): what a profile of the run needs.
	inProcess bool
}

// pairResult is one pair on one workload: every round and their medians.
type pairResult struct {
	Pair   pair     `json:"pair"`
	Rounds []sample `json:"rounds"`
	Median sample   `json:"median"`
	// Spread is (max-min)/median of throughput over the rounds.
	Spread float64 `json:"throughput_spread"`
	// ThroughputVsGRPC is this pair's median throughput ÷ grpc→grpc's
	// (> 1: faster); P50VsGRPC is its median p50 ÷ grpc→grpc's (< 1:
	// lower latency). Zero when grpc→grpc did not run.
	ThroughputVsGRPC float64 `json:"throughput_vs_grpc"`
	P50VsGRPC        float64 `json:"p50_vs_grpc"`
}

// ratios compare the h2rpc→h2rpc pair with the grpc→grpc pair, h2rpc on
// top: throughput above 1 means h2rpc is faster; every other ratio
// (latency, allocations, bytes, CPU) below 1 means h2rpc needs less.
type ratios struct {
	Throughput float64 `json:"throughput"`
	P50        float64 `json:"p50"`
	P99        float64 `json:"p99"`
	Allocs     float64 `json:"allocs_per_op"`
	Bytes      float64 `json:"bytes_per_op"`
	CPU        float64 `json:"cpu_per_op"`
}

type workloadResult struct {
	Workload workload     `json:"workload"`
	Results  []pairResult `json:"results"`
	// H2rpcOverGRPC is h2rpc→h2rpc ÷ grpc→grpc; see ratios.
	H2rpcOverGRPC ratios  `json:"h2rpc_over_grpc"`
	Seconds       float64 `json:"wall_seconds"`
}

// runWorkload measures w for every pair, interleaved: round 1 runs each
// pair once, then round 2, and so on, so that drift of the machine spreads
// over all pairs instead of biasing one. Each round starts one pair later
// than the round before, so no pair always runs first (right after the
// previous workload) or last.
func runWorkload(cfg config, w workload) workloadResult {
	start := time.Now()
	rounds := make([][]sample, len(cfg.pairs))
	for r := range cfg.rounds {
		for k := range cfg.pairs {
			i := (r + k) % len(cfg.pairs)
			p := cfg.pairs[i]
			if cfg.progress != nil {
				cfg.progress("%-20s round %d/%d %s", w.Name, r+1, cfg.rounds, p.Label)
			}
			if cfg.inProcess {
				rounds[i] = append(rounds[i], measure(cfg, w, p))
			} else {
				rounds[i] = append(rounds[i], measureIsolated(cfg, w, p))
			}
		}
	}
	res := workloadResult{Workload: w, Seconds: time.Since(start).Seconds()}
	var grpcMed *sample
	for i, p := range cfg.pairs {
		pr := pairResult{Pair: p, Rounds: rounds[i], Median: summarize(rounds[i]), Spread: spread(rounds[i])}
		res.Results = append(res.Results, pr)
		if p.ID == "grpc" {
			grpcMed = &res.Results[len(res.Results)-1].Median
		}
	}
	if grpcMed != nil {
		for i := range res.Results {
			m := res.Results[i].Median
			res.Results[i].ThroughputVsGRPC = ratio(m.OpsPerSec, grpcMed.OpsPerSec)
			res.Results[i].P50VsGRPC = ratio(m.P50us, grpcMed.P50us)
			if res.Results[i].Pair.ID == "h2rpc" {
				res.H2rpcOverGRPC = ratios{
					Throughput: ratio(m.OpsPerSec, grpcMed.OpsPerSec),
					P50:        ratio(m.P50us, grpcMed.P50us),
					P99:        ratio(m.P99us, grpcMed.P99us),
					Allocs:     ratio(m.AllocsPerOp, grpcMed.AllocsPerOp),
					Bytes:      ratio(m.BytesPerOp, grpcMed.BytesPerOp),
					CPU:        ratio(m.CPUusPerOp, grpcMed.CPUusPerOp),
				}
			}
		}
	}
	return res
}

// measure sets p up for w, warms it up, measures it once and tears it down.
// Failures are reported in the sample, never fatal: one broken pair must
// not stop the others.
func measure(cfg config, w workload, p pair) sample {
	// Calls carry no deadline (a grpc-timeout header would add a timer per
	// call on both runtimes); the watchdog below cancels ctx instead.
	limit := cfg.warmup + cfg.duration + cfg.grace
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fail := func(err error) sample {
		return sample{Errors: 1, FirstError: fmt.Sprintf("%s: %v", p.Label, err)}
	}
	var s sample
	var f *fixture
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		var err error
		// Calls run on load, which the measurement cancels once its
		// window has closed: what is still in flight then is not
		// counted, and waiting for it would only lengthen the run.
		load, abort := context.WithCancel(ctx)
		defer abort()
		if f, err = prepare(load, w, p); err != nil {
			s = fail(err)
			return
		}
		s = runLoad(f, len(f.workers), cfg.warmup, cfg.duration, cfg.maxOps, w.waveBound(), abort)
		s.MBPerSec = s.OpsPerSec * float64(w.bytesPerOp()) / 1e6
		if s.FirstError != "" {
			s.FirstError = p.Label + ": " + s.FirstError
		}
	}()
	select {
	case <-finished:
	case <-time.After(limit):
		cancel()
		select {
		case <-finished:
		case <-time.After(5 * time.Second):
			// Calls ignore cancellation: leave them, and the fixture,
			// behind rather than hang the whole run.
			return fail(fmt.Errorf("bench: measurement still running %v after its %v limit; abandoned", 5*time.Second, limit))
		}
		if s.Errors == 0 {
			s = fail(fmt.Errorf("bench: measurement exceeded its %v limit", limit))
		}
	}
	if f == nil {
		return s
	}
	cleaned := make(chan struct{})
	go func() { f.cleanup(); close(cleaned) }()
	select {
	case <-cleaned:
	case <-time.After(cfg.grace):
		cancel()
		s.Errors++
		if s.FirstError == "" {
			s.FirstError = fmt.Sprintf("%s: bench: tearing down took longer than %v", p.Label, cfg.grace)
		}
	}
	return s
}

// workerTally is what one worker did in one load run.
type workerTally struct {
	ops, errors uint64
	preOps      uint64        // operations that ended before the window opened
	inWindow    bool          // hist holds only operations in the window
	busy        time.Duration // summed latency of the counted operations
	err         error
	hist        *histogram
}

// runLoad runs the first n workers of f and measures a steady window of
// about d: it opens once every worker has finished its first operation and
// at least warm has passed (so connections, windows, pools and the heap
// have met the full concurrency before anything counts: the warm-up), and
// closes d later, or half as long after as it took to open if that is
// longer (large calls at high concurrency move in waves, and the window
// must hold about one), or earlier if a worker runs out of its share of maxOps; then
// it calls abort (if not nil) to end the operations still running, whose
// errors do not count. Operations that end inside the window are counted
// and their latencies recorded; CPU time and allocations are read at both
// edges. Timing to the last worker's end instead would fold the first cold
// wave and the draining tail into the figures. With wave (workloads that
// put over 1 GiB in flight), no affordable window holds a steady share of
// the calls, and the sample is the first wave instead (Wave). Each worker stops at its
// first operation that ends after the window closes, or at an error.
// Client and server share the process, so allocations and CPU are theirs
// together.
func runLoad(f *fixture, n int, warm, d time.Duration, maxOps int, wave bool, abort func()) sample {
	perWorker := max(1, maxOps/n)
	tallies := make([]workerTally, n)
	for i := range tallies {
		tallies[i].hist = new(histogram)
	}
	start := make(chan struct{})
	done := make(chan struct{}, n)
	var (
		base      = time.Now()
		firsts    atomic.Int64 // workers past their first operation
		allFirst  = make(chan struct{})
		opened    = make(chan struct{}) // closed when the window opens or is given up
		exhausted = make(chan struct{}, n)
		// The window as offsets from base; both stay at notYet until
		// every worker has done one operation.
		openAt, closeAt atomic.Int64
		aborted         atomic.Bool // abort has been called
	)
	const notYet = math.MaxInt64
	openAt.Store(notYet)
	closeAt.Store(notYet)
	for i, op := range f.workers[:n] {
		go func() {
			defer func() { done <- struct{}{} }()
			t := &tallies[i]
			<-start
			begin := time.Since(base)
			for k := 0; ; k++ {
				if k == perWorker && openAt.Load() == notYet {
					// As many operations before the window as in it,
					// at most: wait for the slowest worker here.
					<-opened
					begin = time.Since(base)
				}
				err := op()
				end := time.Since(base)
				if k == 0 && firsts.Add(1) == int64(n) {
					close(allFirst)
				}
				if int64(end) > closeAt.Load() || err != nil && aborted.Load() {
					return // the window has closed: this one does not count
				}
				if err != nil {
					t.errors++
					t.err = err
					return
				}
				if int64(end) <= openAt.Load() {
					// Before the window: kept for a wave (see below).
					t.preOps++
					t.hist.record(end - begin)
					begin = end
					continue
				}
				if !t.inWindow {
					*t.hist = histogram{} // the window's alone from here
				}
				t.inWindow = true
				t.ops++
				t.busy += end - begin
				t.hist.record(end - begin)
				if t.ops == uint64(perWorker) {
					exhausted <- struct{}{}
					return
				}
				begin = end
			}
		}()
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	cpu0 := cpuTime()
	var cpu1, t0, t1 time.Duration
	close(start)

	finished := 0
	select {
	case <-allFirst:
	case <-done:
		// A worker failed before every worker had done an operation:
		// the load never became steady.
		finished++
	}
	if finished == 0 && wave {
		// Large calls at high concurrency, started together, complete
		// in waves of seconds: no window the run can afford holds a
		// steady share of them, so this measures the first wave itself:
		// every call that ended since the start, over the time the last
		// worker's first call took.
		first := time.Since(base)
		closeAt.Store(int64(first))
		close(opened)
		t1 = first
		cpu1 = cpuTime()
		runtime.ReadMemStats(&m1)
		if abort != nil {
			aborted.Store(true)
			abort()
		}
	} else if finished == 0 {
		if left := warm - time.Since(base); left > 0 {
			time.Sleep(left)
		}
		runtime.ReadMemStats(&m0)
		cpu0 = cpuTime()
		t0 = time.Since(base)
		// When operations take longer than d, a window of d would see
		// only the calls that happen to end in it: it lasts half as
		// long as the first wave took (the first is cold; a steady one
		// takes about that long).
		d = max(d, t0/2)
		closeAt.Store(int64(t0 + d))
		openAt.Store(int64(t0))
		close(opened)
		timer := time.NewTimer(d)
		select {
		case <-timer.C:
		case <-exhausted:
			closeAt.Store(int64(time.Since(base)))
		}
		timer.Stop()
		t1 = time.Duration(closeAt.Load())
		cpu1 = cpuTime()
		runtime.ReadMemStats(&m1)
		if abort != nil {
			aborted.Store(true)
			abort()
		}
	} else {
		closeAt.Store(0)
		close(opened)
	}
	for ; finished < n; finished++ {
		<-done
	}

	var s sample
	var busy time.Duration
	all := new(histogram)
	for _, t := range tallies {
		if wave {
			t.ops = t.preOps
		}
		s.Ops += t.ops
		s.Errors += t.errors
		if t.err != nil && s.FirstError == "" {
			s.FirstError = t.err.Error()
		}
		busy += t.busy
		all.merge(t.hist)
	}
	s.Seconds = (t1 - t0).Seconds()
	if s.Ops == 0 {
		if s.Errors == 0 {
			s.Errors, s.FirstError = 1, "bench: no operation completed"
		}
		return s
	}
	if wave {
		s.Wave = true
		s.OpsPerSec = float64(s.Ops) / s.Seconds
	} else {
		// Throughput by Little's law: n workers, each always in one
		// operation, complete n per mean latency. Over a long window
		// this is the count of completions per second; when one
		// operation takes about as long as the window, the count
		// depends on where the window falls among waves of
		// completions, and the mean latency of those that did complete
		// does not.
		s.OpsPerSec = float64(n) * float64(s.Ops) / busy.Seconds()
	}
	// Per-operation costs are the measured time's totals divided by the
	// operations that throughput says it held.
	perOp := 1 / (s.OpsPerSec * s.Seconds)
	s.P50us = all.quantile(0.50) / 1e3
	s.P90us = all.quantile(0.90) / 1e3
	s.P99us = all.quantile(0.99) / 1e3
	s.AllocsPerOp = float64(m1.Mallocs-m0.Mallocs) * perOp
	s.BytesPerOp = float64(m1.TotalAlloc-m0.TotalAlloc) * perOp
	s.CPUusPerOp = float64(cpu1-cpu0) / float64(time.Microsecond) * perOp
	return s
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
