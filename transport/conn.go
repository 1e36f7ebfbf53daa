package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/h2rpc/h2rpc/keepalive"

	"github.com/h2rpc/h2rpc/codes"
	"github.com/h2rpc/h2rpc/controlbuf"
	"github.com/h2rpc/h2rpc/framer"
	"github.com/h2rpc/h2rpc/status"
	"golang.org/x/net/http2"
)

const (
	// DefaultWindowSize is the inbound stream window we advertise unless
	// configured otherwise, and HTTP/2's initial window.
	DefaultWindowSize = 65535
	// DefaultConnWindow is the inbound connection window we advertise
	// unless configured otherwise. The reader returns connection window as
	// soon as DATA arrives (stream windows are what bound buffered data),
	// so a large one costs no memory; it spares the peer a WINDOW_UPDATE
	// every 16 KiB, which a request of 64 KiB would otherwise cost in
	// writes and wake-ups on both sides.
	DefaultConnWindow = 1 << 20
	// DefaultMaxRecvMsgSize is the largest message accepted by default.
	DefaultMaxRecvMsgSize = 4 << 20
	// DefaultMaxHeaderListSize is the largest header list accepted.
	DefaultMaxHeaderListSize = 16 << 20
	maxStreamID              = 1<<31 - 1
	// DefaultMaxFrameSize is the SETTINGS_MAX_FRAME_SIZE we advertise
	// unless configured: HTTP/2's default, as peers and tools expect.
	DefaultMaxFrameSize = 16384
)

// Config holds what both roles share.
type Config struct {
	// StreamWindow is the inbound window of each stream
	// (SETTINGS_INITIAL_WINDOW_SIZE). Default DefaultWindowSize.
	StreamWindow uint32
	// ConnWindow is the connection's inbound window. Default
	// DefaultConnWindow; at least DefaultWindowSize.
	ConnWindow uint32
	// MaxHeaderListSize bounds a received header list. Default 16 MiB.
	MaxHeaderListSize uint32
	// MaxFrameSize is the largest frame we accept
	// (SETTINGS_MAX_FRAME_SIZE): peers that honour it send large messages
	// in fewer, larger DATA frames, which the reader takes straight into
	// the message's buffer. Default DefaultMaxFrameSize.
	MaxFrameSize uint32
	// MaxRecvMsgSize bounds a received message unless a stream says
	// otherwise. Default 4 MiB.
	MaxRecvMsgSize int
	// StaticWindow turns BDP estimation off: the windows stay at
	// StreamWindow and ConnWindow. By default they start there and grow
	// to the measured bandwidth-delay product, up to 16 MiB.
	StaticWindow bool
	// MaxConcurrentStreams, for a server, is advertised and enforced; 0
	// means unlimited.
	MaxConcurrentStreams uint32
	// AuthInfo is what the security handshake learned; it is only kept.
	AuthInfo any
}

func (c *Config) fill() {
	if c.StreamWindow == 0 {
		c.StreamWindow = DefaultWindowSize
	}
	switch {
	case c.ConnWindow == 0:
		c.ConnWindow = DefaultConnWindow
	case c.ConnWindow < DefaultWindowSize:
		c.ConnWindow = DefaultWindowSize
	}
	if c.MaxHeaderListSize == 0 {
		c.MaxHeaderListSize = DefaultMaxHeaderListSize
	}
	if c.MaxRecvMsgSize == 0 {
		c.MaxRecvMsgSize = DefaultMaxRecvMsgSize
	}
	switch {
	case c.MaxFrameSize == 0:
		c.MaxFrameSize = DefaultMaxFrameSize
	case c.MaxFrameSize < 16384:
		c.MaxFrameSize = 16384 // the smallest HTTP/2 allows
	case c.MaxFrameSize > 1<<24-1:
		c.MaxFrameSize = 1<<24 - 1 // the largest HTTP/2 allows
	}
}

// ErrConnClosed is the cause of streams ended because their connection
// closed.
var ErrConnClosed = errors.New("transport: connection closed")

