package fault

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// TestClientKilledMidStream kills a client process whose Bidi stream is
// open on an in-process server: the handler's context is cancelled and
// every goroutine the connection and the call started ends. The one
// goroutine allowed to stay is the server's idle worker, kept for the
// next call until Stop.
func TestClientKilledMidStream(t *testing.T) {
	started := make(chan struct{}, 1)
	cancelled := make(chan error, 1)
	svc := &echoService{onStream: func(ctx context.Context) {
		started <- struct{}{}
		context.AfterFunc(ctx, func() { cancelled <- context.Cause(ctx) })
	}}
	_, addr := startServer(t, svc)
	baseline := goleak.IgnoreCurrent()
	before := runtime.NumGoroutine()

	c := startChild(t, "client", addr)
	c.waitLine(t, "ready", 10*time.Second)
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream's handler never started")
	}
	during := runtime.NumGoroutine()

	c.kill(t)
	killedAt := time.Now()
	select {
	case cause := <-cancelled:
		t.Logf("handler context cancelled %v after SIGKILL: %v", time.Since(killedAt).Round(time.Microsecond), cause)
	case <-time.After(5 * time.Second):
		t.Fatal("the handler's context was not cancelled within 5s of the client's death")
	}

	// goleak.Find retries for a while before it reports anything.
	err := goleak.Find(baseline, goleak.IgnoreTopFunction("github.com/h2rpc/h2rpc/server.(*Server).worker"))
	assert.NoError(t, err, "goroutines left after the client died")
	after := runtime.NumGoroutine()
	t.Logf("goroutines: %d before the client, %d while its stream was open, %d after it died", before, during, after)
	require.LessOrEqual(t, after, before+1, "more than the idle worker is left")
}
