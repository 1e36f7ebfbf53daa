package main

// Each measurement runs in a fresh child process (this same binary, told
// what to measure by environment variables), so that none inherits what
// an earlier one left behind: a heap grown by 1,024 calls of 1 MiB, pools
// full of large buffers, memory the runtime is still returning to the
// system. Measured in one process after unary-1MiB-c1024,
// pingpong-1KiB-s64 cost the pairs more CPU per operation than with a
// process per measurement: 19 % more in the median of every pair over
// three alternating runs, up to 40 %, the cross pairs hit hardest. The
// child sets the pair up, warms it up, measures it and tears it down
// exactly as an in-process measurement does (measure), then prints the
// sample as JSON on stdout.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"time"
)

// envSpec carries a measureSpec (JSON) to a measuring child.
const envSpec = "H2RPC_BENCH_SPEC"

// measureSpec is what a measuring child needs from the driver's config.
type measureSpec struct {
	Workload workload      `json:"workload"`
	Pair     pair          `json:"pair"`
	Duration time.Duration `json:"duration"`
	Warmup   time.Duration `json:"warmup"`
	MaxOps   int           `json:"max_ops"`
	Grace    time.Duration `json:"grace"`
}

// measureIsolated runs measure for w and p in a child process and returns
// its sample. A child that fails or outlives every limit measure keeps is
// reported as a failed sample, like any other failure.
func measureIsolated(cfg config, w workload, p pair) sample {
	fail := func(err error) sample {
		return sample{Errors: 1, FirstError: fmt.Sprintf("%s: bench: measuring child: %v", p.Label, err)}
	}
	exe, err := os.Executable()
	if err != nil {
		return fail(err)
	}
	spec, err := json.Marshal(measureSpec{Workload: w, Pair: p, Duration: cfg.duration, Warmup: cfg.warmup, MaxOps: cfg.maxOps, Grace: cfg.grace})
	if err != nil {
		return fail(err)
	}
	// measure itself gives up after warm-up, duration, grace and 5 s, and
	// teardown gets another grace: past that the child is stuck.
	limit := cfg.warmup + cfg.duration + 2*cfg.grace + 30*time.Second
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), envChild+"=measure", envSpec+"="+string(spec))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if msg := bytes.TrimSpace(stderr.Bytes()); len(msg) > 0 {
			err = fmt.Errorf("%w: %s", err, lastLine(msg))
		}
		return fail(err)
	}
	var s sample
	if err := json.Unmarshal(out, &s); err != nil {
		return fail(fmt.Errorf("reading its sample: %w", err))
	}
	return s
}

// measureChild is the child's side: it measures what envSpec says and
// prints the sample.
func measureChild() error {
	var spec measureSpec
	if err := json.Unmarshal([]byte(os.Getenv(envSpec)), &spec); err != nil {
		return fmt.Errorf("reading %s: %w", envSpec, err)
	}
	if spec.Workload.Name == "" || spec.Pair.ID == "" {
		return errors.New("no workload or pair to measure")
	}
	cfg := config{duration: spec.Duration, warmup: spec.Warmup, maxOps: spec.MaxOps, grace: spec.Grace}
	return json.NewEncoder(os.Stdout).Encode(measure(cfg, spec.Workload, spec.Pair))
}

// lastLine is the last line of b: a child's error is what it printed last.
func lastLine(b []byte) []byte {
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		return b[i+1:]
	}
	return b
}
