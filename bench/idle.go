package main

// The idle-connection measurement runs each side in a child process of its
// own (this same binary, told what to be by environment variables), so
// that the client's and the server's memory are counted apart and nothing
// else the driver did is counted at all. Each child takes a snapshot after
// a full GC before the connections exist and another once they are all up
// and idle; the difference divided by the connection count is the cost of
// one idle connection on that side.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"
)

const (
	envChild = "H2RPC_BENCH_CHILD" // idle-server, idle-client or measure
	envImpl  = "H2RPC_BENCH_IMPL"  // h2rpc, grpc or raw
	envAddr  = "H2RPC_BENCH_ADDR"
	envConns = "H2RPC_BENCH_CONNS"
)

// idleSide is what the idle connections added to one process, per connection.
type idleSide struct {
	Conns             int     `json:"conns"` // connections actually up
	HeapPerConn       float64 `json:"heap_bytes_per_conn"`
	StackPerConn      float64 `json:"stack_bytes_per_conn"`
	RSSPerConn        float64 `json:"rss_bytes_per_conn"`
	GoroutinesPerConn float64 `json:"goroutines_per_conn"`
	SetupSeconds      float64 `json:"setup_seconds,omitempty"` // client: time to bring all up
	Error             string  `json:"error,omitempty"`
}

type idleResult struct {
	Pair   pair     `json:"pair"`
	Client idleSide `json:"client"`
	Server idleSide `json:"server"`
}

// memSnap is a process's memory after a full GC.
type memSnap struct {
	Heap, Stack, RSS uint64
	Goroutines       int
}

func snapshot() memSnap {
	debug.FreeOSMemory() // a full GC, and freed pages go back to the OS
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return memSnap{Heap: m.HeapAlloc, Stack: m.StackInuse, RSS: readRSS(), Goroutines: runtime.NumGoroutine()}
}

// readRSS returns the resident set size from /proc/self/status, or 0.
func readRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func perConn(before, after memSnap, conns int) idleSide {
	if conns == 0 {
		return idleSide{Error: "no connection came up"}
	}
	per := func(a, b uint64) float64 { return (float64(b) - float64(a)) / float64(conns) }
	return idleSide{
		Conns:             conns,
		HeapPerConn:       per(before.Heap, after.Heap),
		StackPerConn:      per(before.Stack, after.Stack),
		RSSPerConn:        per(before.RSS, after.RSS),
		GoroutinesPerConn: float64(after.Goroutines-before.Goroutines) / float64(conns),
	}
}

// runChild runs this process as an idle-connection or measuring child if the
// environment says so, and reports whether it did.
func runChild() bool {
	var err error
	switch os.Getenv(envChild) {
	case "idle-server":
		err = idleServerChild(os.Getenv(envImpl))
	case "idle-client":
		n, _ := strconv.Atoi(os.Getenv(envConns))
		err = idleClientChild(os.Getenv(envImpl), os.Getenv(envAddr), n)
	case "measure":
		err = measureChild()
	default:
		return false
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench child:", err)
		os.Exit(1)
	}
	return true
}

// idleServerChild serves on a fresh listener, prints "addr A", and on
// "measure" from stdin prints "result {idleSide}"; it exits at stdin EOF.
func idleServerChild(impl string) error {
	var addr string
	if impl == "raw" {
		s, err := startRaw()
		if err != nil {
			return err
		}
		addr = s.addr()
	} else {
		rt, ok := runtimes[impl]
		if !ok {
			return fmt.Errorf("unknown runtime %q", impl)
		}
		a, _, err := rt.serve()
		if err != nil {
			return err
		}
		addr = a
	}
	before := snapshot()
	fmt.Printf("addr %s\n", addr)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if f := strings.Fields(in.Text()); len(f) == 2 && f[0] == "measure" {
			n, _ := strconv.Atoi(f[1])
			time.Sleep(200 * time.Millisecond) // let handshakes settle
			printResult(perConn(before, snapshot(), n))
		}
	}
	return nil
}

