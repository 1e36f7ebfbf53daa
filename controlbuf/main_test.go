package controlbuf_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/h2rpc/h2rpc/controlbuf"
	"github.com/h2rpc/h2rpc/framer"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeHooks records what loopy reports to its transport.
type fakeHooks struct {
	lastID   atomic.Uint32
	mu       sync.Mutex
	flowErrs []uint32
	done     map[*controlbuf.OutStream]int
}

func (h *fakeHooks) LastPeerStreamID() uint32 { return h.lastID.Load() }

func (h *fakeHooks) StreamDone(s *controlbuf.OutStream) {
	h.mu.Lock()
	if h.done == nil {
		h.done = make(map[*controlbuf.OutStream]int)
	}
	h.done[s]++
	h.mu.Unlock()
}

// doneCount reports how many times loopy has reported s done.
func (h *fakeHooks) doneCount(s *controlbuf.OutStream) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.done[s]
}

func (h *fakeHooks) StreamFlowError(id uint32) {
	h.mu.Lock()
	h.flowErrs = append(h.flowErrs, id)
	h.mu.Unlock()
}

func (h *fakeHooks) flowErrors() []uint32 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]uint32(nil), h.flowErrs...)
}

// wireFrame is a frame as the peer read it, with the fields tests compare.
type wireFrame struct {
	Type     http2.FrameType
	Flags    http2.Flags
	StreamID uint32
	Data     []byte
	Fields   []hpack.HeaderField
	Incr     uint32
	Code     http2.ErrCode
	LastID   uint32
	Ping     [8]byte
	Settings []http2.Setting
}

// String is a one-line summary that scripts compare against.
func (f wireFrame) String() string {
	s := fmt.Sprintf("%v %d", f.Type, f.StreamID)
	switch f.Type {
	case http2.FrameData:
		s += fmt.Sprintf(" len=%d", len(f.Data))
	case http2.FrameWindowUpdate:
		s += fmt.Sprintf(" +%d", f.Incr)
	case http2.FrameRSTStream:
		s += " " + f.Code.String()
	case http2.FrameGoAway:
		s += fmt.Sprintf(" last=%d %v", f.LastID, f.Code)
	case http2.FrameSettings:
		if f.Flags.Has(http2.FlagSettingsAck) {
			s += " ACK"
		}
		for _, st := range f.Settings {
			s += " " + st.String()
		}
	case http2.FramePing:
		if f.Flags.Has(http2.FlagPingAck) {
			s += " ACK"
		}
		s += fmt.Sprintf(" %x", f.Ping)
	}
	if (f.Type == http2.FrameData || f.Type == http2.FrameHeaders) && f.Flags.Has(http2.FlagDataEndStream) {
		s += " END_STREAM"
	}
	return s
}

func summary(fs []wireFrame) []string {
	if len(fs) == 0 {
		return nil
	}
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.String()
	}
	return out
}

func toWire(f http2.Frame) wireFrame {
	h := f.Header()
	w := wireFrame{Type: h.Type, Flags: h.Flags, StreamID: h.StreamID}
	switch f := f.(type) {
	case *http2.DataFrame:
		w.Data = bytes.Clone(f.Data())
	case *http2.MetaHeadersFrame:
		w.Fields = append([]hpack.HeaderField(nil), f.Fields...)
	case *http2.WindowUpdateFrame:
		w.Incr = f.Increment
	case *http2.RSTStreamFrame:
		w.Code = f.ErrCode
	case *http2.GoAwayFrame:
		w.Code, w.LastID, w.Data = f.ErrCode, f.LastStreamID, bytes.Clone(f.DebugData())
	case *http2.PingFrame:
		w.Ping = f.Data
	case *http2.SettingsFrame:
		f.ForeachSetting(func(s http2.Setting) error {
			w.Settings = append(w.Settings, s)
			return nil
		})
	}
	return w
}

// conn is a Loopy writing into one end of a net.Pipe, with an http2
// Framer reading the other end as the peer. Use it inside a synctest
// bubble: settle waits until loopy and the peer are both idle.
type conn struct {
	t      *testing.T
	q      *controlbuf.Queue
	w      *framer.Writer
	loopy  *controlbuf.Loopy
	hooks  *fakeHooks
	local  net.Conn
	runErr chan error
	ran    bool
	done   bool

	mu       sync.Mutex
	frames   []wireFrame
	seen     int
	peerErr  error
	peerDone chan struct{}
}

