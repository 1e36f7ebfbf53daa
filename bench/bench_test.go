package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMain lets the idle-connection measurement re-run the test binary as
// its child processes.
func TestMain(m *testing.M) {
	if runChild() {
		return
	}
	os.Exit(m.Run())
}

// TestDriverQuick runs the driver end to end on one small workload and a
// few idle connections, and checks that every pair produced numbers and
// that the JSON and SVG files are valid.
func TestDriverQuick(t *testing.T) {
	dir := t.TempDir()
	o, err := parseFlags([]string{"-quick", "-workloads", "unary-100B-c1,idle", "-duration", "100ms",
		"-idle-conns", "20", "-json", filepath.Join(dir, "results.json")})
	require.NoError(t, err)
	var out bytes.Buffer
	rep, err := drive(o, &out, io.Discard)
	require.NoError(t, err)

	require.Len(t, rep.Workloads, 1)
	wr := rep.Workloads[0]
	require.Len(t, wr.Results, len(allPairs))
	for _, pr := range wr.Results {
		m := pr.Median
		assert.Zero(t, m.Errors, "%s: %s", pr.Pair.Label, m.FirstError)
		assert.Len(t, pr.Rounds, 3, pr.Pair.Label)
		assert.Positive(t, m.OpsPerSec, pr.Pair.Label)
		assert.Positive(t, m.MBPerSec, pr.Pair.Label)
		assert.Positive(t, m.P50us, pr.Pair.Label)
		assert.GreaterOrEqual(t, m.P99us, m.P50us, pr.Pair.Label)
		assert.Positive(t, m.CPUusPerOp, pr.Pair.Label)
		if pr.Pair.ID != "raw" {
			assert.Positive(t, m.AllocsPerOp, pr.Pair.Label)
			assert.Positive(t, m.BytesPerOp, pr.Pair.Label)
		}
	}
	q := wr.H2rpcOverGRPC
	for name, v := range map[string]float64{"throughput": q.Throughput, "p50": q.P50, "p99": q.P99, "allocs": q.Allocs, "CPU": q.CPU} {
		assert.Positive(t, v, "h2rpc÷grpc %s", name)
	}

	require.Len(t, rep.Idle, len(allPairs))
	for _, ir := range rep.Idle {
		assert.Empty(t, ir.Client.Error, ir.Pair.Label)
		assert.Empty(t, ir.Server.Error, ir.Pair.Label)
		assert.Equal(t, 20, ir.Client.Conns, ir.Pair.Label)
		assert.Equal(t, 20, ir.Server.Conns, ir.Pair.Label)
		assert.Positive(t, ir.Client.SetupSeconds, ir.Pair.Label)
	}

	text := out.String()
	for _, want := range []string{"command:", "GOMAXPROCS:", "== unary-100B-c1", "h2rpc÷grpc-go:", "== idle:", "raw TCP"} {
		assert.Contains(t, text, want)
	}

	b, err := os.ReadFile(o.jsonPath)
	require.NoError(t, err)
	var back report
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Len(t, back.Workloads, 1)
	assert.Len(t, back.Idle, len(allPairs))
	assert.Equal(t, rep.Workloads[0].Results[0].Median.OpsPerSec, back.Workloads[0].Results[0].Median.OpsPerSec)

	svg, err := os.ReadFile(filepath.Join(dir, "results.svg"))
	require.NoError(t, err)
	dec := xml.NewDecoder(bytes.NewReader(svg))
	var rects int
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "rect" {
			rects++
		}
	}
	assert.Greater(t, rects, 2*len(allPairs))
	for _, p := range allPairs {
		assert.Contains(t, string(svg), p.Label)
	}
}

func TestHistogramQuantiles(t *testing.T) {
	h := new(histogram)
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	for _, tc := range []struct {
		q    float64
		want float64 // ns
	}{{0.5, 500e3}, {0.9, 900e3}, {0.99, 990e3}, {1, 1000e3}} {
		assert.InEpsilon(t, tc.want, h.quantile(tc.q), 0.03, "q=%v", tc.q)
	}
	assert.Zero(t, new(histogram).quantile(0.5))

	prev := -1
	for _, ns := range []uint64{0, 1, 63, 64, 65, 127, 128, 1e3, 1e6, 1e9, 1e12, 1 << 62, 1<<64 - 1} {
		b := bucketOf(ns)
		require.Less(t, b, len(h.counts), "ns=%d", ns)
		assert.GreaterOrEqual(t, b, prev, "ns=%d", ns)
		if ns < 1<<62 {
			assert.InEpsilon(t, float64(ns)+1, bucketMid(b)+1, 0.04, "ns=%d", ns)
		}
		prev = b
	}
}

