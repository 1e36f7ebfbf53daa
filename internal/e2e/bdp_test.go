package e2e

import (
	"context"
	"encoding/binary"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/client"
	"github.com/h2rpc/h2rpc/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// delayedConn delivers each Write to the peer `delay` later, in order,
// without blocking the writer: a link with latency but plenty of
// bandwidth.
type delayedConn struct {
	net.Conn
	delay time.Duration

	mu     sync.Mutex
	queue  []delayedChunk
	wake   chan struct{}
	closed chan struct{}
	once   sync.Once
	done   chan struct{}
}

type delayedChunk struct {
	due time.Time
	b   []byte
}

func newDelayedConn(c net.Conn, delay time.Duration) *delayedConn {
	d := &delayedConn{Conn: c, delay: delay, wake: make(chan struct{}, 1), closed: make(chan struct{}), done: make(chan struct{})}
	go d.deliver()
	return d
}

func (d *delayedConn) Write(p []byte) (int, error) {
	b := append([]byte(nil), p...)
	d.mu.Lock()
	d.queue = append(d.queue, delayedChunk{due: time.Now().Add(d.delay), b: b})
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (d *delayedConn) deliver() {
	defer close(d.done)
	for {
		d.mu.Lock()
		if len(d.queue) == 0 {
			d.mu.Unlock()
			select {
			case <-d.wake:
				continue
			case <-d.closed:
				return
			}
		}
		c := d.queue[0]
		d.mu.Unlock()
		if wait := time.Until(c.due); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-d.closed:
				t.Stop()
				return
			}
		}
		d.mu.Lock()
		// Everything due by now goes out in one write.
		var out []byte
		n := 0
		for n < len(d.queue) && !d.queue[n].due.After(time.Now()) {
			out = append(out, d.queue[n].b...)
			n++
		}
		d.queue = d.queue[n:]
		d.mu.Unlock()
		if _, err := d.Conn.Write(out); err != nil {
			return
		}
	}
}

func (d *delayedConn) Close() error {
	d.once.Do(func() { close(d.closed) })
	err := d.Conn.Close()
	<-d.done
	return err
}

type delayedListener struct {
	net.Listener
	delay time.Duration
}

func (l delayedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newDelayedConn(c, l.delay), nil
}

// staticWindow is HTTP/2's default window, what a connection without BDP
// estimation keeps for its streams and itself.
const staticWindow = 65535

// TestBDPGrowsWindowsOnSlowLink: a client downloading over a link with a
// 20 ms round trip, where a 64 KiB window allows only 3 MB/s, announces a
// larger stream window once its BDP measurements see the link, and the
// download goes on over the grown windows.
func TestBDPGrowsWindowsOnSlowLink(t *testing.T) {
	const oneWay = 10 * time.Millisecond
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := server.New()
	s.RegisterService(&echoDesc, echoService{})
	go s.Serve(delayedListener{lis, oneWay})
	defer s.Stop()
	out := &frameScanner{skip: len(http2.ClientPreface)}
	cc, err := client.New(lis.Addr().String(), client.WithInsecure(),
		client.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				return nil, err
			}
			return scannedConn{newDelayedConn(c, oneWay), out, &frameScanner{}}, nil
		}))
	require.NoError(t, err)
	defer cc.Close()

	// The deadline only stops a hung test: at 64 KiB per round trip the
	// download takes under 3 s.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := cc.NewStream(ctx, &client.StreamDesc{ServerStreams: true}, "/test.Echo/Download")
	require.NoError(t, err)
	require.NoError(t, st.SendMsg(wrapperspb.String("")))
	const messages = 8 // of 1 MiB
	msg := new(wrapperspb.BytesValue)
	for i := range messages {
		require.NoError(t, st.RecvMsg(msg), "message %d", i)
		require.Len(t, msg.Value, 1<<20, "message %d", i)
	}
	cancel()

	opening, grown := out.openingWindow.Load(), out.grownWindow.Load()
	t.Logf("%d MiB server-streaming over a 20 ms RTT link: the client opened with a stream window of %d B and announced up to %d B",
		messages, opening, grown)
	assert.Greater(t, grown, max(opening, staticWindow), "the client never announced a stream window larger than its first and the static 64 KiB")
}

// frameScanner follows one direction of an HTTP/2 byte stream and counts
// the PINGs (not their ACKs) in it, and records the stream windows its
// SETTINGS announce.
type frameScanner struct {
	skip  int // bytes to pass over: the preface, or the current payload
	hdr   [9]byte
	hn    int
	pings atomic.Int64

	keep bool // the current payload, a SETTINGS frame's, is collected in body
	body []byte

	openingWindow atomic.Uint32 // SETTINGS_INITIAL_WINDOW_SIZE of the first SETTINGS, 65535 if absent
	grownWindow   atomic.Uint32 // the largest one announced by a later SETTINGS
	settings      int           // SETTINGS frames seen (not ACKs)
}

