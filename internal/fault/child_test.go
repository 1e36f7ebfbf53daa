package fault

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/client"
	"github.com/h2rpc/h2rpc/server"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

const (
	// childModeEnv makes the test binary a child process: "server" or
	// "client".
	childModeEnv = "H2RPC_FAULT_CHILD"
	// childAddrEnv is the address the child listens on or dials.
	childAddrEnv = "H2RPC_FAULT_ADDR"
	// childLifetime bounds a child whose parent never closes its stdin.
	childLifetime = time.Minute
)

// TestHelperProcess is the body of a child process, not a test: it does
// nothing unless H2RPC_FAULT_CHILD is set (see startChild).
//
// As "server" it serves echoService on H2RPC_FAULT_ADDR, prints
// "ready ADDR", then "started REQ" as each unary handler starts. As
// "client" it opens a Bidi stream to H2RPC_FAULT_ADDR, exchanges one
// message and prints "ready". Either way it then runs until its stdin
// closes, or childLifetime passes, unless it is killed first.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(childModeEnv)
	if mode == "" {
		t.Skip("runs only as a child process of the other tests")
	}
	addr := os.Getenv(childAddrEnv)
	var err error
	switch mode {
	case "server":
		err = childServer(addr)
	case "client":
		err = childClient(addr)
	default:
		err = fmt.Errorf("unknown mode %q", mode)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "fault child %s: %v\n", mode, err)
		os.Exit(2)
	}
	os.Exit(0)
}

func childServer(addr string) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s := server.New()
	s.RegisterService(&echoDesc, &echoService{
		onUnary: func(_ context.Context, req string) { fmt.Println("started", req) },
	})
	go s.Serve(lis)
	fmt.Println("ready", lis.Addr())
	waitForParent()
	s.Stop()
	return nil
}

func childClient(addr string) error {
	cc, err := client.New(addr, client.WithInsecure())
	if err != nil {
		return err
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), childLifetime)
	defer cancel()
	st, err := cc.NewStream(ctx, bidiDesc, bidiMethod)
	if err != nil {
		return err
	}
	if err := st.SendMsg(wrapperspb.String("hello")); err != nil {
		return err
	}
	if err := st.RecvMsg(new(wrapperspb.StringValue)); err != nil {
		return err
	}
	fmt.Println("ready")
	waitForParent()
	return nil
}

// waitForParent returns when the parent closes our stdin (or dies) or
// childLifetime has passed.
func waitForParent() {
	gone := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(gone)
	}()
	t := time.NewTimer(childLifetime)
	defer t.Stop()
	select {
	case <-gone:
	case <-t.C:
	}
}

// child is a running child process.
type child struct {
	mode     string
	cmd      *exec.Cmd
	lines    chan string   // its stdout, a line at a time
	readDone chan struct{} // closed when its stdout reaches EOF
	stderr   lockedBuffer
	killOnce sync.Once
}

// startChild starts the test binary as a child process in mode with
// addr, killing it when the test ends.
func startChild(t *testing.T, mode, addr string) *child {
	t.Helper()
	c := &child{mode: mode, lines: make(chan string, 1024), readDone: make(chan struct{})}
	c.cmd = exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	c.cmd.Env = append(os.Environ(), childModeEnv+"="+mode, childAddrEnv+"="+addr)
	c.cmd.Stderr = &c.stderr
	// The pipe's write end stays with us until Wait: the child exits
	// when it closes, so a child outlives no parent.
	_, err := c.cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := c.cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, c.cmd.Start())
	go func() {
		defer close(c.readDone)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case c.lines <- sc.Text():
			default: // nobody will ask for that many lines
			}
		}
	}()
	t.Cleanup(func() {
		c.kill(t)
		if t.Failed() {
			t.Logf("child %s stderr:\n%s", mode, c.stderr.String())
		}
	})
	return c
}

// waitLine returns the rest of the next stdout line that starts with
// prefix, failing the test if none comes within d.
func (c *child) waitLine(t *testing.T, prefix string, d time.Duration) string {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case line := <-c.lines:
			if rest, ok := strings.CutPrefix(line, prefix); ok {
				return strings.TrimSpace(rest)
			}
		case <-c.readDone:
			// Lines read before EOF may still be queued.
			select {
			case line := <-c.lines:
				if rest, ok := strings.CutPrefix(line, prefix); ok {
					return strings.TrimSpace(rest)
				}
				continue
			default:
			}
			t.Fatalf("child %s exited before printing %q; stderr:\n%s", c.mode, prefix, c.stderr.String())
		case <-timer.C:
			t.Fatalf("child %s printed no %q within %v; stderr:\n%s", c.mode, prefix, d, c.stderr.String())
		}
	}
}

// kill sends SIGKILL (Process.Kill on Unix) and reaps the child; it is
// safe to call more than once.
func (c *child) kill(t *testing.T) {
	c.killOnce.Do(func() {
		c.cmd.Process.Kill()
		select {
		case <-c.readDone:
		case <-time.After(10 * time.Second):
			t.Errorf("child %s: stdout still open 10s after SIGKILL", c.mode)
		}
		c.cmd.Wait()
	})
}

// lockedBuffer is a bytes.Buffer safe for the exec package's copying
// goroutine and the test to use at once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