func TestSelect(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		pairs     int
		workloads []string
	}{
		{[]string{"-workloads", "unary-*-c1"}, 5, []string{"unary-0B-c1", "unary-100B-c1", "unary-1KiB-c1", "unary-64KiB-c1", "unary-1MiB-c1"}},
		{[]string{"-workloads", "sstream,connsetup", "-pairs", "h2rpc,raw"}, 2, []string{"sstream-16KiB", "sstream-1MiB", "connsetup"}},
		{[]string{"-workloads", "idle", "-cpuprofile", "x"}, 1, []string{"idle"}},
	} {
		o, err := parseFlags(tc.args)
		require.NoError(t, err)
		ps, ws, err := selectRun(o)
		require.NoError(t, err, tc.args)
		assert.Len(t, ps, tc.pairs, tc.args)
		var names []string
		for _, w := range ws {
			names = append(names, w.Name)
		}
		assert.Equal(t, tc.workloads, names, tc.args)
	}
	o, err := parseFlags([]string{"-workloads", "nope"})
	require.NoError(t, err)
	_, _, err = selectRun(o)
	assert.Error(t, err)

	o, err = parseFlags([]string{"-quick"})
	require.NoError(t, err)
	_, ws, err := selectRun(o)
	require.NoError(t, err)
	assert.Len(t, ws, 8)
	assert.True(t, strings.HasSuffix(o.svgPath, "results.svg"))
}

func TestStreamRequest(t *testing.T) {
	c, s, err := parseStreamRequest(streamRequest(512, 16<<10).Value)
	require.NoError(t, err)
	assert.Equal(t, []int{512, 16 << 10}, []int{c, s})
	_, _, err = parseStreamRequest([]byte{1, 2, 3})
	assert.Error(t, err)
	_, _, err = parseStreamRequest(streamRequest(1<<30, 1).Value)
	assert.Error(t, err)
}

// TestRawBulkIsAFloor checks that the raw TCP bulk baseline only moves
// bytes: it builds its frame once per connection and allocates nothing
// per message, so it stays the floor that both runtimes are held to.
func TestRawBulkIsAFloor(t *testing.T) {
	o, err := parseFlags([]string{"-workloads", "sstream-1MiB", "-pairs", "raw", "-rounds", "1",
		"-duration", "200ms", "-json", filepath.Join(t.TempDir(), "results.json")})
	require.NoError(t, err)
	rep, err := drive(o, io.Discard, io.Discard)
	require.NoError(t, err)
	require.Len(t, rep.Workloads, 1)
	m := rep.Workloads[0].Results[0].Median
	require.Zero(t, m.Errors, m.FirstError)
	require.Positive(t, m.OpsPerSec)
	// A frame rebuilt per request costs about 3 MiB per 8 messages
	// (400 KB per message); what is left is the measurement's own noise.
	assert.Less(t, m.BytesPerOp, float64(16<<10), "raw bulk allocates per message")
}

// TestMeasureIsolatedReportsAFailingChild: a measuring child that dies
// (here: a pair naming no runtime) is one failed sample with the child's
// last words, not a crash or a hang of the driver.
func TestMeasureIsolatedReportsAFailingChild(t *testing.T) {
	cfg := config{duration: 50 * time.Millisecond, warmup: 10 * time.Millisecond, maxOps: 100, grace: 5 * time.Second}
	w := allWorkloads()[0]
	s := measureIsolated(cfg, w, pair{ID: "none", Label: "none→none", Client: "none", Server: "none"})
	assert.Equal(t, uint64(1), s.Errors)
	assert.Contains(t, s.FirstError, "none→none: bench: measuring child")
	assert.Zero(t, s.Ops)

	s = measureIsolated(cfg, w, allPairs[0])
	assert.Zero(t, s.Errors, s.FirstError)
	assert.Positive(t, s.Ops)
}
