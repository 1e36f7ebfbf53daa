package attack

import (
	"bytes"
	"encoding/binary"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// event is one frame the server sent to the hostile peer, copied out of
// the Framer (which reuses its buffers).
type event struct {
	typ    http2.FrameType
	stream uint32
	flags  http2.Flags
	code   http2.ErrCode // RST_STREAM and GOAWAY
	lastID uint32        // GOAWAY
	debug  string        // GOAWAY
	fields []hpack.HeaderField
	length int // DATA payload length
	ping   [8]byte
	at     time.Time
}

// header returns the value of the decoded header field name, or "".
func (e event) header(name string) string {
	for _, f := range e.fields {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

func isGoAway(e event) bool { return e.typ == http2.FrameGoAway }

func isRST(id uint32) func(event) bool {
	return func(e event) bool { return e.typ == http2.FrameRSTStream && e.stream == id }
}

// ends reports whether e ends stream id: RST_STREAM or END_STREAM.
func ends(id uint32) func(event) bool {
	return func(e event) bool {
		if e.stream != id {
			return false
		}
		switch e.typ {
		case http2.FrameRSTStream:
			return true
		case http2.FrameHeaders:
			return e.flags.Has(http2.FlagHeadersEndStream)
		case http2.FrameData:
			return e.flags.Has(http2.FlagDataEndStream)
		}
		return false
	}
}

// peer is a hand-scripted HTTP/2 client on a raw TCP connection. The test
// goroutine writes frames into a batch and sends it with flush; a reader
// goroutine, if started, records every frame the server sends.
type peer struct {
	t      *testing.T
	nc     *net.TCPConn
	batch  bytes.Buffer
	wfr    *http2.Framer // writes into batch
	hbuf   bytes.Buffer
	enc    *hpack.Encoder
	nextID uint32
	sent   int64 // bytes written to the connection
	pings  uint32

	mu      sync.Mutex
	events  []event
	changed chan struct{} // signalled (capacity 1) when events grows
	closed  chan struct{} // closed when the read side ends
	reading bool
}

// dialPeer connects to addr. rcvBuf and sndBuf, when not zero, shrink the
// socket buffers so that a peer that stops reading pushes back on the
// server sooner.
func dialPeer(t *testing.T, addr string, rcvBuf, sndBuf int) *peer {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	tc := nc.(*net.TCPConn)
	if rcvBuf > 0 {
		require.NoError(t, tc.SetReadBuffer(rcvBuf))
	}
	if sndBuf > 0 {
		require.NoError(t, tc.SetWriteBuffer(sndBuf))
	}
	p := &peer{t: t, nc: tc, nextID: 1, changed: make(chan struct{}, 1), closed: make(chan struct{})}
	p.wfr = http2.NewFramer(&p.batch, nil)
	p.wfr.AllowIllegalWrites = true // the point of the exercise
	p.enc = hpack.NewEncoder(&p.hbuf)
	t.Cleanup(func() {
		p.nc.Close()
		if p.reading {
			<-p.closed
		}
	})
	return p
}

// handshake sends the client preface and a SETTINGS frame.
func (p *peer) handshake(settings ...http2.Setting) {
	p.t.Helper()
	p.batch.WriteString(http2.ClientPreface)
	require.NoError(p.t, p.wfr.WriteSettings(settings...))
	require.NoError(p.t, p.flush())
}

// connect dials, handshakes and starts reading: the usual attacker.
func connect(t *testing.T, addr string) *peer {
	t.Helper()
	p := dialPeer(t, addr, 0, 0)
	p.handshake()
	p.startReading()
	return p
}

// flush writes the batch, failing if the server does not take it within
// 2 s.
func (p *peer) flush() error { return p.flushWithin(2 * time.Second) }

func (p *peer) flushWithin(d time.Duration) error {
	p.nc.SetWriteDeadline(time.Now().Add(d))
	n, err := p.nc.Write(p.batch.Bytes())
	p.sent += int64(n)
	p.batch.Reset()
	return err
}

func (p *peer) newID() uint32 {
	id := p.nextID
	p.nextID += 2
	return id
}

// request returns the headers of a gRPC call of path.
func request(path string, extra ...hpack.HeaderField) []hpack.HeaderField {
	return append([]hpack.HeaderField{
		{Name: ":method", Value: "POST"},
		{Name: ":scheme", Value: "http"},
		{Name: ":path", Value: path},
		{Name: ":authority", Value: "attack"},
		{Name: "content-type", Value: "application/grpc"},
		{Name: "te", Value: "trailers"},
	}, extra...)
}

// encode HPACK-encodes fields with the connection's encoder.
func (p *peer) encode(fields []hpack.HeaderField) []byte {
	p.hbuf.Reset()
	for _, f := range fields {
		if err := p.enc.WriteField(f); err != nil {
			p.t.Fatalf("hpack: %v", err)
		}
	}
	return bytes.Clone(p.hbuf.Bytes())
}

// headers adds a complete HEADERS frame to the batch.
func (p *peer) headers(id uint32, endStream bool, fields []hpack.HeaderField) {
	p.wfr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: p.encode(fields), EndStream: endStream, EndHeaders: true})
}

// call adds a complete unary call (HEADERS, then the message with
// END_STREAM) to the batch and returns its stream id.
func (p *peer) call(path, msg string, extra ...hpack.HeaderField) uint32 {
	id := p.newID()
	p.headers(id, false, request(path, extra...))
	p.wfr.WriteData(id, true, grpcMsgString(msg))
	return id
}

func grpcMsgString(s string) []byte { return grpcMsg(wrapperspb.String(s)) }

// grpcMsg frames m behind the 5-byte gRPC message prefix.
func grpcMsg(m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return append(binary.BigEndian.AppendUint32([]byte{0}, uint32(len(b))), b...)
}

// sync sends a PING and waits up to d for its ACK: the server has then
// read everything sent before it.
func (p *peer) sync(d time.Duration) bool {
	p.pings++
	data := [8]byte{'s', 'y', 'n', 'c'}
	binary.BigEndian.PutUint32(data[4:], p.pings)
	p.wfr.WritePing(false, data)
	if p.flush() != nil {
		return false
	}
	_, ok := p.await(d, func(e event) bool {
		return e.typ == http2.FramePing && e.flags.Has(http2.FlagPingAck) && e.ping == data
	})
	return ok
}

// startReading starts the goroutine that records the server's frames.
func (p *peer) startReading() {
	p.reading = true
	fr := http2.NewFramer(nil, p.nc)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	fr.MaxHeaderListSize = 1 << 20
	go func() {
		defer close(p.closed)
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				return // closed by the server, or by the test's cleanup
			}
			e := event{typ: f.Header().Type, stream: f.Header().StreamID, flags: f.Header().Flags, at: time.Now()}
			switch f := f.(type) {
			case *http2.RSTStreamFrame:
				e.code = f.ErrCode
			case *http2.GoAwayFrame:
				e.code, e.lastID, e.debug = f.ErrCode, f.LastStreamID, string(f.DebugData())
			case *http2.MetaHeadersFrame:
				e.fields = append([]hpack.HeaderField(nil), f.Fields...)
			case *http2.DataFrame:
				e.length = len(f.Data())
			case *http2.PingFrame:
				e.ping = f.Data
			}
			p.mu.Lock()
			p.events = append(p.events, e)
			p.mu.Unlock()
			select {
			case p.changed <- struct{}{}:
			default:
			}
		}
	}()
}

