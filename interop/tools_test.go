package interop_test

// What the grpcurl and ghz tests share: building a command-line tool at the
// version go.mod pins, an in-process h2rpc server for it to call, and
// running it with a time limit.

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path"
	"path/filepath"
	"runtime/debug"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/interop/grpc_testing"
	"github.com/h2rpc/h2rpc/interop/testservice"
	"github.com/h2rpc/h2rpc/server"
	"github.com/stretchr/testify/require"
)

// protoDir is the import path that holds the TestService's .proto files, and
// testProto the file that defines it, relative to protoDir.
const (
	protoDir  = "proto"
	testProto = "grpc/testing/test.proto"
)

// toolBin is a built tool and the version of the module it was built from.
type toolBin struct{ path, version string }

// buildTool builds the main package pkg of module, which go.mod pins with a
// tool directive, into a directory of its own.
func buildTool(pkg, module string) (toolBin, error) {
	dir := filepath.Join(tmpDir, path.Base(pkg))
	if err := goBuild(dir, nil, pkg); err != nil {
		return toolBin{}, err
	}
	bin := filepath.Join(dir, path.Base(pkg))
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		return toolBin{}, fmt.Errorf("reading the build information of %s: %w", bin, err)
	}
	// A tool built from this module records its own module as the main one.
	for _, dep := range append([]*debug.Module{&info.Main}, info.Deps...) {
		if dep.Path == module {
			return toolBin{bin, dep.Version}, nil
		}
	}
	return toolBin{}, fmt.Errorf("%s was not built from module %s", bin, module)
}

// serveTestService starts an h2rpc server with the interop TestService on a
// free 127.0.0.1 port and returns its address. The server is stopped, and
// Serve has returned, by the end of t.
func serveTestService(t *testing.T, opts ...server.Option) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := server.New(opts...)
	grpc_testing.RegisterTestServiceServer(srv, testservice.New())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Stop()
		<-served
	})
	return lis.Addr().String()
}

// toolRun is how one run of a tool ended.
type toolRun struct {
	stdout, stderr string
	exitCode       int
}

// runTool runs bin with args and stdin, in the interop module's directory,
// and kills it if it takes longer than timeout. Only a failure to start or
// a timeout fails t; a non-zero exit is the caller's to judge.
func runTool(t *testing.T, timeout time.Duration, bin, stdin string, args ...string) toolRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.WaitDelay = 5 * time.Second
	if stdin != "" {
		cmd.Stdin = bytes.NewReader([]byte(stdin))
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	run := toolRun{stdout: stdout.String(), stderr: stderr.String()}
	if ctx.Err() != nil {
		t.Fatalf("%s %q: no exit after %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(bin), args, timeout, run.stdout, run.stderr)
	}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		run.exitCode = exit.ExitCode()
	case err != nil:
		t.Fatalf("running %s: %v", bin, err)
	}
	return run
}
