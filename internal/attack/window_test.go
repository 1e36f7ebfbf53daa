package attack

import (
	"context"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// TestZeroWindowUpdate: WINDOW_UPDATE with an increment of 0 is a
// connection error on stream 0 and a stream error on a stream (RFC 9113
// §6.9).
func TestZeroWindowUpdate(t *testing.T) {
	tgt := startServer(t)
	cc := goodClient(t, tgt)
	base := measure()
	pr := startProber(t, cc)

	t.Run("connection", func(t *testing.T) {
		p := connect(t, tgt.addr)
		p.wfr.WriteWindowUpdate(0, 0)
		require.NoError(t, p.flush())
		ga, ok := p.await(3*time.Second, isGoAway)
		require.True(t, ok, "no GOAWAY; server sent %v", p.summary())
		assert.Equal(t, http2.ErrCodeProtocol, ga.code, "GOAWAY code (debug %q)", ga.debug)
		assert.True(t, p.awaitClosed(3*time.Second), "connection not closed after GOAWAY")
	})
	t.Run("stream", func(t *testing.T) {
		p := connect(t, tgt.addr)
		id := p.newID()
		p.headers(id, false, request(holdPath))
		require.NoError(t, p.flush())
		require.Eventually(t, func() bool { return tgt.svc.hold.cur.Load() == 1 }, 3*time.Second, time.Millisecond, "the call did not start")
		p.wfr.WriteWindowUpdate(id, 0)
		require.NoError(t, p.flush())
		rst, ok := p.await(3*time.Second, isRST(id))
		require.True(t, ok, "no RST_STREAM; server sent %v", p.summary())
		assert.Equal(t, http2.ErrCodeProtocol, rst.code)
		waitIdle(t, &tgt.svc.hold) // the reset ended the handler's context

		next := p.call("/attack.Echo/Unary", "after")
		require.NoError(t, p.flush())
		e, ok := p.await(3*time.Second, ends(next))
		require.True(t, ok, "the connection stopped serving; server sent %v", p.summary())
		assert.Equal(t, "0", e.header("grpc-status"), "%v", e.fields)
		_, goaway := p.await(0, isGoAway)
		assert.False(t, goaway, "a stream error ended the connection")
	})
	pr.check(t)
	settle(t, "after the attackers left", base)
}

// zeroWindowCall connects with SETTINGS_INITIAL_WINDOW_SIZE 0 and calls
// Flood with a deadline, never granting any window.
func zeroWindowCall(t *testing.T, tgt *target, timeout string) (*peer, uint32) {
	t.Helper()
	p := dialPeer(t, tgt.addr, 0, 0)
	p.handshake(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	p.startReading()
	id := p.call("/attack.Echo/Flood", "go", hpack.HeaderField{Name: "grpc-timeout", Value: timeout})
	require.NoError(t, p.flush())
	return p, id
}

// TestZeroWindowPeer: a server-streaming handler whose peer never opens
// its window blocks in SendMsg once the stream's write quota is queued
// (backpressure, not buffering), its deadline still ends its context,
// and the attempted sends cost no memory.
func TestZeroWindowPeer(t *testing.T) {
	tgt := startServer(t)
	cc := goodClient(t, tgt)
	base := measure()
	pr := startProber(t, cc)

	const deadline = 300 * time.Millisecond
	p, id := zeroWindowCall(t, tgt, "300m")
	var res floodResult
	select {
	case res = <-tgt.svc.floods:
	case <-time.After(5 * time.Second):
		t.Fatal("the handler is still sending 5 s after its deadline")
	}
	during := measure()
	t.Logf("zero window: handler sent %d messages of %d KiB, then blocked; returned after %v with %v; server sent %v",
		res.sent, tgt.svc.floodMsg>>10, res.elapsed.Round(time.Millisecond), res.ctxErr, p.summary())
	assert.ErrorIs(t, res.ctxErr, context.DeadlineExceeded)
	assert.GreaterOrEqual(t, res.elapsed, deadline-50*time.Millisecond, "SendMsg failed before the deadline")
	// The stream's write quota (64 KiB) bounds what a sender may queue.
	assert.LessOrEqual(t, res.sent, (64<<10)/tgt.svc.floodMsg+1, "SendMsg did not block: messages are buffered")
	assert.Zero(t, p.count(func(e event) bool { return e.stream == id && e.typ == http2.FrameData && e.length > 0 }),
		"DATA sent into a zero window")
	checkUsage(t, "with the stalled stream still open", base, during, heapSlack, goroutineSlack)
	pr.check(t)
	p.nc.Close()
	settle(t, "after the attacker left", base)
}

// TestZeroWindowPeerStreamEnds: once the deadline of a call whose peer
// never opens its window has passed and its handler has returned, the
// server ends the stream (it cannot send the trailers, which must follow
// the blocked DATA) and frees its slot and its queued messages.
func TestZeroWindowPeerStreamEnds(t *testing.T) {
	tgt := startServer(t, server.MaxConcurrentStreams(1))
	p, id := zeroWindowCall(t, tgt, "200m")
	e, ok := p.await(3*time.Second, ends(id))
	t.Logf("zero window: server sent %v", p.summary())
	require.True(t, ok, "the stream was not ended after its deadline")
	if e.typ == http2.FrameRSTStream {
		assert.Equal(t, http2.ErrCodeCancel, e.code)
	}
	// Its slot is free: the next call on the connection is taken, and its
	// reply starts (the peer's zero window holds back the reply's DATA,
	// so the call cannot finish).
	next := p.call("/attack.Echo/Unary", "next")
	require.NoError(t, p.flush())
	_, ok = p.await(3*time.Second, func(e event) bool {
		return e.stream == next && (e.typ == http2.FrameHeaders || e.typ == http2.FrameRSTStream)
	})
	require.True(t, ok, "the next call got no answer")
	_, refused := p.await(0, func(e event) bool {
		return isRST(next)(e) && e.code == http2.ErrCodeRefusedStream
	})
	assert.False(t, refused, "the next call was refused: the stalled stream still holds its slot")
}