// await waits up to d for a frame matching pred (looking at every frame
// received so far, too).
func (p *peer) await(d time.Duration, pred func(event) bool) (event, bool) {
	t := time.NewTimer(d)
	defer t.Stop()
	final := false
	for i := 0; ; {
		p.mu.Lock()
		for ; i < len(p.events); i++ {
			if pred(p.events[i]) {
				e := p.events[i]
				p.mu.Unlock()
				return e, true
			}
		}
		p.mu.Unlock()
		if final {
			return event{}, false
		}
		select {
		case <-p.changed:
		case <-p.closed:
			final = true // one last look at what came before the end
		case <-t.C:
			return event{}, false
		}
	}
}

// awaitClosed waits up to d for the server to close the connection.
func (p *peer) awaitClosed(d time.Duration) bool {
	select {
	case <-p.closed:
		return true
	case <-time.After(d):
		return false
	}
}

// count returns how many frames received so far match pred.
func (p *peer) count(pred func(event) bool) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, e := range p.events {
		if pred(e) {
			n++
		}
	}
	return n
}

// isClosed reports whether the server has closed the connection.
func (p *peer) isClosed() bool {
	select {
	case <-p.closed:
		return true
	default:
		return false
	}
}

// summary describes the frames received, for logs.
func (p *peer) summary() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := make(map[string]int)
	for _, e := range p.events {
		k := e.typ.String()
		if e.typ == http2.FrameRSTStream || e.typ == http2.FrameGoAway {
			k += "(" + e.code.String() + ")"
		}
		m[k]++
	}
	return m
}
