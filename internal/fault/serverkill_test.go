package fault

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/client"
	"github.com/h2rpc/h2rpc/codes"
	"github.com/h2rpc/h2rpc/status"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// TestServerKilledMidStream kills the server process under a stream and
// some unary calls: they fail UNAVAILABLE at once, and once a new server
// listens on the same port, calls that wait for ready succeed on a
// connection made again after gRPC's connection backoff (first retry 1 s
// after the failed attempt, the next 1.6 s ±20 % later).
func TestServerKilledMidStream(t *testing.T) {
	first := startChild(t, "server", "127.0.0.1:0")
	addr := first.waitLine(t, "ready ", 10*time.Second)

	dials := &dialLog{}
	cc := dial(t, addr, client.WithContextDialer(dials.dial))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()

	st, err := cc.NewStream(ctx, bidiDesc, bidiMethod)
	require.NoError(t, err)
	require.NoError(t, st.SendMsg(wrapperspb.String("before")))
	out := new(wrapperspb.StringValue)
	require.NoError(t, st.RecvMsg(out))
	require.Equal(t, "before", out.Value)

	const held = 4
	unaryErrs := make(chan error, held)
	for range held {
		go func() { unaryErrs <- echoOnce(ctx, cc, holdRequest) }()
	}
	for range held {
		first.waitLine(t, "started "+holdRequest, 10*time.Second)
	}

	first.kill(t)
	killedAt := time.Now()

	err = st.RecvMsg(new(wrapperspb.StringValue))
	assert.Equal(t, codes.Unavailable, status.Code(err), "stream: %v", err)
	for range held {
		err := <-unaryErrs
		assert.Equal(t, codes.Unavailable, status.Code(err), "unary: %v", err)
	}
	// UNAVAILABLE, not the context's DEADLINE_EXCEEDED: the lost
	// connection ended them, not the 15 s deadline.
	failedAfter := time.Since(killedAt)

	// Nothing listens now: a call that does not wait for ready fails
	// fast, and its attempt to connect is the first one refused.
	fastCtx, fastCancel := context.WithTimeout(ctx, 2*time.Second)
	err = echoOnce(fastCtx, cc, "no server")
	fastCancel()
	assert.Equal(t, codes.Unavailable, status.Code(err), "call with no server: %v", err)
	require.True(t, dials.waitFailure(5*time.Second), "no connection attempt failed after the kill")

	second := startChild(t, "server", addr)
	second.waitLine(t, "ready ", 10*time.Second)

	readyCtx, readyCancel := context.WithTimeout(ctx, 10*time.Second)
	defer readyCancel()
	require.NoError(t, echoOnce(readyCtx, cc, "after", client.WaitForReady(true)))
	t.Logf("in-flight calls failed %v after SIGKILL; new server answered %v after it",
		failedAfter.Round(time.Microsecond), time.Since(killedAt).Round(time.Millisecond))

	attempts := dials.since(killedAt)
	require.GreaterOrEqual(t, len(attempts), 2, "reconnected without a failed attempt in between")
	assert.Error(t, attempts[0].err, "first attempt after the kill")
	assert.NoError(t, attempts[len(attempts)-1].err, "last attempt")
	assert.LessOrEqual(t, len(attempts), 4, "too many attempts: %v", attempts)
	// Retry n waits 1 s·1.6ⁿ ±20 % after attempt n failed (attempts to a
	// closed port fail at once); slack covers scheduling under -race.
	const slack = 300 * time.Millisecond
	want := time.Second
	for i := 1; i < len(attempts); i++ {
		gap := attempts[i].at.Sub(attempts[i-1].at)
		t.Logf("attempt %d: %v after the previous one (nominal %v), err=%v", i, gap.Round(time.Millisecond), want, attempts[i].err)
		assert.GreaterOrEqual(t, gap, want*8/10, "retry %d came too early", i)
		assert.LessOrEqual(t, gap, want*12/10+slack, "retry %d came too late", i)
		want = want * 16 / 10
	}
}

// dialLog dials TCP and records each attempt.
type dialLog struct {
	mu       sync.Mutex
	attempts []dialAttempt
	failures int
	changed  chan struct{} // closed and replaced on every failure
}

type dialAttempt struct {
	at  time.Time
	err error
}

func (d *dialLog) dial(ctx context.Context, addr string) (net.Conn, error) {
	at := time.Now()
	var nd net.Dialer
	c, err := nd.DialContext(ctx, "tcp", addr)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.attempts = append(d.attempts, dialAttempt{at: at, err: err})
	if err != nil {
		d.failures++
		if d.changed != nil {
			close(d.changed)
			d.changed = nil
		}
	}
	return c, err
}

// waitFailure reports whether an attempt has failed, waiting up to d.
func (d *dialLog) waitFailure(timeout time.Duration) bool {
	d.mu.Lock()
	if d.failures > 0 {
		d.mu.Unlock()
		return true
	}
	if d.changed == nil {
		d.changed = make(chan struct{})
	}
	ch := d.changed
	d.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
		return false
	}
}

// since returns the attempts started at or after t.
func (d *dialLog) since(t time.Time) []dialAttempt {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []dialAttempt
	for _, a := range d.attempts {
		if !a.at.Before(t) {
			out = append(out, a)
		}
	}
	return out
}
