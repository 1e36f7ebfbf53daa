package main

import (
	"math"
	"math/bits"
	"slices"
	"time"
)

// histogram counts latencies in log-linear buckets: values below 64 ns
// exactly, above that 32 buckets per power of two (about 3 % wide). It is
// a fixed array so that recording allocates nothing.
type histogram struct {
	counts [60 * 32]uint64
	total  uint64
}

func bucketOf(ns uint64) int {
	if ns < 64 {
		return int(ns)
	}
	shift := bits.Len64(ns) - 6
	return shift*32 + int(ns>>shift)
}

// bucketMid is the middle of bucket b, in nanoseconds.
func bucketMid(b int) float64 {
	if b < 64 {
		return float64(b)
	}
	shift := b/32 - 1
	lo := uint64(b-shift*32) << shift
	return float64(lo) + float64(uint64(1)<<shift)/2
}

func (h *histogram) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d))]++
	h.total++
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
}

// quantile returns the q-quantile (0 < q ≤ 1) in nanoseconds, or 0 if the
// histogram is empty.
func (h *histogram) quantile(q float64) float64 {
	if h.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.total)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		if seen += c; seen >= rank {
			return bucketMid(i)
		}
	}
	return bucketMid(len(h.counts) - 1)
}

// sample is one measurement of one pair on one workload.
type sample struct {
	Ops         uint64  `json:"ops"`
	Errors      uint64  `json:"errors"`
	Seconds     float64 `json:"seconds"`
	OpsPerSec   float64 `json:"ops_per_sec"`
	MBPerSec    float64 `json:"mb_per_sec"` // payload, 1e6 bytes
	P50us       float64 `json:"p50_us"`
	P90us       float64 `json:"p90_us"`
	P99us       float64 `json:"p99_us"`
	AllocsPerOp float64 `json:"allocs_per_op"` // client and server together
	BytesPerOp  float64 `json:"bytes_per_op"`  // client and server together
	CPUusPerOp  float64 `json:"cpu_us_per_op"` // whole process: client and server
	FirstError  string  `json:"first_error,omitempty"`
	// Wave: one wave of calls started together was measured, not a
	// steady window (see runLoad).
	Wave bool `json:"wave,omitempty"`
}

// clean is the rounds that ran without an error: only they count towards
// medians and spread, since a failed round's figures (a partial window, a
// zeroed child) would pull them down.
func clean(rounds []sample) []sample {
	var ok []sample
	for _, r := range rounds {
		if r.Errors == 0 {
			ok = append(ok, r)
		}
	}
	return ok
}

// summarize takes the median of every metric over the rounds without
// errors, each metric on its own; Ops and Errors are summed over all.
func summarize(rounds []sample) sample {
	var s sample
	for _, r := range rounds {
		s.Ops += r.Ops
		s.Errors += r.Errors
		s.Wave = s.Wave || r.Wave
		if s.FirstError == "" {
			s.FirstError = r.FirstError
		}
	}
	ok := clean(rounds)
	if len(ok) == 0 {
		return s
	}
	med := func(f func(sample) float64) float64 {
		v := make([]float64, 0, len(ok))
		for _, r := range ok {
			v = append(v, f(r))
		}
		return median(v)
	}
	s.Seconds = med(func(r sample) float64 { return r.Seconds })
	s.OpsPerSec = med(func(r sample) float64 { return r.OpsPerSec })
	s.MBPerSec = med(func(r sample) float64 { return r.MBPerSec })
	s.P50us = med(func(r sample) float64 { return r.P50us })
	s.P90us = med(func(r sample) float64 { return r.P90us })
	s.P99us = med(func(r sample) float64 { return r.P99us })
	s.AllocsPerOp = med(func(r sample) float64 { return r.AllocsPerOp })
	s.BytesPerOp = med(func(r sample) float64 { return r.BytesPerOp })
	s.CPUusPerOp = med(func(r sample) float64 { return r.CPUusPerOp })
	return s
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// spread is (max-min)/median of throughput over the rounds without
// errors: how much the machine drifted while this pair ran.
func spread(rounds []sample) float64 {
	rounds = clean(rounds)
	if len(rounds) < 2 {
		return 0
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	v := make([]float64, 0, len(rounds))
	for _, r := range rounds {
		lo, hi = min(lo, r.OpsPerSec), max(hi, r.OpsPerSec)
		v = append(v, r.OpsPerSec)
	}
	m := median(v)
	if m == 0 {
		return 0
	}
	return (hi - lo) / m
}

// ratio is a/b, or 0 when either is missing.
func ratio(a, b float64) float64 {
	if a == 0 || b == 0 {
		return 0
	}
	return a / b
}