func (f *frameScanner) scan(p []byte) {
	for len(p) > 0 {
		if f.skip > 0 {
			k := min(f.skip, len(p))
			if f.keep {
				f.body = append(f.body, p[:k]...)
			}
			f.skip -= k
			p = p[k:]
			if f.skip == 0 && f.keep {
				f.settingsPayload()
			}
			continue
		}
		k := copy(f.hdr[f.hn:], p)
		f.hn += k
		p = p[k:]
		if f.hn < len(f.hdr) {
			return
		}
		f.hn = 0
		f.skip = int(f.hdr[0])<<16 | int(f.hdr[1])<<8 | int(f.hdr[2])
		typ, flags := http2.FrameType(f.hdr[3]), http2.Flags(f.hdr[4])
		if typ == http2.FramePing && !flags.Has(http2.FlagPingAck) {
			f.pings.Add(1)
		}
		f.keep = typ == http2.FrameSettings && !flags.Has(http2.FlagSettingsAck)
		f.body = f.body[:0]
		if f.keep && f.skip == 0 {
			f.settingsPayload()
		}
	}
}

// settingsPayload records the stream window a SETTINGS frame announces.
func (f *frameScanner) settingsPayload() {
	f.keep = false
	f.settings++
	window, announced := uint32(0), false
	for b := f.body; len(b) >= 6; b = b[6:] {
		if http2.SettingID(binary.BigEndian.Uint16(b)) == http2.SettingInitialWindowSize {
			window, announced = binary.BigEndian.Uint32(b[2:]), true
		}
	}
	if f.settings == 1 {
		if !announced {
			window = staticWindow
		}
		f.openingWindow.Store(window)
	} else if announced {
		f.grownWindow.Store(max(f.grownWindow.Load(), window))
	}
}

// scannedConn counts the PINGs a client connection sends and receives.
type scannedConn struct {
	net.Conn
	out, in *frameScanner
}

func (c scannedConn) Write(p []byte) (int, error) {
	c.out.scan(p)
	return c.Conn.Write(p)
}

func (c scannedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.in.scan(p[:n])
	return n, err
}

// dialScanned connects a client to addr whose connection counts the
// PINGs it sends (out) and receives (in); the client closes with the test.
func dialScanned(t *testing.T, addr string) (*client.ClientConn, *frameScanner, *frameScanner) {
	t.Helper()
	out := &frameScanner{skip: len(http2.ClientPreface)}
	in := &frameScanner{}
	cc, err := client.New(addr, client.WithInsecure(),
		client.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				return nil, err
			}
			return scannedConn{c, out, in}, nil
		}))
	require.NoError(t, err)
	t.Cleanup(func() { cc.Close() })
	return cc, out, in
}

// Unary calls must not cost a PING and its ACK each. The first call's
// 64 KiB message does not fit the initial 64 KiB window, which is worth a
// measurement (the window grows to fit); after that, messages fit and BDP
// stays quiet.
func TestBDPNoPingsForUnaryCalls(t *testing.T) {
	cc, out, in := dialScanned(t, startServer(t))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	payload := strings.Repeat("x", 64<<10)
	call := func() {
		resp := new(wrapperspb.StringValue)
		require.NoError(t, cc.Invoke(ctx, "/test.Echo/Unary", wrapperspb.String(payload), resp))
		require.Len(t, resp.Value, len(payload))
	}
	call()
	firstOut, firstIn := out.pings.Load(), in.pings.Load()
	const calls = 200
	for range calls {
		call()
	}
	sent, received := out.pings.Load()-firstOut, in.pings.Load()-firstIn
	t.Logf("first unary call of 64 KiB each way: %d PINGs sent by the client, %d by the server; the next %d: %d and %d",
		firstOut, firstIn, calls, sent, received)
	assert.LessOrEqual(t, firstOut+firstIn, int64(2), "one measurement each way at most for the first call")
	// One measurement per call each way was the behaviour before.
	assert.Zero(t, sent, "client PINGs")
	assert.Zero(t, received, "server PINGs")
}

// A stream of small messages never fills the default window, so BDP
// measurements back off: a few PINGs for the first megabytes, then one
// per megabyte, instead of one per 16 KiB of DATA as before.
func TestBDPBacksOffForSmallMessages(t *testing.T) {
	cc, out, in := dialScanned(t, startServer(t))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := cc.NewStream(ctx, &client.StreamDesc{ServerStreams: true, ClientStreams: true}, "/test.Echo/Bidi")
	require.NoError(t, err)
	req := wrapperspb.String(strings.Repeat("x", 1024))
	const roundTrips = 3000 // about 3 MiB each way
	for range roundTrips {
		require.NoError(t, st.SendMsg(req))
		require.NoError(t, st.RecvMsg(new(wrapperspb.StringValue)))
	}
	require.NoError(t, st.CloseSend())
	sent, received := out.pings.Load(), in.pings.Load()
	t.Logf("%d ping-pong round trips of 1 KiB: %d PINGs sent by the client, %d by the server", roundTrips, sent, received)
	// Without the back-off: one per 16 KiB each way, about 190.
	assert.LessOrEqual(t, sent, int64(12), "client PINGs")
	assert.LessOrEqual(t, received, int64(12), "server PINGs")
}
