package main

import (
	"context"
	"fmt"
	"runtime"
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
// pair once in order, then round 2, and so on, so that drift of the machine
// spreads over all pairs instead of biasing one.
func runWorkload(cfg config, w workload) workloadResult {
	start := time.Now()
	rounds := make([][]sample, len(cfg.pairs))
	for r := range cfg.rounds {
		for i, p := range cfg.pairs {
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
		if f, err = prepare(ctx, w, p); err != nil {
			s = fail(err)
			return
		}
		// Warm up with as many workers as fit in about 256 MiB of payload:
		// enough to open the connections, grow windows and fill the pools
		// of a fresh process for 128 calls of 1 MiB in flight, without a
		// full wave of 1024 one-MiB calls before every round.
		warmers := min(len(f.workers), max(1, (256<<20)/max(w.bytesPerOp(), 1)))
		if s = runLoad(f, warmers, cfg.warmup, cfg.maxOps, false); s.Errors > 0 {
			s.FirstError = p.Label + " (warm-up): " + s.FirstError
			return
		}
		runtime.GC()
		s = runLoad(f, len(f.workers), cfg.duration, cfg.maxOps, true)
		s.MBPerSec = float64(s.Ops) * float64(w.bytesPerOp()) / s.Seconds / 1e6
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
	err         error
	hist        *histogram
}

// runLoad runs the first n workers of f for about d (each stops at the
// first operation that ends after d, at an error, or after its share of
// maxOps) and measures the whole process meanwhile: wall time to the last
// worker's end, latency of each operation, allocations and CPU time. Client
// and server share the process, so allocations and CPU are theirs together.
func runLoad(f *fixture, n int, d time.Duration, maxOps int, record bool) sample {
	perWorker := max(1, maxOps/n)
	tallies := make([]workerTally, n)
	if record {
		for i := range tallies {
			tallies[i].hist = new(histogram)
		}
	}
	start := make(chan struct{})
	done := make(chan struct{}, n)
	var deadline time.Time
	for i, op := range f.workers[:n] {
		go func() {
			defer func() { done <- struct{}{} }()
			t := &tallies[i]
			<-start
			begin := time.Now()
			for range perWorker {
				err := op()
				end := time.Now()
				if t.hist != nil {
					t.hist.record(end.Sub(begin))
				}
				if err != nil {
					t.errors++
					t.err = err
					return
				}
				t.ops++
				if end.After(deadline) {
					return
				}
				begin = end
			}
		}()
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	cpu0 := cpuTime()
	t0 := time.Now()
	deadline = t0.Add(d)
	close(start)
	for range n {
		<-done
	}
	elapsed := time.Since(t0)
	cpu1 := cpuTime()
	runtime.ReadMemStats(&m1)

	var s sample
	all := new(histogram)
	for _, t := range tallies {
		s.Ops += t.ops
		s.Errors += t.errors
		if t.err != nil && s.FirstError == "" {
			s.FirstError = t.err.Error()
		}
		if t.hist != nil {
			all.merge(t.hist)
		}
	}
	s.Seconds = elapsed.Seconds()
	if s.Ops == 0 {
		if s.Errors == 0 {
			s.Errors, s.FirstError = 1, "bench: no operation completed"
		}
		return s
	}
	ops := float64(s.Ops)
	s.OpsPerSec = ops / s.Seconds
	s.P50us = all.quantile(0.50) / 1e3
	s.P90us = all.quantile(0.90) / 1e3
	s.P99us = all.quantile(0.99) / 1e3
	s.AllocsPerOp = float64(m1.Mallocs-m0.Mallocs) / ops
	s.BytesPerOp = float64(m1.TotalAlloc-m0.TotalAlloc) / ops
	s.CPUusPerOp = float64(cpu1-cpu0) / float64(time.Microsecond) / ops
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
