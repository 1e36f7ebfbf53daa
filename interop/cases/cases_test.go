package cases_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/h2rpc/h2rpc/client"
	"github.com/h2rpc/h2rpc/interop/cases"
	"github.com/h2rpc/h2rpc/interop/testservice"
	"github.com/h2rpc/h2rpc/server"
)

// startServer serves testservice on a loopback port for the test's lifetime.
func startServer(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := server.New()
	testservice.Register(s)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Serve(lis)
	}()
	t.Cleanup(func() {
		s.Stop()
		<-done
	})
	return lis.Addr().String()
}

func dialer(addr string) func() (client.Conn, func(), error) {
	return func() (client.Conn, func(), error) {
		cc, err := client.New(addr, client.WithInsecure())
		if err != nil {
			return nil, nil, err
		}
		return cc, func() { cc.Close() }, nil
	}
}

// TestAllCasesInProcess runs every interop case from an h2rpc client against
// the h2rpc TestService in the same process, so that the race detector sees
// both sides.
func TestAllCasesInProcess(t *testing.T) {
	addr := startServer(t)
	dial := dialer(addr)
	conn, closeConn, err := dial()
	require.NoError(t, err)
	t.Cleanup(closeConn)

	soak := cases.DefaultSoakConfig()
	soak.Iterations = 5
	soak.Workers = 2
	// Generous: the race detector and a busy machine slow every call down.
	soak.PerIterationMaxLatency = 5 * time.Second
	soak.OverallTimeout = 30 * time.Second

	for _, name := range cases.Names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			env := &cases.Env{Conn: conn, Dial: dial, Soak: soak, Log: t.Logf}
			assert.NoError(t, cases.Run(ctx, name, env))
		})
	}
}

func TestRunUnknownCase(t *testing.T) {
	err := cases.Run(context.Background(), "no_such_case", &cases.Env{})
	assert.ErrorContains(t, err, "unknown test case")
}

func TestNamesMatchAll(t *testing.T) {
	assert.Len(t, cases.Names, len(cases.All))
	for _, n := range cases.Names {
		assert.Contains(t, cases.All, n)
	}
}