// Conn is one HTTP/2 connection.
type Conn struct {
	client bool
	epoch  time.Time // creation, with its monotonic reading: clock's zero
	nc     net.Conn
	cfg    Config
	q      *controlbuf.Queue
	w      *framer.Writer
	r      *framer.Reader
	loopy  *controlbuf.Loopy

	ctx    context.Context // cancelled when the connection closes
	cancel context.CancelFunc

	// Connection inbound window; reader goroutine only.
	connLimit   int64
	connAvail   int64
	connPending int64
	bdp         *bdpEstimator // nil when windows are static
	abuseB      abuseBudget   // reader goroutine only

	// Requests answered with plain HTTP once the reader has drained what
	// it has buffered; reader goroutine only.
	pendingReplies []*Stream

	streamWindow atomic.Uint32 // inbound window of new streams
	// peerHeaderLimit is the peer's SETTINGS_MAX_HEADER_LIST_SIZE, or
	// noHeaderLimit until it names one; see headerListFits.
	peerHeaderLimit atomic.Int64

	mu          sync.Mutex
	streams     map[uint32]*Stream
	closed      bool
	closeErr    error
	draining    bool   // GOAWAY sent or received: no new streams
	goAwayID    uint32 // client: last stream id the server's GOAWAY allows
	lastPeerID  uint32 // highest stream id the peer opened
	nextID      uint32 // client: next stream id
	maxStreams  uint32 // client: peer's SETTINGS_MAX_CONCURRENT_STREAMS
	activeCount uint32 // client: open streams; server: streams holding a handler slot
	closedHeld  uint32 // server: of those, streams reset while their handler finishes
	// slotFree is signalled when a slot frees: on a client, a stream
	// slot callers wait for; on a server, a handler slot the reader
	// waits for (made when it first does).
	slotFree chan struct{}
	// stopReading: loopy found the peer over its abuse budget (a stream
	// window it overflowed); the reader ends the connection.
	stopReading atomic.Bool
	// drainWait, made by the first caller that waits for a slot, is
	// closed when the connection starts draining: every waiter must go
	// elsewhere. Guarded by mu.
	drainWait    chan struct{}
	onClose      []func(error)
	onDone       []func()
	drainStarted bool

	lastPeerIDAtomic atomic.Uint32
	// Keepalive clocks, in c.clock() readings: monotonic, so that a step
	// of the wall clock neither fakes nor hides an unanswered ping.
	lastRead  atomic.Int64 // the last frame read
	idleSince atomic.Int64 // server: when the last handler finished; 0 while busy
	sentData  atomic.Bool  // server: loopy wrote stream frames since the last client PING

	// Server ping policy; reader goroutine only.
	policy      keepalive.EnforcementPolicy
	lastPingAt  time.Time
	pingStrikes int

	done         chan struct{} // closed when reader and loopy have exited
	loopyDone    chan struct{} // server: closed when loopy has exited
	running      atomic.Int32  // goroutines still running
	settingsSeen chan struct{} // closed at the peer's first SETTINGS
	settingsOnce sync.Once

	// Streams we reset lately: frames the peer sent before it saw our
	// RST_STREAM are ignored for them, while DATA on other closed streams
	// is a STREAM_CLOSED error (RFC 9113 §5.1). Guarded by mu; allocated
	// at the first reset, as most connections never reset a stream.
	recentResets *[64]uint32
	resetNext    int

	server    *serverState
	userAgent string
	scheme    string
	// Client only: the default :authority, and what to call on GOAWAY
	// (see ClientConfig.OnGoAway).
	authority string
	onGoAway  func(tooManyPings bool)
}

func newConn(nc net.Conn, cfg Config, client bool) *Conn {
	cfg.fill()
	c := &Conn{
		client:     client,
		epoch:      time.Now(),
		nc:         nc,
		cfg:        cfg,
		q:          controlbuf.NewQueue(),
		w:          framer.NewWriter(nc),
		r:          framer.NewReader(nc, framer.ReaderConfig{MaxHeaderListSize: cfg.MaxHeaderListSize, MaxFrameSize: cfg.MaxFrameSize}),
		streams:    make(map[uint32]*Stream),
		connLimit:  int64(cfg.ConnWindow),
		connAvail:  int64(cfg.ConnWindow),
		maxStreams: maxStreamID,
		done:       make(chan struct{}),
	}
	if !client {
		c.loopyDone = make(chan struct{})
	}
	if client {
		c.slotFree = make(chan struct{}, 1)
		c.settingsSeen = make(chan struct{})
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.lastRead.Store(c.clock())
	c.streamWindow.Store(cfg.StreamWindow)
	c.peerHeaderLimit.Store(noHeaderLimit)
	if !cfg.StaticWindow {
		c.bdp = &bdpEstimator{window: min(cfg.StreamWindow, cfg.ConnWindow), wait: bdpMinSample}
	}
	c.loopy = controlbuf.NewLoopy(c.q, c.w, c)
	return c
}

// ourSettings is the SETTINGS frame we open with.
func (c *Conn) ourSettings() []http2.Setting {
	s := []http2.Setting{{ID: http2.SettingMaxHeaderListSize, Val: c.cfg.MaxHeaderListSize}}
	if c.cfg.MaxFrameSize != 16384 {
		s = append(s, http2.Setting{ID: http2.SettingMaxFrameSize, Val: c.cfg.MaxFrameSize})
	}
	if c.client {
		s = append(s, http2.Setting{ID: http2.SettingEnablePush, Val: 0})
	}
	if c.cfg.StreamWindow != DefaultWindowSize {
		s = append(s, http2.Setting{ID: http2.SettingInitialWindowSize, Val: c.cfg.StreamWindow})
	}
	if c.cfg.MaxConcurrentStreams > 0 && !c.client {
		s = append(s, http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: c.cfg.MaxConcurrentStreams})
	}
	return s
}