func newConn(t *testing.T) *conn {
	local, remote := net.Pipe()
	c := &conn{
		t:        t,
		q:        controlbuf.NewQueue(),
		w:        framer.NewWriter(local),
		hooks:    &fakeHooks{},
		local:    local,
		runErr:   make(chan error, 1),
		peerDone: make(chan struct{}),
	}
	c.loopy = controlbuf.NewLoopy(c.q, c.w, c.hooks)
	go c.readPeer(remote)
	t.Cleanup(c.close)
	return c
}

func (c *conn) readPeer(remote net.Conn) {
	defer close(c.peerDone)
	defer remote.Close()
	fr := http2.NewFramer(nil, remote)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	for {
		f, err := fr.ReadFrame()
		c.mu.Lock()
		if err != nil {
			c.peerErr = err
			c.mu.Unlock()
			return
		}
		c.frames = append(c.frames, toWire(f))
		c.mu.Unlock()
	}
}

// start runs loopy.
func (c *conn) start() {
	c.ran = true
	go func() { c.runErr <- c.loopy.Run() }()
}

// put queues an item and fails the test if the queue refuses it.
func (c *conn) put(it controlbuf.Item) {
	c.t.Helper()
	require.True(c.t, c.q.Put(it), "Put refused %v", it.Kind)
}

// settle waits until everything is idle and returns the frames the peer
// got since the last call.
func (c *conn) settle() []wireFrame {
	synctest.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.frames[c.seen:]
	c.seen = len(c.frames)
	return out
}

// exited reports Run's result if it has returned.
func (c *conn) exited() (error, bool) {
	synctest.Wait()
	if c.done {
		c.t.Fatal("Run's result was already taken")
	}
	select {
	case err := <-c.runErr:
		c.done = true
		return err, true
	default:
		return nil, false
	}
}

func (c *conn) close() {
	c.q.Close()
	if c.ran && !c.done {
		<-c.runErr
		c.done = true
	}
	c.local.Close()
	<-c.peerDone
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.peerErr != nil && !errors.Is(c.peerErr, io.EOF) && !errors.Is(c.peerErr, io.ErrClosedPipe) {
		c.t.Errorf("peer could not parse what loopy wrote: %v", c.peerErr)
	}
}

// newStream returns a fresh writer side of stream id.
func newStream(id uint32) *controlbuf.OutStream {
	s := new(controlbuf.OutStream)
	s.Init(id)
	return s
}

// write builds a stream write item.
func write(s *controlbuf.OutStream, w *controlbuf.Write) controlbuf.Item {
	return controlbuf.Item{Kind: controlbuf.KindStreamWrite, Stream: s, StreamID: s.ID, Write: w}
}

func newWrite(headers []hpack.HeaderField, data []byte, trailers []hpack.HeaderField, end bool) *controlbuf.Write {
	w := controlbuf.NewWrite()
	w.Headers, w.Data, w.Trailers, w.EndStream = headers, data, trailers, end
	return w
}

func connWindow(n uint32) controlbuf.Item {
	return controlbuf.Item{Kind: controlbuf.KindPeerWindowUpdate, StreamID: 0, N: n}
}

func streamWindow(id, n uint32) controlbuf.Item {
	return controlbuf.Item{Kind: controlbuf.KindPeerWindowUpdate, StreamID: id, N: n}
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*13+i/253)
	}
	return b
}

var (
	reqHeaders = []hpack.HeaderField{
		{Name: ":method", Value: "POST"}, {Name: ":scheme", Value: "http"},
		{Name: ":path", Value: "/pkg.Svc/Call"}, {Name: ":authority", Value: "x"},
		{Name: "content-type", Value: "application/grpc"},
	}
	respHeaders = []hpack.HeaderField{{Name: ":status", Value: "200"}, {Name: "content-type", Value: "application/grpc"}}
	trailers    = []hpack.HeaderField{{Name: "grpc-status", Value: "0"}}
)

// dataBytes sums the DATA payload the frames carry for stream id.
func dataBytes(fs []wireFrame, id uint32) int {
	n := 0
	for _, f := range fs {
		if f.Type == http2.FrameData && f.StreamID == id {
			n += len(f.Data)
		}
	}
	return n
}