// idleClientChild opens n connections to addr, each used for one empty
// unary call (or raw echo) and then left idle, prints "result {idleSide}"
// and holds them until stdin closes.
func idleClientChild(impl, addr string, n int) error {
	before := snapshot()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	held := make([]any, n)
	var next, up atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				c, err := openIdle(ctx, impl, addr)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					continue
				}
				held[i] = c
				up.Add(1)
			}
		})
	}
	wg.Wait()
	setup := time.Since(start)
	time.Sleep(200 * time.Millisecond)
	res := perConn(before, snapshot(), int(up.Load()))
	res.SetupSeconds = setup.Seconds()
	if firstErr != nil {
		res.Error = fmt.Sprintf("%d of %d connections failed; first: %v", n-int(up.Load()), n, firstErr)
	}
	printResult(res)
	io.Copy(io.Discard, os.Stdin)
	runtime.KeepAlive(held)
	return nil
}

// openIdle makes one connection and completes one call on it.
func openIdle(ctx context.Context, impl, addr string) (any, error) {
	if impl == "raw" {
		c, err := dialRaw(ctx, addr, rawEcho)
		if err != nil {
			return nil, err
		}
		if err := rawRoundTrip(c, rawFrame(0), make([]byte, 5)); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	}
	rt, ok := runtimes[impl]
	if !ok {
		return nil, fmt.Errorf("unknown runtime %q", impl)
	}
	c, err := rt.dial(addr)
	if err != nil {
		return nil, err
	}
	if err := c.invoke(ctx, methodUnary, wrapperspb.Bytes(nil), new(wrapperspb.BytesValue)); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

func printResult(r idleSide) {
	b, _ := json.Marshal(r)
	fmt.Printf("result %s\n", b)
}

// child is a running idle child process.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines *bufio.Scanner
}

func startChild(env ...string) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &child{cmd: cmd, stdin: stdin, lines: bufio.NewScanner(stdout)}, nil
}

// expect reads the child's next line, which must start with prefix, and
// returns the rest.
func (c *child) expect(prefix string) (string, error) {
	if !c.lines.Scan() {
		return "", fmt.Errorf("child exited before %q: %v", prefix, c.lines.Err())
	}
	rest, ok := strings.CutPrefix(c.lines.Text(), prefix+" ")
	if !ok {
		return "", fmt.Errorf("child said %q, want %q", c.lines.Text(), prefix)
	}
	return rest, nil
}

func (c *child) stop() {
	c.stdin.Close()
	done := make(chan struct{})
	go func() { c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		<-done
	}
}

// measureIdle runs a server child and a client child for pair p with n
// connections between them. The whole exchange is bounded by limit.
func measureIdle(p pair, n int, limit time.Duration) idleResult {
	res := idleResult{Pair: p}
	fail := func(err error) idleResult {
		res.Client.Error, res.Server.Error = err.Error(), err.Error()
		return res
	}
	srv, err := startChild(envChild+"=idle-server", envImpl+"="+p.Server)
	if err != nil {
		return fail(err)
	}
	defer srv.stop()
	timer := time.AfterFunc(limit, func() { srv.cmd.Process.Kill() })
	defer timer.Stop()
	addr, err := srv.expect("addr")
	if err != nil {
		return fail(fmt.Errorf("server child: %w", err))
	}
	cli, err := startChild(envChild+"=idle-client", envImpl+"="+p.Client, envAddr+"="+addr, envConns+"="+strconv.Itoa(n))
	if err != nil {
		return fail(err)
	}
	defer cli.stop()
	cliTimer := time.AfterFunc(limit, func() { cli.cmd.Process.Kill() })
	defer cliTimer.Stop()
	line, err := cli.expect("result")
	if err != nil {
		return fail(fmt.Errorf("client child: %w", err))
	}
	if err := json.Unmarshal([]byte(line), &res.Client); err != nil {
		return fail(err)
	}
	if _, err := fmt.Fprintf(srv.stdin, "measure %d\n", res.Client.Conns); err != nil {
		return fail(err)
	}
	line, err = srv.expect("result")
	if err != nil {
		res.Server.Error = fmt.Sprintf("server child: %v", err)
		return res
	}
	if err := json.Unmarshal([]byte(line), &res.Server); err != nil {
		res.Server.Error = err.Error()
	}
	return res
}
