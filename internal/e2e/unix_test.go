package e2e

import (
	"context"
	"net"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/client"
	"github.com/h2rpc/h2rpc/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// serveUnix serves the echo service on a Unix socket at path.
func serveUnix(t *testing.T, path string) {
	lis, err := net.Listen("unix", path)
	require.NoError(t, err)
	s := server.New()
	s.RegisterService(&echoDesc, echoService{})
	go s.Serve(lis)
	t.Cleanup(s.Stop)
}

// TestUnixSocketTargets: unix:// and unix-abstract: targets reach a
// server on a Unix domain socket, as with grpc-go.
func TestUnixSocketTargets(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "echo.sock")
	serveUnix(t, sock)
	targets := []string{"unix://" + sock, "unix:" + sock}
	if runtime.GOOS == "linux" {
		name := "h2rpc-e2e-" + filepath.Base(t.TempDir())
		serveUnix(t, "@"+name)
		targets = append(targets, "unix-abstract:"+name)
	}
	for _, target := range targets {
		cc, err := client.New(target, client.WithInsecure())
		require.NoError(t, err, target)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		out := new(wrapperspb.StringValue)
		err = cc.Invoke(ctx, "/test.Echo/Unary", wrapperspb.String("over a socket"), out)
		cancel()
		cc.Close()
		require.NoError(t, err, target)
		assert.Equal(t, "over a socket", out.Value, target)
	}
}
