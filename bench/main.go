package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"
)

// options are the command-line flags.
type options struct {
	quick      bool
	duration   time.Duration
	warmup     time.Duration
	rounds     int
	pairs      string
	workloads  string
	idleConns  int
	maxOps     int
	jsonPath   string
	svgPath    string
	cpuProfile string
	memProfile string
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.BoolVar(&o.quick, "quick", false, "run a subset with short measurements (under 2 minutes on 2 cores)")
	fs.DurationVar(&o.duration, "duration", 0, "measured time per pair, workload and round (default 250ms with -quick, 500ms otherwise)")
	fs.DurationVar(&o.warmup, "warmup", 0, "unmeasured load, at least, before each measurement's window opens (default a quarter of -duration, at most 150ms)")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds per workload; the pairs run interleaved within each round and medians are reported")
	fs.StringVar(&o.pairs, "pairs", "", "comma-separated pairs to run: h2rpc, grpc, h2rpc-grpc, grpc-h2rpc, raw (default all; only h2rpc with a profile flag)")
	fs.StringVar(&o.workloads, "workloads", "", "comma-separated workload names, kinds (unary, pingpong, sstream, cstream, connsetup, idle) or globs (unary-*-c1); picks from the full list")
	fs.IntVar(&o.idleConns, "idle-conns", 0, "connections for the idle-memory measurement (default 1000 with -quick, 10000 otherwise)")
	fs.IntVar(&o.maxOps, "max-ops", 20_000_000, "bound on operations in one measurement, all workers together")
	fs.StringVar(&o.jsonPath, "json", filepath.Join("out", "results.json"), "where to write the JSON results")
	fs.StringVar(&o.svgPath, "svg", "", "where to write the SVG chart (default: the -json path with .svg)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the run here (measures in this process, not a child per measurement; restricts -pairs to h2rpc unless given)")
	fs.StringVar(&o.memProfile, "memprofile", "", "write an allocation profile of the run here (measures in this process, not a child per measurement; restricts -pairs to h2rpc unless given)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("bench: unexpected arguments %q", fs.Args())
	}
	if o.duration == 0 {
		o.duration = 500 * time.Millisecond
		if o.quick {
			o.duration = 250 * time.Millisecond
		}
	}
	if o.warmup == 0 {
		o.warmup = min(o.duration/4, 150*time.Millisecond)
	}
	if o.idleConns == 0 {
		o.idleConns = 10000
		if o.quick {
			o.idleConns = 1000
		}
	}
	if o.svgPath == "" {
		o.svgPath = strings.TrimSuffix(o.jsonPath, filepath.Ext(o.jsonPath)) + ".svg"
	}
	if o.pairs == "" && (o.cpuProfile != "" || o.memProfile != "") {
		o.pairs = "h2rpc"
	}
	if o.rounds < 1 || o.maxOps < 1 || o.duration < 0 || o.warmup < 0 || o.idleConns < 1 {
		return o, errors.New("bench: -rounds, -max-ops and -idle-conns must be positive, durations not negative")
	}
	return o, nil
}

func main() {
	if runChild() {
		return
	}
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if _, err := drive(o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// selectRun turns the options into the pairs and workloads to run.
func selectRun(o options) ([]pair, []workload, error) {
	var pairs []pair
	for _, p := range allPairs {
		if o.pairs == "" || slices.Contains(strings.Split(o.pairs, ","), p.ID) {
			pairs = append(pairs, p)
		}
	}
	var ws []workload
	for _, w := range allWorkloads() {
		if o.workloads != "" && matchAny(o.workloads, w.Name, w.Kind) || o.workloads == "" && (!o.quick || w.quick) {
			ws = append(ws, w)
		}
	}
	if len(pairs) == 0 || len(ws) == 0 {
		return nil, nil, fmt.Errorf("bench: -pairs %q and -workloads %q select nothing", o.pairs, o.workloads)
	}
	return pairs, ws, nil
}

// drive runs the benchmark o describes, prints tables to stdout and
// progress to stderr, and writes the JSON, SVG and profiles.
func drive(o options, stdout, stderr io.Writer) (*report, error) {
	pairs, ws, err := selectRun(o)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	cfg := config{
		duration: o.duration, warmup: o.warmup, rounds: o.rounds, maxOps: o.maxOps,
		grace: 30 * time.Second, pairs: pairs, inProcess: o.cpuProfile != "" || o.memProfile != "",
		progress: func(format string, args ...any) {
			fmt.Fprintf(stderr, "[%6.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
		},
	}
	mode := "full"
	if o.quick {
		mode = "quick"
	}
	rep := &report{Meta: meta{
		Command:    strings.Join(append([]string{filepath.Base(os.Args[0])}, os.Args[1:]...), " "),
		Date:       start.Format(time.RFC3339),
		GoVersion:  runtime.Version(),
		GOOS:       runtime.GOOS,
		GOARCH:     runtime.GOARCH,
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		NumCPU:     runtime.NumCPU(),
		CPU:        cpuModel(),
		Mode:       mode, DurationSeconds: o.duration.Seconds(), WarmupSeconds: o.warmup.Seconds(),
		Rounds: o.rounds, IdleConns: o.idleConns, Notes: reportNotes,
	}}
	for _, p := range pairs {
		rep.Meta.Pairs = append(rep.Meta.Pairs, p.ID)
	}
	printHeader(stdout, rep.Meta)

	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
		defer pprof.StopCPUProfile()
	}

	var idle bool
	for _, w := range ws {
		if w.Kind == kindIdle {
			idle = true
			continue
		}
		r := runWorkload(cfg, w)
		rep.Workloads = append(rep.Workloads, r)
		printWorkload(stdout, r)
	}
	if len(rep.Workloads) > 1 {
		printSummary(stdout, rep.Workloads)
	}
	if idle {
		for _, p := range pairs {
			cfg.progress("idle %d conns %s", o.idleConns, p.Label)
			rep.Idle = append(rep.Idle, measureIdle(p, o.idleConns, 3*time.Minute))
		}
		printIdle(stdout, o.idleConns, rep.Idle)
	}

	if o.memProfile != "" {
		f, err := os.Create(o.memProfile)
		if err != nil {
			return nil, err
		}
		err = pprof.Lookup("allocs").WriteTo(f, 0)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
	}
	rep.Meta.WallSeconds = time.Since(start).Seconds()
	if err := writeJSON(o.jsonPath, rep); err != nil {
		return rep, fmt.Errorf("bench: writing JSON: %w", err)
	}
	if err := writeSVG(o.svgPath, rep); err != nil {
		return rep, fmt.Errorf("bench: writing SVG: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s and %s in %.1fs\n", o.jsonPath, o.svgPath, rep.Meta.WallSeconds)
	return rep, nil
}

// cpuModel is the first "model name" of /proc/cpuinfo, or GOARCH.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}
