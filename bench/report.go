package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// meta describes the run, printed at the top and stored in the JSON.
type meta struct {
	Command         string   `json:"command"`
	Date            string   `json:"date"`
	GoVersion       string   `json:"go_version"`
	GOOS            string   `json:"goos"`
	GOARCH          string   `json:"goarch"`
	GOMAXPROCS      int      `json:"gomaxprocs"`
	NumCPU          int      `json:"num_cpu"`
	CPU             string   `json:"cpu"`
	Mode            string   `json:"mode"`
	DurationSeconds float64  `json:"duration_seconds"`
	WarmupSeconds   float64  `json:"warmup_seconds"`
	Rounds          int      `json:"rounds"`
	Pairs           []string `json:"pairs"`
	IdleConns       int      `json:"idle_conns"`
	WallSeconds     float64  `json:"wall_seconds"`
	Notes           []string `json:"notes"`
}

var reportNotes = []string{
	"Client and server run in one process: allocs/op, B/op and CPU µs/op count both sides together.",
	"Each metric is the median over the rounds; the pairs run interleaved within each round.",
	"thr÷grpc = this pair's throughput / grpc→grpc's: > 1 is faster. p50÷grpc = this pair's p50 / grpc→grpc's: < 1 is lower latency.",
	"h2rpc÷grpc-go compares h2rpc→h2rpc with grpc→grpc: throughput > 1 and every other ratio < 1 favour h2rpc.",
	"spread = (max-min)/median of throughput over the rounds; a large spread means a noisy machine.",
	"raw TCP moves the same message bytes (5-byte prefix + proto) with no HTTP/2, one connection per worker.",
}

// report is everything one run produced; it is the JSON output.
type report struct {
	Meta      meta             `json:"meta"`
	Workloads []workloadResult `json:"workloads"`
	Idle      []idleResult     `json:"idle,omitempty"`
}

func printHeader(w io.Writer, m meta) {
	fmt.Fprintf(w, "h2rpc benchmark: h2rpc and grpc-go side by side on loopback\n")
	fmt.Fprintf(w, "command:    %s\n", m.Command)
	fmt.Fprintf(w, "date:       %s\n", m.Date)
	fmt.Fprintf(w, "go:         %s %s/%s\n", m.GoVersion, m.GOOS, m.GOARCH)
	fmt.Fprintf(w, "GOMAXPROCS: %d (NumCPU %d)\n", m.GOMAXPROCS, m.NumCPU)
	fmt.Fprintf(w, "cpu:        %s\n", m.CPU)
	fmt.Fprintf(w, "mode:       %s, %v measured + %v warm-up per pair and round, %s, pairs %s\n",
		m.Mode, secs(m.DurationSeconds), secs(m.WarmupSeconds), plural(m.Rounds, "round"), strings.Join(m.Pairs, " "))
	for _, n := range m.Notes {
		fmt.Fprintf(w, "note:       %s\n", n)
	}
	fmt.Fprintln(w)
}

func secs(s float64) string {
	return strings.TrimSuffix(fmt.Sprintf("%.3f", s), "0") + "s"
}

