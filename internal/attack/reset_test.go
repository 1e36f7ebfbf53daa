package attack

import (
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

const (
	// floodStreams is how many streams a reset flood opens: far more
	// than any sane client cancels on one connection in a second.
	floodStreams = 10000
	// floodBatch is how many streams go out per write.
	floodBatch = 100
	// holdPath is the method the attackers call: it runs until its call
	// ends, so a handler the server forgets to stop shows up.
	holdPath = "/attack.Echo/Hold"
)

// floodStreamsWith opens up to n streams on p, scripting each with
// script, in batches; it stops early when the server closes the
// connection and returns how many it sent.
func floodStreamsWith(p *peer, n int, script func(p *peer, id uint32)) int {
	sent := 0
	for sent < n {
		for range min(floodBatch, n-sent) {
			script(p, p.newID())
			sent++
		}
		if err := p.flush(); err != nil {
			break
		}
		if p.isClosed() {
			break
		}
	}
	return sent
}

// rapidReset opens a stream and cancels it at once (CVE-2023-44487).
func rapidReset(p *peer, id uint32) {
	p.headers(id, false, request(holdPath))
	p.wfr.WriteRSTStream(id, http2.ErrCodeCancel)
}

// waitIdle waits for every Hold handler to return.
func waitIdle(t *testing.T, g *gauge) {
	t.Helper()
	require.Eventually(t, func() bool { return g.cur.Load() == 0 }, 5*time.Second, 10*time.Millisecond,
		"%d Hold handlers still running after the attack", g.cur.Load())
}

// TestRapidResetBounded: streams opened and cancelled at once never run
// more handlers than MaxConcurrentStreams, even when handlers take a
// moment to notice the cancellation (a reset stream keeps its slot until
// its handler has returned), and the server stays healthy.
func TestRapidResetBounded(t *testing.T) {
	floodBounded(t, "rapid reset", rapidReset)
}

// floodBounded runs floodStreams streams scripted by attack against a
// server with MaxConcurrentStreams 8 whose handlers take a moment to see
// their end, and checks that the server gets through the flood with the
// connection open, never runs more handlers than allowed, keeps serving
// another client and stays within its memory and goroutine bounds.
func floodBounded(t *testing.T, name string, attack func(p *peer, id uint32)) {
	t.Helper()
	const maxStreams = 8
	tgt := startServer(t, server.MaxConcurrentStreams(maxStreams))
	cc := goodClient(t, tgt)
	base := measure()
	pr := startProber(t, cc)
	tgt.svc.linger.Store(int64(2 * time.Millisecond))
	p := connect(t, tgt.addr)

	start := time.Now()
	sent := floodStreamsWith(p, floodStreams, attack)
	synced := p.sync(10 * time.Second)
	// A flood that costs tokens may end in GOAWAY(ENHANCE_YOUR_CALM)
	// first (or, for trailers on a stream refused for want of a slot, in
	// GOAWAY(STREAM_CLOSED), as x/net and grpc-go do); what matters here
	// is what the server held meanwhile.
	wait := time.Duration(0)
	if !synced {
		wait = 3 * time.Second
	}
	_, calm := p.await(wait, isGoAway)
	require.True(t, synced || calm, "the server neither got through the flood nor ended it; %d streams sent, server sent %v", sent, p.summary())
	took := time.Since(start)
	during := measure()
	waitIdle(t, &tgt.svc.hold)
	t.Logf("%s: %d streams in %v; %d handlers started, at most %d at once; server sent %v",
		name, sent, took.Round(time.Millisecond), tgt.svc.hold.total.Load(), tgt.svc.hold.peak.Load(), p.summary())

	if !calm {
		assert.Equal(t, floodStreams, sent, "the server closed the connection")
	}
	assert.Positive(t, tgt.svc.hold.total.Load(), "no handler ran: the attack did not reach the server")
	assert.LessOrEqual(t, tgt.svc.hold.peak.Load(), int64(maxStreams), "more handlers ran at once than MaxConcurrentStreams")
	checkUsage(t, "during the flood", base, during, heapSlack, goroutineSlack)
	pr.check(t)
	p.nc.Close()
	settle(t, "after the attacker left", base)
}

// TestRapidResetGoAway: a connection that keeps opening and cancelling
// streams is ended with GOAWAY(ENHANCE_YOUR_CALM).
func TestRapidResetGoAway(t *testing.T) {
	floodGoAway(t, "rapid reset", rapidReset)
}

// floodGoAway runs twice floodStreams streams scripted by attack against a
// server with the default (unlimited) MaxConcurrentStreams, where this
// matters most, and checks that the connection is ended with
// GOAWAY(ENHANCE_YOUR_CALM) before the flood is through while another
// client keeps being served.
func floodGoAway(t *testing.T, name string, attack func(p *peer, id uint32)) {
	t.Helper()
	tgt := startServer(t)
	cc := goodClient(t, tgt)
	pr := startProber(t, cc)
	p := connect(t, tgt.addr)

	sent := floodStreamsWith(p, 2*floodStreams, attack)
	ga, ok := p.await(3*time.Second, isGoAway)
	t.Logf("%s: %d streams sent, connection closed: %v; server sent %v", name, sent, p.isClosed(), p.summary())
	require.True(t, ok, "no GOAWAY")
	assert.Equal(t, http2.ErrCodeEnhanceYourCalm, ga.code, "GOAWAY code (debug %q)", ga.debug)
	assert.Less(t, sent, 2*floodStreams, "the server read the whole flood")
	assert.True(t, p.awaitClosed(3*time.Second), "connection not closed after GOAWAY")
	pr.check(t)
}

// cancelRunning sends a whole request and cancels it: what a client with
// short deadlines or hedged calls does all day.
func cancelRunning(p *peer, id uint32) {
	p.headers(id, false, request(holdPath))
	p.wfr.WriteData(id, true, grpcMsgString("x"))
	p.wfr.WriteRSTStream(id, http2.ErrCodeCancel)
}

// TestCancelledCallsAreNotRapidReset: a client that cancels calls whose
// requests it has sent, far faster than the reset budget refills, keeps
// its connection (grpc-go never ends one for cancellations), while the
// server stays within its bounds and ends every handler.
func TestCancelledCallsAreNotRapidReset(t *testing.T) {
	tgt := startServer(t)
	cc := goodClient(t, tgt)
	base := measure()
	pr := startProber(t, cc)
	p := connect(t, tgt.addr)

	sent := floodStreamsWith(p, 2*floodStreams, cancelRunning)
	require.True(t, p.sync(10*time.Second), "the server did not get through %d cancelled calls; it sent %v", sent, p.summary())
	during := measure()
	_, calm := p.await(0, isGoAway)
	assert.False(t, calm, "GOAWAY for cancelled calls; server sent %v", p.summary())
	assert.Equal(t, 2*floodStreams, sent)
	waitIdle(t, &tgt.svc.hold)
	assert.Positive(t, tgt.svc.hold.total.Load(), "no handler ran: the calls did not reach the server")
	checkUsage(t, "during the cancellations", base, during, heapSlack, goroutineSlack)
	pr.check(t)
	p.nc.Close()
	settle(t, "after the client left", base)
}

// provocation makes the server reset a stream it has opened
// (MadeYouReset, CVE-2025-8671).
type provocation struct {
	name   string
	code   http2.ErrCode // the RST_STREAM code the server must answer with
	script func(p *peer, id uint32)
	// refused: the stream is never accepted (its headers are refused),
	// so no handler runs and answering it costs the peer no token; the
	// answers are throttled like any others.
	refused bool
}

var provocations = []provocation{{
	name: "WINDOW_UPDATE of 0",
	code: http2.ErrCodeProtocol,
	script: func(p *peer, id uint32) {
		p.headers(id, false, request(holdPath))
		p.wfr.WriteWindowUpdate(id, 0)
	},
}, {
	name: "stream window overflow",
	code: http2.ErrCodeFlowControl,
	script: func(p *peer, id uint32) {
		p.headers(id, false, request(holdPath))
		p.wfr.WriteWindowUpdate(id, 1<<31-1)
	},
}, {
	name: "DATA after END_STREAM",
	code: http2.ErrCodeStreamClosed,
	script: func(p *peer, id uint32) {
		p.headers(id, false, request(holdPath))
		msg := grpcMsgString("x")
		p.wfr.WriteData(id, true, msg)
		p.wfr.WriteData(id, false, msg)
	},
}, {
	name: "upper-case header name",
	code: http2.ErrCodeProtocol,
	script: func(p *peer, id uint32) {
		p.headers(id, false, request(holdPath, hpack.HeaderField{Name: "X-Bad", Value: "1"}))
	},
	refused: true,
}, {
	name: "trailers without END_STREAM",
	code: http2.ErrCodeProtocol,
	script: func(p *peer, id uint32) {
		p.headers(id, false, request(holdPath))
		p.headers(id, false, []hpack.HeaderField{{Name: "x-trailer", Value: "1"}})
	},
}, {
	name: "END_STREAM in the middle of a message",
	code: http2.ErrCodeProtocol,
	script: func(p *peer, id uint32) {
		p.headers(id, false, request(holdPath))
		p.wfr.WriteData(id, true, grpcMsgString("abcdef")[:4])
	},
}, {
	name: "body longer than content-length",
	code: http2.ErrCodeProtocol,
	script: func(p *peer, id uint32) {
		p.headers(id, false, request(holdPath, hpack.HeaderField{Name: "content-length", Value: "1"}))
		p.wfr.WriteData(id, true, grpcMsgString("xyz"))
	},
}}

// TestProvokedResets: each malformed frame the flood below uses makes the
// server reset the stream with the right code, end its handler, and do
// nothing more: the connection serves a normal call afterwards.
func TestProvokedResets(t *testing.T) {
	tgt := startServer(t)
	for _, pv := range provocations {
		t.Run(pv.name, func(t *testing.T) {
			p := connect(t, tgt.addr)
			id := p.newID()
			pv.script(p, id)
			require.NoError(t, p.flush())
			e, ok := p.await(3*time.Second, isRST(id))
			require.True(t, ok, "no RST_STREAM; server sent %v", p.summary())
			assert.Equal(t, pv.code, e.code)
			waitIdle(t, &tgt.svc.hold) // the reset ended the handler, if it had started

			next := p.call("/attack.Echo/Unary", "still-here")
			require.NoError(t, p.flush())
			e, ok = p.await(3*time.Second, ends(next))
			require.True(t, ok, "the connection stopped serving; server sent %v", p.summary())
			assert.Equal(t, "0", e.header("grpc-status"), "%v", e.fields)
			_, goaway := p.await(0, isGoAway)
			assert.False(t, goaway, "the connection was ended")
		})
	}
}

// madeYouReset cycles through the provocations.
func madeYouReset() func(p *peer, id uint32) {
	i := 0
	return func(p *peer, id uint32) {
		provocations[i%len(provocations)].script(p, id)
		i++
	}
}

// TestMadeYouResetBounded: streams the server is made to reset free their
// handler slots only once their handlers have returned, so handlers never
// exceed MaxConcurrentStreams; the server stays healthy.
func TestMadeYouResetBounded(t *testing.T) {
	floodBounded(t, "MadeYouReset", madeYouReset())
}

// TestMadeYouResetGoAway: a connection that keeps making the server reset
// streams, by any one of the provocations or all of them in turn, is
// ended with GOAWAY(ENHANCE_YOUR_CALM).
func TestMadeYouResetGoAway(t *testing.T) {
	floodGoAway(t, "MadeYouReset", madeYouReset())
	for _, pv := range provocations {
		if pv.refused {
			continue
		}
		t.Run(pv.name, func(t *testing.T) { floodGoAway(t, pv.name, pv.script) })
	}
}

// TestRefusedStreamFramesIgnored: frames the peer sent on a stream before
// it saw our REFUSED_STREAM are ignored (RFC 9113 §5.1, "closed"), not
// answered with a second RST_STREAM each.
func TestRefusedStreamFramesIgnored(t *testing.T) {
	tgt := startServer(t, server.MaxConcurrentStreams(1))
	p := connect(t, tgt.addr)
	busy := p.newID()
	p.headers(busy, false, request(holdPath))
	require.NoError(t, p.flush())
	require.Eventually(t, func() bool { return tgt.svc.hold.cur.Load() == 1 }, 3*time.Second, time.Millisecond)

	refused := p.call(holdPath, "x")
	require.NoError(t, p.flush())
	require.True(t, p.sync(3*time.Second))
	t.Logf("refused stream: server sent %v", p.summary())
	e, ok := p.await(0, isRST(refused))
	require.True(t, ok, "stream not refused")
	assert.Equal(t, http2.ErrCodeRefusedStream, e.code)
	assert.Equal(t, 1, p.count(isRST(refused)), "more than one RST_STREAM for the refused stream")
}
