package interop_test

// The cross-process interop harness. Each pairing starts one server process on
// a free 127.0.0.1 port and runs every case in a client process of its own:
//
//	GoClient_H2Server  grpc-go's interop client against cmd/server
//	H2Client_GoServer  cmd/client against grpc-go's interop server
//	H2Client_H2Server  cmd/client against cmd/server
//	GoClient_GoServer  grpc-go against itself, a check of the harness; only
//	                   with H2RPC_INTEROP_SANITY=1
//
// and each again over TLS (the same names with _TLS), with grpc-go's test
// certificates (see tls_test.go).
//
// Where the client is h2rpc's, one more subtest, all_on_one_connection, runs
// every case in order in a single client process, so that later calls reuse
// a connection on which earlier ones were cancelled or failed.
//
// The binaries are built once per run, when first needed, into a temporary
// directory; grpc-go's at the version go.mod pins. The h2rpc binaries are
// built with the race detector when the test runs under it, or when
// H2RPC_INTEROP_RACE=1. -short skips it all.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

const (
	// caseTimeout bounds one client process.
	caseTimeout = 60 * time.Second
	// serverStartTimeout bounds the wait for a server to accept connections.
	serverStartTimeout = 20 * time.Second
	// stopTimeout is how long a server gets to exit after SIGTERM.
	stopTimeout = 5 * time.Second
	// soakLatencyBudget is what one iteration of rpc_soak and channel_soak
	// may take. The interop default, 1 s, suits optimized builds on a quiet
	// machine; here the processes are race-instrumented and share a few
	// CPUs with the rest of the run, and a fresh channel_soak connection
	// (TCP, TLS with a 2048-bit RSA key, HTTP/2) has been seen to take
	// 1.2-1.8 s. The soak cases are here to check many calls and
	// connections, not to time them.
	soakLatencyBudget = 5 * time.Second
)

// caseNames are the interop cases run for every pairing, in the order of
// the interop descriptions. Kept apart from package cases so that the
// harness does not depend on the h2rpc runtime compiling.
var caseNames = []string{
	"empty_unary", "large_unary", "client_streaming", "server_streaming",
	"ping_pong", "empty_stream", "timeout_on_sleeping_server",
	"cancel_after_begin", "cancel_after_first_response",
	"status_code_and_message", "special_status_message", "custom_metadata",
	"unimplemented_method", "unimplemented_service", "rpc_soak", "channel_soak",
}

var tmpDir string

