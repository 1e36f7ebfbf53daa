package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sleeper is a fixture whose workers each take a fixed (virtual) time per
// operation; the first operation of worker 0 may take longer.
func sleeper(n int, each, firstOfZero time.Duration) *fixture {
	f := &fixture{cleanup: func() {}}
	for i := range n {
		calls := 0
		f.workers = append(f.workers, func() error {
			calls++
			if i == 0 && calls == 1 {
				time.Sleep(firstOfZero)
			} else {
				time.Sleep(each)
			}
			return nil
		})
	}
	return f
}

// TestRunLoadCountsASteadyWindow: the window opens once every worker has
// finished an operation and counts only what ends inside it, so a slow
// first wave (a cold process meeting its full concurrency) and the tail of
// operations running past the close are not folded into throughput.
func TestRunLoadCountsASteadyWindow(t *testing.T) {
	cases := []struct {
		name              string
		workers           int
		each, firstOfZero time.Duration
		warm, d           time.Duration
		wantOps           uint64
		window            time.Duration
	}{
		// Window [30 ms, 130 ms]: completions at 60, 90, 120 ms each.
		{"steady", 4, 30 * time.Millisecond, 30 * time.Millisecond, 0, 100 * time.Millisecond, 12, 100 * time.Millisecond},
		// The warm-up holds the window back to [100, 200]: completions
		// at 120, 150, 180 ms each.
		{"warm-up", 4, 30 * time.Millisecond, 30 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond, 12, 100 * time.Millisecond},
		// Worker 0's first call takes 500 ms: the window opens then and
		// lasts half as long, [500, 750]; every worker completes 25 in it.
		{"slow first wave", 4, 10 * time.Millisecond, 500 * time.Millisecond, 0, 150 * time.Millisecond, 100, 250 * time.Millisecond},
		// One operation takes longer than d: the window lasts half as
		// long as the first wave did, [600, 900] with a first wave of
		// 600 ms, and counts one per worker.
		{"operation longer than d", 2, 300 * time.Millisecond, 600 * time.Millisecond, 0, 200 * time.Millisecond, 2, 300 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := sleeper(tc.workers, tc.each, tc.firstOfZero)
				s := runLoad(f, tc.workers, tc.warm, tc.d, 1000, false, nil)
				window := tc.window
				assert.Zero(t, s.Errors, s.FirstError)
				assert.Equal(t, tc.wantOps, s.Ops)
				assert.InDelta(t, window.Seconds(), s.Seconds, 1e-9)
				// n workers always busy, each call taking each: n/each,
				// where the count in the window may fall short of it.
				assert.InDelta(t, float64(tc.workers)/tc.each.Seconds(), s.OpsPerSec, 1e-6)
				assert.InDelta(t, tc.each.Seconds()*1e6, s.P50us, tc.each.Seconds()*1e6*0.05)
			})
		})
	}
}

// TestRunLoadMeasuresAWave: for a wave-bound workload the sample is the
// first wave: every call that ended by the time the last first call did,
// over that time, marked as a wave.
func TestRunLoadMeasuresAWave(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Worker 0's first call takes 500 ms, the others' 100 ms each:
		// by 500 ms, 1 + 3×5 calls have ended.
		f := sleeper(4, 100*time.Millisecond, 500*time.Millisecond)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		start := time.Now()
		s := runLoad(f, 4, 0, 100*time.Millisecond, 1000, true, cancel) // as a wave
		assert.Zero(t, s.Errors, s.FirstError)
		assert.True(t, s.Wave)
		assert.Equal(t, uint64(16), s.Ops)
		assert.InDelta(t, 0.5, s.Seconds, 1e-9)
		assert.InDelta(t, 32.0, s.OpsPerSec, 1e-6)
		assert.InDelta(t, 100e3, s.P50us, 5e3)
		assert.Error(t, ctx.Err(), "calls still running were cancelled")
		assert.Equal(t, 600*time.Millisecond, time.Since(start), "the workers' calls in flight ran out")
	})
}

// TestRunLoadBoundsOperations: a worker stops at its share of maxOps in
// the window, which then closes early, and before the window it does no
// more than that share either.
func TestRunLoadBoundsOperations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := sleeper(2, time.Millisecond, 50*time.Millisecond)
		calls := 0
		inner := f.workers[1]
		f.workers[1] = func() error { calls++; return inner() }
		s := runLoad(f, 2, 0, time.Second, 20, false, nil)
		// Worker 1 did 10 calls before the window opened at 50 ms (then
		// waited) and 10 in it, to 60 ms, where it closed the window;
		// worker 0's first call ended as the window opened (not
		// counted) and it did 10 more in it.
		assert.Equal(t, 20, calls)
		assert.InDelta(t, 0.010, s.Seconds, 1e-9)
		assert.Equal(t, uint64(10+10), s.Ops)
	})
}

