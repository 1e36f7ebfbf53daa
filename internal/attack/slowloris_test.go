package attack

import (
	"bytes"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/keepalive"
	"github.com/h2rpc/h2rpc/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
)

// handshakeTimeout is the server's ConnectionTimeout in these tests.
const handshakeTimeout = 500 * time.Millisecond

// dribbler writes the client preface one byte every 100 ms and records
// when the server closes the connection and what it sent.
type dribbler struct {
	nc       net.Conn
	wrote    int           // preface bytes written
	closedAt time.Duration // since start, when the read side ended
	read     bytes.Buffer  // what the server sent
}

func (d *dribbler) run(start time.Time) {
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		io.Copy(&d.read, d.nc)
		d.closedAt = time.Since(start)
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for i := range len(http2.ClientPreface) {
		d.nc.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := d.nc.Write([]byte{http2.ClientPreface[i]}); err != nil {
			break
		}
		d.wrote++
		select {
		case <-tick.C:
			continue
		case <-closed:
		}
		break
	}
	<-closed
}

// TestSlowPreface: connections that dribble the client preface byte by
// byte (slowloris) are closed once ConnectionTimeout has passed, having
// been sent nothing but the server's own preface, and cost nothing
// afterwards.
func TestSlowPreface(t *testing.T) {
	tgt := startServer(t, server.ConnectionTimeout(handshakeTimeout))
	cc := goodClient(t, tgt)
	base := measure()
	pr := startProber(t, cc)

	const conns = 20
	ds := make([]*dribbler, conns)
	for i := range ds {
		nc, err := net.Dial("tcp", tgt.addr)
		require.NoError(t, err)
		t.Cleanup(func() { nc.Close() })
		ds[i] = &dribbler{nc: nc}
	}
	start := time.Now()
	var wg sync.WaitGroup
	for _, d := range ds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.run(start)
		}()
	}
	time.Sleep(handshakeTimeout / 2)
	during := measure()
	// A connection the server never closes would keep its dribbler
	// waiting forever; this only stops such a test.
	allClosed := make(chan struct{})
	go func() {
		wg.Wait()
		close(allClosed)
	}()
	select {
	case <-allClosed:
	case <-time.After(handshakeTimeout + 10*time.Second):
		t.Fatal("slow connections still open 10 s after ConnectionTimeout")
	}

	var latest time.Duration
	for i, d := range ds {
		latest = max(latest, d.closedAt)
		// At a byte per 100 ms the preface takes 2.4 s: a connection
		// that got all of it through outlived ConnectionTimeout.
		assert.Less(t, d.wrote, len(http2.ClientPreface), "connection %d: the whole preface went through", i)
		assert.Equal(t, []string{"SETTINGS", "WINDOW_UPDATE"}, frameTypes(t, d.read.Bytes()),
			"connection %d: the server sent more than its preface to a partial client preface", i)
		assert.GreaterOrEqual(t, d.closedAt, handshakeTimeout-50*time.Millisecond, "connection %d closed before the timeout", i)
	}
	t.Logf("slow preface: %d connections, each closed after %d bytes of preface; the last %v after it opened",
		conns, ds[0].wrote, latest.Round(time.Millisecond))
	checkUsage(t, "with the slow connections open", base, during, heapSlack, 2*conns+goroutineSlack)
	pr.check(t)
	settle(t, "after the slow connections closed", base)
}

// TestNoSettings: a client that sends the preface but never its SETTINGS
// frame has not finished the HTTP/2 handshake; it is closed once
// ConnectionTimeout has passed.
func TestNoSettings(t *testing.T) {
	tgt := startServer(t, server.ConnectionTimeout(handshakeTimeout))
	p := dialPeer(t, tgt.addr, 0, 0)
	p.batch.WriteString(http2.ClientPreface)
	require.NoError(t, p.flush())
	p.startReading()
	start := time.Now()
	closed := p.awaitClosed(handshakeTimeout + 2*time.Second)
	t.Logf("no SETTINGS: closed %v after %v; server sent %v", closed, time.Since(start).Round(time.Millisecond), p.summary())
	assert.True(t, closed, "the connection is still open %v after the preface", time.Since(start).Round(time.Millisecond))
}