// queueOpening queues our first SETTINGS (and a connection WINDOW_UPDATE
// when our window is larger than the default) ahead of everything else;
// loopy writes them, so neither side blocks writing while the other does.
func (c *Conn) queueOpening() {
	c.q.Put(controlbuf.Item{Kind: controlbuf.KindSettings, Payload: &controlbuf.Payload{Settings: c.ourSettings()}})
	if d := c.openingCredit(); d > 0 {
		c.q.Put(controlbuf.Item{Kind: controlbuf.KindWindowUpdate, N: d})
	}
}

// writeOpening writes what queueOpening queues, directly, before loopy
// runs. Only the server does: it writes before it reads, while the client
// queues its opening for loopy and reads at once, so that over a
// connection whose writes wait for the reader (net.Pipe) the two never
// wait for each other.
func (c *Conn) writeOpening() error {
	if err := c.w.WriteSettings(c.ourSettings()...); err != nil {
		return err
	}
	if d := c.openingCredit(); d > 0 {
		if err := c.w.WriteWindowUpdate(0, d); err != nil {
			return err
		}
	}
	return c.w.Flush()
}

// openingCredit is the connection window we add to the default at once.
func (c *Conn) openingCredit() uint32 {
	return max(c.cfg.ConnWindow, DefaultWindowSize) - DefaultWindowSize
}

// start runs loopy and the reader.
func (c *Conn) start() {
	c.running.Store(2)
	go func() {
		err := c.loopy.Run()
		if err == nil {
			err = ErrConnClosed
		}
		if c.loopyDone != nil {
			close(c.loopyDone)
		}
		c.Close(err)
		c.exited()
	}()
	go func() {
		err := c.readLoop()
		c.Close(err)
		c.exited()
	}()
}

// exited is called by each of the connection's goroutines as it ends;
// the last one closes done and runs the OnDone hooks.
func (c *Conn) exited() {
	if c.running.Add(-1) != 0 {
		return
	}
	close(c.done)
	c.mu.Lock()
	hooks := c.onDone
	c.onDone = nil
	c.mu.Unlock()
	for _, f := range hooks {
		f()
	}
}

// OnDone registers f to run once the connection has closed and both its
// goroutines have exited (at once if that has happened).
func (c *Conn) OnDone(f func()) {
	c.mu.Lock()
	select {
	case <-c.done:
		c.mu.Unlock()
		f()
		return
	default:
	}
	c.onDone = append(c.onDone, f)
	c.mu.Unlock()
}

// Done is closed once the connection has closed and both its goroutines
// have exited.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Context is cancelled when the connection closes.
func (c *Conn) Context() context.Context { return c.ctx }

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// LocalAddr returns our address.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// AuthInfo returns what the security handshake learned about the peer.
func (c *Conn) AuthInfo() any { return c.cfg.AuthInfo }

// OnClose registers f to run (once, on its own goroutine's stack of
// Close) when the connection closes, with the reason.
func (c *Conn) OnClose(f func(error)) {
	c.mu.Lock()
	if c.closed {
		err := c.closeErr
		c.mu.Unlock()
		f(err)
		return
	}
	c.onClose = append(c.onClose, f)
	c.mu.Unlock()
}

