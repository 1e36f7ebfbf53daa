package attack

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/keepalive"
	"github.com/h2rpc/h2rpc/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
)

// controlFlood writes frames made by frame as fast as the server takes
// them, never reading its answers, until limit frames or d have gone by,
// the server closes the connection, or a write stalls for half a second:
// the server has stopped reading.
func controlFlood(p *peer, frame func(p *peer), limit int, d time.Duration) (frames int, stalled bool, err error) {
	const batch = 512
	start := time.Now()
	for frames < limit && time.Since(start) < d {
		for range batch {
			frame(p)
		}
		err = p.flushWithin(500 * time.Millisecond)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return frames, true, nil
		}
		if err != nil {
			return frames, false, err
		}
		frames += batch
	}
	return frames, false, nil
}

func ping(p *peer) { p.wfr.WritePing(false, [8]byte{'f', 'l', 'o', 'o', 'd'}) }

func settings(p *peer) {
	p.wfr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 16})
}

// TestControlFloodThrottled: a peer that floods PINGs or SETTINGS (whose
// ACKs the server must send) and never reads the ACKs is throttled: once
// answers pile up the server stops reading it, rather than buffering
// answers without bound; other connections are unaffected.
func TestControlFloodThrottled(t *testing.T) {
	for _, tc := range []struct {
		name  string
		frame func(p *peer)
	}{{"PING", ping}, {"SETTINGS", settings}} {
		t.Run(tc.name, func(t *testing.T) {
			// Pings are allowed at any rate, so that only the throttle
			// stands between the flood and the heap.
			tgt := startSmallBufferServer(t, server.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Nanosecond, PermitWithoutStream: true}))
			cc := goodClient(t, tgt)
			base := measure()
			pr := startProber(t, cc)
			// Small socket buffers: the kernel holds less of the flood.
			p := dialPeer(t, tgt.addr, 4<<10, 16<<10)
			p.handshake()

			start := time.Now()
			frames, stalled, err := controlFlood(p, tc.frame, 2_000_000, 8*time.Second)
			took := time.Since(start)
			during := measure()
			t.Logf("%s flood: %d frames (%.1f MiB) written in %v before the server stopped reading: %v (err %v)",
				tc.name, frames, mib(uint64(p.sent)), took.Round(time.Millisecond), stalled, err)
			require.NoError(t, err)
			require.True(t, stalled, "the server kept reading a peer that reads none of its answers")
			// Still stalled a moment later: the server is not just slow.
			// (The kernel may find room for a few frames; not for 4096.)
			time.Sleep(200 * time.Millisecond)
			for range 4096 {
				tc.frame(p)
			}
			assert.ErrorIs(t, p.flushWithin(300*time.Millisecond), os.ErrDeadlineExceeded, "the server resumed reading")
			checkUsage(t, "while the flooder is stalled", base, during, heapSlack, goroutineSlack)
			pr.check(t)
			p.nc.Close()
			settle(t, "after the flooder left", base)
		})
	}
}

// TestPingFloodGoAway: under the default ping policy a PING flood ends
// with GOAWAY(ENHANCE_YOUR_CALM, "too_many_pings").
func TestPingFloodGoAway(t *testing.T) {
	tgt := startServer(t)
	cc := goodClient(t, tgt)
	base := measure()
	pr := startProber(t, cc)
	p := connect(t, tgt.addr)

	frames, _, err := controlFlood(p, ping, 100_000, 3*time.Second)
	ga, ok := p.await(3*time.Second, isGoAway)
	t.Logf("PING flood: %d frames written (last error %v); server sent %v", frames, err, p.summary())
	require.True(t, ok, "no GOAWAY")
	assert.Equal(t, http2.ErrCodeEnhanceYourCalm, ga.code)
	assert.Equal(t, "too_many_pings", ga.debug)
	assert.True(t, p.awaitClosed(3*time.Second), "connection not closed after GOAWAY")
	assert.LessOrEqual(t, p.count(func(e event) bool { return e.typ == http2.FramePing }), 3, "PINGs answered before GOAWAY")
	pr.check(t)
	settle(t, "after the flooder left", base)
}

// emptyData adds n empty DATA frames without END_STREAM on stream id.
func emptyData(p *peer, id uint32, n int) {
	for range n {
		p.wfr.WriteData(id, false, nil)
	}
}

// emptyDataFlood opens a Hold call and sends up to n empty DATA frames on
// it, until the server closes the connection or d has gone by. It
// returns how many it sent.
func emptyDataFlood(t *testing.T, p *peer, n int, d time.Duration) int {
	t.Helper()
	id := p.newID()
	p.headers(id, false, request(holdPath))
	require.NoError(t, p.flush())
	sent := 0
	start := time.Now()
	for sent < n && time.Since(start) < d && !p.isClosed() {
		emptyData(p, id, 1000)
		if err := p.flush(); err != nil {
			break
		}
		sent += 1000
	}
	return sent
}

// TestEmptyDataFloodBounded: empty DATA frames on an open stream
// (CVE-2019-9518) cost the server no memory and do not starve other
// connections.
func TestEmptyDataFloodBounded(t *testing.T) {
	tgt := startServer(t)
	cc := goodClient(t, tgt)
	base := measure()
	pr := startProber(t, cc)
	p := connect(t, tgt.addr)

	start := time.Now()
	sent := emptyDataFlood(t, p, 100_000, 2*time.Second)
	synced := p.sync(10 * time.Second)
	took := time.Since(start)
	during := measure()
	t.Logf("empty DATA flood: %d frames in %v, connection closed: %v; server sent %v",
		sent, took.Round(time.Millisecond), p.isClosed(), p.summary())
	assert.True(t, synced || p.isClosed(), "the server neither got through the flood nor ended the connection")
	checkUsage(t, "during the flood", base, during, heapSlack, goroutineSlack)
	pr.check(t)
	p.nc.Close()
	settle(t, "after the attacker left", base)
}

// TestEmptyDataFloodGoAway: a peer that sends thousands of empty DATA
// frames on a stream is disconnected with GOAWAY(ENHANCE_YOUR_CALM).
func TestEmptyDataFloodGoAway(t *testing.T) {
	tgt := startServer(t)
	p := connect(t, tgt.addr)

	sent := emptyDataFlood(t, p, 100_000, 5*time.Second)
	ga, ok := p.await(3*time.Second, isGoAway)
	t.Logf("empty DATA flood: %d frames sent; server sent %v", sent, p.summary())
	require.True(t, ok, "no GOAWAY")
	assert.Equal(t, http2.ErrCodeEnhanceYourCalm, ga.code, "GOAWAY code (debug %q)", ga.debug)
	assert.True(t, p.awaitClosed(3*time.Second), "connection not closed after GOAWAY")
}