func TestMain(m *testing.M) {
	var err error
	tmpDir, err = os.MkdirTemp("", "h2rpc-interop-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "interop: creating a temporary directory:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(tmpDir)
	// goleak.VerifyTestMain would exit before the directory is removed.
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "interop: goroutines left after the tests:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// binPair is a client and a server binary built together, once per run.
type binPair struct {
	once           sync.Once
	client, server string
	err            error
}

var goBins, h2Bins binPair

// grpcGo returns grpc-go's interop client and server, built at the version
// go.mod pins.
func grpcGo(t *testing.T) *binPair {
	return build(t, &goBins, "grpc-go", nil,
		"google.golang.org/grpc/interop/client", "google.golang.org/grpc/interop/server")
}

// h2rpc returns cmd/client and cmd/server.
func h2rpc(t *testing.T) *binPair {
	var flags []string
	if raceEnabled || os.Getenv("H2RPC_INTEROP_RACE") == "1" {
		flags = append(flags, "-race")
	}
	return build(t, &h2Bins, "h2rpc", flags, "./cmd/client", "./cmd/server")
}

// build builds clientPkg and serverPkg into a directory of their own on
// first use. It runs in the module directory (the test's working
// directory), so grpc-go resolves to the version go.mod pins.
func build(t *testing.T, b *binPair, dir string, flags []string, clientPkg, serverPkg string) *binPair {
	t.Helper()
	b.once.Do(func() {
		out := filepath.Join(tmpDir, dir)
		b.err = goBuild(out, flags, clientPkg, serverPkg)
		b.client = filepath.Join(out, path.Base(clientPkg))
		b.server = filepath.Join(out, path.Base(serverPkg))
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b
}

func goBuild(outDir string, flags []string, pkgs ...string) error {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	args := append([]string{"build", "-o", outDir + string(filepath.Separator)}, flags...)
	cmd := exec.Command("go", append(args, pkgs...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go %v: %v\n%s", cmd.Args[1:], err, out)
	}
	return nil
}

type pairing struct {
	name           string
	client, server func(*testing.T) *binPair
	sanityOnly     bool
	// caseLists says the client takes a comma-separated --test_case.
	caseLists bool
	// tls runs the pairing over TLS.
	tls bool
}

var pairings = withTLS([]pairing{
	{name: "GoClient_H2Server", client: grpcGo, server: h2rpc},
	{name: "H2Client_GoServer", client: h2rpc, server: grpcGo, caseLists: true},
	{name: "H2Client_H2Server", client: h2rpc, server: h2rpc, caseLists: true},
	{name: "GoClient_GoServer", client: grpcGo, server: grpcGo, sanityOnly: true},
})

// withTLS returns ps followed by a TLS run of each.
func withTLS(ps []pairing) []pairing {
	all := append([]pairing(nil), ps...)
	for _, p := range ps {
		p.name += "_TLS"
		p.tls = true
		all = append(all, p)
	}
	return all
}

func TestInterop(t *testing.T) {
	if testing.Short() {
		t.Skip("builds grpc-go and runs many processes; skipped with -short")
	}
	sanity := os.Getenv("H2RPC_INTEROP_SANITY") == "1"
	for _, p := range pairings {
		t.Run(p.name, func(t *testing.T) {
			if p.sanityOnly && !sanity {
				t.Skip("harness sanity check; set H2RPC_INTEROP_SANITY=1 to run it")
			}
			// Build before going parallel: the builds then run one at a
			// time and the case timeouts never include them.
			clientBin, serverBin := p.client(t).client, p.server(t).server
			var serverArgs, clientArgs []string
			if p.tls {
				serverArgs, clientArgs = tlsArgs(t)
			}
			t.Parallel()
			port := startServer(t, serverBin, serverArgs)
			for _, name := range caseNames {
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					runClient(t, clientBin, port, name, clientArgs)
				})
			}
			if p.caseLists {
				t.Run("all_on_one_connection", func(t *testing.T) {
					t.Parallel()
					runClient(t, clientBin, port, strings.Join(caseNames, ","), clientArgs)
				})
			}
		})
	}
}

// syncBuffer collects a process's output; the process writes while a test
// may already be reading.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// freePort returns a port that was free on 127.0.0.1 a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	return lis.Addr().(*net.TCPAddr).Port
}

// startMu serializes server start-up across pairings, so that no two
// servers are handed the same free port.
var startMu sync.Mutex

// startAttempts is how often startServer tries a new port when a server
// exits before accepting (most likely: its port was taken meanwhile).
const startAttempts = 3

// startServer starts the interop server bin with args on a free port, waits
// until it accepts connections on 127.0.0.1 and returns the port. The
// server is stopped, and its output logged if t failed, in t.Cleanup.
func startServer(t *testing.T, bin string, args []string) int {
	t.Helper()
	startMu.Lock()
	defer startMu.Unlock()
	for attempt := 1; ; attempt++ {
		port, err := tryStartServer(t, bin, args)
		if err == nil {
			return port
		}
		if attempt == startAttempts || !errors.Is(err, errExitedEarly) {
			t.Fatal(err)
		}
		t.Logf("retrying on another port: %v", err)
	}
}

var errExitedEarly = errors.New("exited before accepting connections")

func tryStartServer(t *testing.T, bin string, args []string) (int, error) {
	port := freePort(t)
	out := &syncBuffer{}
	cmd := exec.Command(bin, append([]string{"--port=" + strconv.Itoa(port)}, args...)...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("starting %s: %w", bin, err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		stopServer(t, cmd, exited)
		if t.Failed() {
			t.Logf("server %s --port=%d %v output:\n%s", filepath.Base(bin), port, args, out)
		}
	})

	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(serverStartTimeout)
	for {
		select {
		case <-exited:
			return 0, fmt.Errorf("server %s --port=%d %w: %v\n%s", bin, port, errExitedEarly, waitErr, out)
		default:
		}
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return port, nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("server %s not accepting on %s after %v: %v\n%s", bin, addr, serverStartTimeout, err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func stopServer(t *testing.T, cmd *exec.Cmd, exited <-chan struct{}) {
	select {
	case <-exited:
		return
	default:
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Logf("signalling server: %v", err)
	}
	select {
	case <-exited:
	case <-time.After(stopTimeout):
		t.Logf("server did not exit %v after SIGTERM; killing it", stopTimeout)
		cmd.Process.Kill()
		<-exited
	}
}

// runClient runs one test case in a client process, with extra arguments,
// and fails t, with the process's output, unless it exits 0.
func runClient(t *testing.T, bin string, port int, testCase string, extra []string) {
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()
	args := append([]string{
		"--server_host=127.0.0.1",
		"--server_port=" + strconv.Itoa(port),
		"--test_case=" + testCase,
		"--soak_per_iteration_max_acceptable_latency_ms=" + strconv.FormatInt(soakLatencyBudget.Milliseconds(), 10),
	}, extra...)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	elapsed := time.Since(start).Round(time.Millisecond)
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		t.Errorf("%s %v: timed out after %v\n%s", filepath.Base(bin), args, caseTimeout, out)
	case err != nil:
		t.Errorf("%s %v: %v after %v\n%s", filepath.Base(bin), args, err, elapsed, out)
	case testing.Verbose():
		t.Logf("passed in %v", elapsed)
	}
}
