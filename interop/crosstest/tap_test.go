package crosstest

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
)

// tapListener wraps a server's listener to see what its connections carry
// without touching either runtime: it counts accepted connections and the
// bytes read from and written to clients, and, when parse is set (cleartext
// only), decodes the HTTP/2 frames of both directions into events.
type tapListener struct {
	net.Listener
	parse bool

	accepted      atomic.Int32
	fromClient    atomic.Int64 // bytes read from clients
	toClient      atomic.Int64 // bytes written to clients
	parsers       sync.WaitGroup
	mu            sync.Mutex
	events        []frameEvent // guarded by mu
	firstAccepted time.Time    // guarded by mu
}

// frameEvent is one HTTP/2 frame seen on a tapped connection.
type frameEvent struct {
	at         time.Time
	fromClient bool
	typ        http2.FrameType
	ack        bool          // PING, SETTINGS
	pingData   [8]byte       // PING
	errCode    http2.ErrCode // GOAWAY, RST_STREAM
	debug      string        // GOAWAY
	lastStream uint32        // GOAWAY
}

// newTap listens on a fresh loopback port. Its parser goroutines are
// waited for at the end of the test, after the servers' cleanups (which
// close the connections) have run.
func newTap(t *testing.T, parse bool) *tapListener {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	tl := &tapListener{Listener: lis, parse: parse}
	t.Cleanup(func() {
		done := make(chan struct{})
		go func() { tl.parsers.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("tap: frame parsers still running 10 s after the test")
		}
	})
	return tl
}

func (tl *tapListener) Accept() (net.Conn, error) {
	c, err := tl.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if tl.accepted.Add(1) == 1 {
		tl.mu.Lock()
		tl.firstAccepted = time.Now()
		tl.mu.Unlock()
	}
	tc := &tapConn{Conn: c, tl: tl}
	if tl.parse {
		tc.in = tl.startParser(true)
		tc.out = tl.startParser(false)
	}
	return tc, nil
}

// startParser returns the write end of a pipe whose bytes are decoded as
// HTTP/2 frames until it is closed or they stop making sense.
func (tl *tapListener) startParser(fromClient bool) *io.PipeWriter {
	pr, pw := io.Pipe()
	tl.parsers.Add(1)
	go func() {
		defer tl.parsers.Done()
		// Unblock the connection's reads and writes whatever happens here.
		defer pr.Close()
		if fromClient {
			if _, err := io.ReadFull(pr, make([]byte, len(http2.ClientPreface))); err != nil {
				return
			}
		}
		fr := http2.NewFramer(nil, pr)
		fr.SetMaxReadFrameSize(1<<24 - 1)
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				return
			}
			tl.record(fromClient, f)
		}
	}()
	return pw
}

func (tl *tapListener) record(fromClient bool, f http2.Frame) {
	ev := frameEvent{at: time.Now(), fromClient: fromClient, typ: f.Header().Type}
	switch f := f.(type) {
	case *http2.PingFrame:
		ev.ack, ev.pingData = f.IsAck(), f.Data
	case *http2.SettingsFrame:
		ev.ack = f.IsAck()
	case *http2.GoAwayFrame:
		ev.errCode, ev.debug, ev.lastStream = f.ErrCode, string(f.DebugData()), f.LastStreamID
	case *http2.RSTStreamFrame:
		ev.errCode = f.ErrCode
	}
	tl.mu.Lock()
	tl.events = append(tl.events, ev)
	tl.mu.Unlock()
}

// frames returns the events that match keep, in order.
func (tl *tapListener) frames(keep func(frameEvent) bool) []frameEvent {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	var out []frameEvent
	for _, e := range tl.events {
		if keep(e) {
			out = append(out, e)
		}
	}
	return out
}

// waitFrames polls until at least n events match keep or timeout passes,
// and returns the matching events.
func (tl *tapListener) waitFrames(n int, timeout time.Duration, keep func(frameEvent) bool) []frameEvent {
	deadline := time.Now().Add(timeout)
	for {
		got := tl.frames(keep)
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (tl *tapListener) acceptedAt() time.Time {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return tl.firstAccepted
}

// tapConn is one accepted connection; in and out are nil unless frames
// are parsed.
type tapConn struct {
	net.Conn
	tl        *tapListener
	in, out   *io.PipeWriter
	closeOnce sync.Once
}

func (c *tapConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.tl.fromClient.Add(int64(n))
	if c.in != nil && n > 0 {
		c.in.Write(b[:n]) // fails only once the parser gave up
	}
	if err != nil {
		c.closePipes()
	}
	return n, err
}

func (c *tapConn) Write(b []byte) (int, error) {
	// Counted before the write: the client may act on these bytes before
	// Write returns.
	c.tl.toClient.Add(int64(len(b)))
	n, err := c.Conn.Write(b)
	if c.out != nil && n > 0 {
		c.out.Write(b[:n])
	}
	return n, err
}

func (c *tapConn) Close() error {
	c.closePipes()
	return c.Conn.Close()
}

func (c *tapConn) closePipes() {
	c.closeOnce.Do(func() {
		if c.in != nil {
			c.in.Close()
			c.out.Close()
		}
	})
}