// describe says in words what a workload does and what one operation is.
func describe(w workload) string {
	conns := plural(w.Conns, "connection")
	switch w.Kind {
	case kindUnary:
		return fmt.Sprintf("unary, %s payload each way, %s in flight over %s; op = one RPC", sizeName(w.Size), plural(w.Concurrency, "call"), conns)
	case kindPingPong:
		return fmt.Sprintf("bidi ping-pong, %s each way, %s over %s; op = one round trip", sizeName(w.Size), plural(w.Concurrency, "stream"), conns)
	case kindServerStream:
		return fmt.Sprintf("server streaming, %s messages, %s; op = one message received", sizeName(w.Size), plural(w.Concurrency, "stream"))
	case kindClientStream:
		return fmt.Sprintf("client streaming, %s messages, %s; op = one message sent (stream closed and checked every 1000)", sizeName(w.Size), plural(w.Concurrency, "stream"))
	case kindConnSetup:
		return "connection setup: new client, first empty unary RPC, close, one at a time; op = one connection"
	}
	return w.Kind
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// throughputLabel names the table's throughput column for w.
func throughputLabel(w workload) string {
	return map[string]string{
		kindUnary: "RPC/s", kindPingPong: "rtt/s", kindServerStream: "msg/s",
		kindClientStream: "msg/s", kindConnSetup: "conn/s",
	}[w.Kind]
}

func printWorkload(w io.Writer, r workloadResult) {
	wl := r.Workload
	fmt.Fprintf(w, "== %s: %s\n", wl.Name, describe(wl))
	fmt.Fprintf(w, "%-12s %9s %9s %9s %9s %9s %10s %9s %10s %7s %9s %9s\n",
		"pair", throughputLabel(wl), "MB/s", "p50", "p90", "p99", "allocs/op", "B/op", "CPU µs/op", "spread", "thr÷grpc", "p50÷grpc")
	for _, pr := range r.Results {
		m := pr.Median
		fmt.Fprintf(w, "%-12s %9s %9s %9s %9s %9s %10s %9s %10s %6.0f%% %9s %9s\n",
			pr.Pair.Label, num(m.OpsPerSec), mbps(m.MBPerSec, wl), dur(m.P50us), dur(m.P90us), dur(m.P99us),
			fmt.Sprintf("%.1f", m.AllocsPerOp), num(m.BytesPerOp), fmt.Sprintf("%.2f", m.CPUusPerOp),
			100*pr.Spread, times(pr.ThroughputVsGRPC), times(pr.P50VsGRPC))
	}
	for _, pr := range r.Results {
		if pr.Median.Wave {
			fmt.Fprintf(w, "  ~ %s: one wave of %d calls started together, not a steady load: its figures are the wave's\n", pr.Pair.Label, wl.Concurrency)
		}
	}
	for _, pr := range r.Results {
		if pr.Median.Errors > 0 {
			fmt.Fprintf(w, "  ! %s: %d errors, %d of %d rounds counted; first: %s\n",
				pr.Pair.Label, pr.Median.Errors, len(clean(pr.Rounds)), len(pr.Rounds), pr.Median.FirstError)
		}
	}
	if q := r.H2rpcOverGRPC; q.Throughput > 0 {
		fmt.Fprintf(w, "h2rpc÷grpc-go: throughput %s (>1 = h2rpc faster) | p50 %s  p99 %s  allocs %s  B %s  CPU %s (<1 = h2rpc less)\n",
			times(q.Throughput), times(q.P50), times(q.P99), times(q.Allocs), times(q.Bytes), times(q.CPU))
	}
	fmt.Fprintln(w)
}

// printSummary lists the h2rpc÷grpc-go ratios of every workload.
func printSummary(w io.Writer, rs []workloadResult) {
	fmt.Fprintln(w, "== summary: h2rpc→h2rpc ÷ grpc→grpc (throughput > 1 = h2rpc faster; the rest < 1 = h2rpc lower)")
	fmt.Fprintf(w, "%-20s %10s %8s %8s %8s %8s %8s\n", "workload", "throughput", "p50", "p99", "allocs", "B/op", "CPU/op")
	for _, r := range rs {
		q := r.H2rpcOverGRPC
		fmt.Fprintf(w, "%-20s %10s %8s %8s %8s %8s %8s\n", r.Workload.Name,
			times(q.Throughput), times(q.P50), times(q.P99), times(q.Allocs), times(q.Bytes), times(q.CPU))
	}
	fmt.Fprintln(w)
}

func printIdle(w io.Writer, n int, rs []idleResult) {
	fmt.Fprintf(w, "== idle: %d idle connections (one empty RPC each), client and server each in a child process; per connection\n", n)
	fmt.Fprintf(w, "%-12s | %-37s | %-37s | %s\n", "", "client side", "server side", "client")
	fmt.Fprintf(w, "%-12s | %8s %8s %8s %10s | %8s %8s %8s %10s | %8s\n", "pair",
		"heap", "stack", "RSS", "goroutines", "heap", "stack", "RSS", "goroutines", "setup")
	for _, r := range rs {
		c, s := r.Client, r.Server
		fmt.Fprintf(w, "%-12s | %8s %8s %8s %10.2f | %8s %8s %8s %10.2f | %8s\n", r.Pair.Label,
			num(c.HeapPerConn), num(c.StackPerConn), num(c.RSSPerConn), c.GoroutinesPerConn,
			num(s.HeapPerConn), num(s.StackPerConn), num(s.RSSPerConn), s.GoroutinesPerConn, secs(c.SetupSeconds))
	}
	for _, r := range rs {
		if r.Client.Error != "" {
			fmt.Fprintf(w, "  ! %s client: %s\n", r.Pair.Label, r.Client.Error)
		}
		if r.Server.Error != "" && r.Server.Error != r.Client.Error {
			fmt.Fprintf(w, "  ! %s server: %s\n", r.Pair.Label, r.Server.Error)
		}
	}
	fmt.Fprintln(w, "heap, stack and RSS in bytes per connection (k = 1000); goroutines per connection")
	fmt.Fprintln(w)
}

// num formats a count or byte size compactly: 950, 12.3k, 4.56M.
func num(v float64) string {
	a := v
	if a < 0 {
		a = -a
	}
	switch {
	case a >= 1e9:
		return fmt.Sprintf("%.2fG", v/1e9)
	case a >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case a >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

// mbps is blank for workloads that move no payload.
func mbps(v float64, w workload) string {
	if w.bytesPerOp() == 0 {
		return "-"
	}
	return num(v)
}

// dur formats microseconds: 850ns, 85.2µs, 1.23ms, 1.23s.
func dur(us float64) string {
	switch {
	case us == 0:
		return "-"
	case us < 1:
		return fmt.Sprintf("%.0fns", us*1e3)
	case us < 1000:
		return fmt.Sprintf("%.1fµs", us)
	case us < 1e6:
		return fmt.Sprintf("%.2fms", us/1e3)
	}
	return fmt.Sprintf("%.2fs", us/1e6)
}

func times(r float64) string {
	if r == 0 {
		return "-"
	}
	return fmt.Sprintf("×%.2f", r)
}

// writeJSON writes r to path, creating its directory.
func writeJSON(path string, r *report) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