// idleTimeout is the server's MaxConnectionIdle in these tests.
const idleTimeout = 300 * time.Millisecond

// awaitIdleGoAway waits for the GOAWAY that starts the idle shutdown.
func awaitIdleGoAway(t *testing.T, p *peer, start time.Time) {
	t.Helper()
	ga, ok := p.await(idleTimeout+2*time.Second, isGoAway)
	require.True(t, ok, "no GOAWAY on an idle connection; server sent %v", p.summary())
	t.Logf("idle: GOAWAY(%v, %q) after %v", ga.code, ga.debug, ga.at.Sub(start).Round(time.Millisecond))
	assert.Equal(t, http2.ErrCodeNo, ga.code)
	assert.Equal(t, "max_idle", ga.debug)
	assert.Equal(t, uint32(1<<31-1), ga.lastID, "the first GOAWAY of a graceful close names the largest stream id")
	assert.GreaterOrEqual(t, ga.at.Sub(start), idleTimeout-50*time.Millisecond, "GOAWAY before MaxConnectionIdle")
}

// TestIdleConnectionClosed: a connection that runs no call for
// MaxConnectionIdle gets GOAWAY and is closed; one that does (the
// well-behaved client's) stays.
func TestIdleConnectionClosed(t *testing.T) {
	tgt := startServer(t, server.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: idleTimeout}))
	cc := goodClient(t, tgt)
	base := measure()
	pr := startProber(t, cc)

	const conns = 10
	start := time.Now()
	ps := make([]*peer, conns)
	for i := range ps {
		ps[i] = connect(t, tgt.addr)
	}
	for i, p := range ps {
		awaitIdleGoAway(t, p, start)
		// The GOAWAY comes with a PING; the ACK proves it was seen.
		pg, ok := p.await(2*time.Second, func(e event) bool { return e.typ == http2.FramePing && !e.flags.Has(http2.FlagPingAck) })
		require.True(t, ok, "connection %d: no PING with the GOAWAY", i)
		p.wfr.WritePing(true, pg.ping)
		require.NoError(t, p.flush())
		final, ok := p.await(2*time.Second, func(e event) bool { return isGoAway(e) && e.lastID != 1<<31-1 })
		require.True(t, ok, "connection %d: no final GOAWAY after the PING's ACK", i)
		assert.Zero(t, final.lastID, "connection %d: final GOAWAY names a stream that was never opened", i)
	}
	for i, p := range ps {
		assert.True(t, p.awaitClosed(2*time.Second), "connection %d: idle connection not closed; server sent %v", i, p.summary())
	}
	t.Logf("idle: %d connections closed %v after they opened", conns, time.Since(start).Round(time.Millisecond))
	pr.check(t)
	settle(t, "after the idle connections closed", base)
}

// TestIdlePeerIgnoresGoAway: an idle connection whose peer never answers
// the PING sent with the GOAWAY is closed all the same, a few seconds
// later.
func TestIdlePeerIgnoresGoAway(t *testing.T) {
	tgt := startServer(t, server.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: idleTimeout}))
	p := connect(t, tgt.addr)
	start := time.Now()
	awaitIdleGoAway(t, p, start)
	closed := p.awaitClosed(8 * time.Second)
	t.Logf("idle, PING ignored: closed %v after %v; server sent %v", closed, time.Since(start).Round(time.Millisecond), p.summary())
	assert.True(t, closed, "the idle connection is still open")
}

// frameTypes lists the types of the frames in b.
func frameTypes(t *testing.T, b []byte) []string {
	t.Helper()
	fr := http2.NewFramer(nil, bytes.NewReader(b))
	var types []string
	for {
		f, err := fr.ReadFrame()
		if err == io.EOF {
			return types
		}
		require.NoError(t, err)
		types = append(types, f.Header().Type.String())
	}
}