// TestRunLoadAbortsTheTail: when the window closes, the operations still
// running are aborted, and the errors that ends them do not count.
func TestRunLoadAbortsTheTail(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		f := &fixture{cleanup: func() {}}
		for range 3 {
			f.workers = append(f.workers, func() error {
				select {
				case <-time.After(30 * time.Millisecond):
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})
		}
		start := time.Now()
		s := runLoad(f, 3, 0, 100*time.Millisecond, 1000, false, cancel)
		assert.Zero(t, s.Errors, s.FirstError)
		assert.Equal(t, uint64(3*3), s.Ops) // at 60, 90 and 120 ms
		assert.Equal(t, 130*time.Millisecond, time.Since(start), "returned when the window closed")
	})
}

// TestRunLoadFailedFirstOperation: a worker that fails before the load is
// steady leaves no window and an error, not a hang.
func TestRunLoadFailedFirstOperation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := sleeper(3, time.Millisecond, time.Millisecond)
		f.workers[2] = func() error { time.Sleep(time.Millisecond); return errors.New("refused") }
		s := runLoad(f, 3, 0, time.Second, 1000, false, nil)
		assert.Equal(t, uint64(1), s.Errors)
		assert.Equal(t, "refused", s.FirstError)
	})
}

// TestSummarizeLeavesOutFailedRounds: a round with errors (a partial
// window, a dead child) counts towards errors but not towards medians.
func TestSummarizeLeavesOutFailedRounds(t *testing.T) {
	rounds := []sample{
		{Ops: 100, OpsPerSec: 1000, P50us: 10},
		{Ops: 0, Errors: 1, FirstError: "child died"},
		{Ops: 120, OpsPerSec: 1200, P50us: 12},
	}
	s := summarize(rounds)
	assert.Equal(t, 1100.0, s.OpsPerSec)
	assert.Equal(t, 11.0, s.P50us)
	assert.Equal(t, uint64(1), s.Errors)
	assert.Equal(t, uint64(220), s.Ops)
	assert.InDelta(t, 200.0/1100, spread(rounds), 1e-9)
	assert.Zero(t, summarize(rounds[1:2]).OpsPerSec)
}

// TestReadEcho: one frame from an echo peer, whatever the reads return.
func TestReadEcho(t *testing.T) {
	frame := func(n int) []byte {
		b := binary.BigEndian.AppendUint32([]byte{0}, uint32(n))
		return append(b, bytes.Repeat([]byte{7}, n)...)
	}
	cases := []struct {
		name    string
		in      []byte
		bufCap  int
		chunk   int // bytes per Read; 0 for all at once
		want    []byte
		wantErr string
	}{
		{"empty message", frame(0), 512, 0, frame(0), ""},
		{"whole frame in one read", frame(100), 512, 0, frame(100), ""},
		{"one byte per read", frame(100), 512, 1, frame(100), ""},
		{"larger than the buffer", frame(4000), 512, 0, frame(4000), ""},
		{"no buffer", frame(3), 0, 0, frame(3), ""},
		{"short header", []byte{0, 0}, 512, 0, nil, "unexpected EOF"},
		{"short body", frame(100)[:50], 512, 0, nil, "unexpected EOF"},
		{"two frames at once", append(frame(1), frame(1)...), 512, 0, nil, "6 bytes past its frame"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var r io.Reader = bytes.NewReader(tc.in)
			if tc.chunk > 0 {
				r = &chunkReader{r: r, n: tc.chunk}
			}
			got, err := readEcho(r, make([]byte, 0, tc.bufCap))
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

type chunkReader struct {
	r io.Reader
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	return c.r.Read(p[:min(len(p), c.n)])
}

// TestWaveBoundWorkloads: only the workload with over 1 GiB in flight is
// measured as a wave.
func TestWaveBoundWorkloads(t *testing.T) {
	var waves []string
	for _, w := range allWorkloads() {
		if w.waveBound() {
			waves = append(waves, w.Name)
		}
	}
	assert.Equal(t, []string{"unary-1MiB-c1024"}, waves)
}