// Close closes the connection at once: every open stream ends with err's
// status (UNAVAILABLE unless err carries one) and both goroutines exit.
func (c *Conn) Close(err error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.closeErr = err
	streams := c.streams
	c.streams = nil
	hooks := c.onClose
	c.onClose = nil
	c.mu.Unlock()

	for _, it := range c.q.Close() {
		if it.Write != nil && it.Write.Buf != nil {
			releaseWriteBuf(it.Write)
		}
	}
	c.nc.Close()
	c.cancel()
	// Hooks first: the client's SubConn must stop handing out this
	// connection before the calls on it learn that it failed, or a call
	// made in answer would pick it again.
	for _, f := range hooks {
		f(err)
	}
	st := connStatus(err)
	for _, s := range streams {
		s.connClosed(st)
	}
}

// connStatus is the status streams see when the connection fails.
func connStatus(err error) *status.Status {
	if st, ok := status.FromError(err); ok && st != nil && st.Code() != codes.OK {
		return st
	}
	if err == nil || errors.Is(err, ErrConnClosed) {
		return status.New(codes.Unavailable, "transport: connection closed")
	}
	if errors.Is(err, io.EOF) {
		return status.New(codes.Unavailable, "transport: connection closed by peer")
	}
	return status.New(codes.Unavailable, fmt.Sprintf("transport: connection error: %v", err))
}

// LastPeerStreamID implements controlbuf.Hooks.
func (c *Conn) LastPeerStreamID() uint32 { return c.lastPeerIDAtomic.Load() }

// StreamDone implements controlbuf.Hooks: loopy has forgotten a stream.
func (c *Conn) StreamDone(os *controlbuf.OutStream) {
	if s, ok := os.Owner.(*Stream); ok && !c.client {
		s.release()
	}
}

// StreamFlowError implements controlbuf.Hooks: loopy has reset the stream.
func (c *Conn) StreamFlowError(id uint32) {
	c.noteReset(id)
	if s := c.stream(id); s != nil {
		s.reset(status.New(codes.Internal, "transport: stream send window overflow"), false, http2.ErrCodeFlowControl)
	}
	if !c.client {
		// A reset the client provoked (MadeYouReset). Past the budget
		// the reader ends the connection, as for the resets it finds.
		if c.spend() {
			c.stopReading.Store(true)
		}
	}
}

func (c *Conn) stream(id uint32) *Stream {
	c.mu.Lock()
	s := c.streams[id]
	c.mu.Unlock()
	return s
}

// removeStream drops s from the table and frees its slot.
func (c *Conn) removeStream(s *Stream) {
	c.mu.Lock()
	if c.streams != nil && c.streams[s.ID()] == s {
		delete(c.streams, s.ID())
		if c.client {
			c.releaseSlotLocked()
		}
	}
	closeNow := c.draining && len(c.streams) == 0 && c.drainReady()
	c.mu.Unlock()
	if closeNow {
		c.closeAfterFlush()
	}
}

// closeAfterFlush asks loopy to write everything queued, then closes.
func (c *Conn) closeAfterFlush() {
	if !c.q.Put(controlbuf.Item{Kind: controlbuf.KindClose}) {
		c.Close(ErrConnClosed)
	}
}

// put hands an item to loopy; false if the connection is closed.
func (c *Conn) put(it controlbuf.Item) bool { return c.q.Put(it) }

// connError ends the connection for a protocol violation: GOAWAY with the
// code, then close.
func (c *Conn) connError(code http2.ErrCode, reason string) error {
	c.q.Put(controlbuf.Item{Kind: controlbuf.KindGoAway, StreamID: c.lastPeerIDAtomic.Load(), Code: code, Payload: &controlbuf.Payload{Debug: []byte(reason)}})
	c.q.Put(controlbuf.Item{Kind: controlbuf.KindClose})
	return fmt.Errorf("transport: %s: %w", reason, http2.ConnectionError(code))
}

func releaseWriteBuf(w *controlbuf.Write) {
	putBuf(w.Buf)
	w.Buf = nil
}

// noteReset records that we reset stream id.
func (c *Conn) noteReset(id uint32) {
	c.mu.Lock()
	if c.recentResets == nil {
		c.recentResets = new([64]uint32)
	}
	c.recentResets[c.resetNext] = id
	c.resetNext = (c.resetNext + 1) % len(c.recentResets)
	c.mu.Unlock()
}

// resetByUs reports whether we reset stream id lately.
func (c *Conn) resetByUs(id uint32) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.recentResets == nil {
		return false
	}
	for _, r := range c.recentResets {
		if r == id {
			return true
		}
	}
	return false
}
