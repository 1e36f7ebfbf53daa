package transport

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/h2rpc/h2rpc/codes"
	"github.com/h2rpc/h2rpc/controlbuf"
	"github.com/h2rpc/h2rpc/framer"
	"github.com/h2rpc/h2rpc/keepalive"
	"github.com/h2rpc/h2rpc/metadata"
	"github.com/h2rpc/h2rpc/status"
	"github.com/h2rpc/h2rpc/stream"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// ClientConfig configures a client-role connection.
type ClientConfig struct {
	Config
	// Authority is the default :authority.
	Authority string
	// Secure selects the https scheme.
	Secure bool
	// UserAgent is prepended to the library's user-agent.
	UserAgent string
	// OnGoAway is called (on the reader goroutine) when the server sends
	// GOAWAY, or stream ids run out: the connection takes no new streams
	// from then on. tooManyPings reports the server's keepalive
	// complaint (ENHANCE_YOUR_CALM, "too_many_pings").
	OnGoAway func(tooManyPings bool)
	// Keepalive sets client pings.
	Keepalive keepalive.ClientParameters
}

// NewClientConn starts the client side of HTTP/2 on nc: it writes the
// preface and SETTINGS, starts the connection's goroutines and waits for
// the server's SETTINGS until ctx ends.
func NewClientConn(ctx context.Context, nc net.Conn, cfg ClientConfig) (*Conn, error) {
	c := newConn(nc, cfg.Config, true)
	c.nextID = 1
	c.authority, c.onGoAway = cfg.Authority, cfg.OnGoAway
	c.userAgent = UserAgent
	if cfg.UserAgent != "" {
		c.userAgent = cfg.UserAgent + " " + UserAgent
	}
	c.scheme = "http"
	if cfg.Secure {
		c.scheme = "https"
	}
	// The preface waits in the batch for loopy's first flush.
	c.w.WriteRaw([]byte(http2.ClientPreface))
	c.queueOpening()
	c.start()
	select {
	case <-c.settingsSeen:
		// The reader closed it once and never looks at it again; an idle
		// connection need not keep it.
		c.settingsSeen = nil
		c.startPinger(cfg.Keepalive)
		return c, nil
	case <-c.done:
		c.mu.Lock()
		err := c.closeErr
		c.mu.Unlock()
		return nil, fmt.Errorf("transport: connection closed before the server's SETTINGS: %w", err)
	case <-ctx.Done():
		c.Close(ctx.Err())
		<-c.Done()
		return nil, fmt.Errorf("transport: waiting for the server's SETTINGS: %w", ctx.Err())
	}
}

// CallHdr describes a call to start.
type CallHdr struct {
	Method         string // /package.Service/Method
	Authority      string // overrides the connection's default if set
	ContentSubtype string
	Deadline       time.Time // zero: none
	MD             metadata.MD
	AddedMD        [][]string
	SendCompress   string
	AcceptCompress string
	MaxRecvMsgSize int
	// The first write may go with the headers: a framed message owned by
	// Buf, and EndStream to half-close at once (unary calls).
	Data      []byte
	Buf       *[]byte
	EndStream bool
	// SingleResponse says the server sends at most one message (unary
	// and client-streaming calls); see stream.Stream.ExpectSingleMessage.
	SingleResponse bool
}

// Assign gives a new client stream its id under the control buffer's
// lock, so ids reach the wire in order (controlbuf.Assigner).
func (c *Conn) Assign(it *controlbuf.Item) bool {
	s := it.Stream.Owner.(*Stream)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.draining {
		s.assignErr = errConnClosing
		return false
	}
	id := c.nextID
	if id > maxStreamID {
		c.drainLocked()
		s.assignErr = errIDsExhausted
		return false
	}
	c.nextID += 2
	if c.nextID > maxStreamID {
		// The last id: the connection closes once this stream and the
		// others have ended (removeStream), as grpc-go's does, instead
		// of waiting open for a call it can no longer take.
		c.drainLocked()
	}
	if w := c.streamWindow.Load(); w != s.initWindow {
		// The windows grew since the stream was made.
		s.GrowWindow(int(w) - int(s.initWindow))
	}
	s.Out.ID = id
	it.StreamID = id
	c.streams[id] = s
	return true
}

var (
	errConnClosing  = &Error{St: status.New(codes.Unavailable, "transport: connection is closing"), Unprocessed: true}
	errIDsExhausted = &Error{St: status.New(codes.Unavailable, "transport: stream ids exhausted"), Unprocessed: true}
)

// NewStream starts a call. Errors are *Error; Unprocessed ones may be
// retried on another connection.
func (c *Conn) NewStream(ctx context.Context, h *CallHdr) (*Stream, error) {
	if err := c.acquireSlot(ctx); err != nil {
		putBuf(h.Buf)
		return nil, err
	}
	s := &Stream{conn: c, maxRecv: c.cfg.MaxRecvMsgSize, headerCh: make(chan struct{}), done: make(chan struct{}), contentLength: -1}
	if h.MaxRecvMsgSize > 0 {
		s.maxRecv = h.MaxRecvMsgSize
	}
	s.initWindow = c.streamWindow.Load()
	s.Init(0, s.initWindow)
	if h.SingleResponse {
		s.ExpectSingleMessage()
	}
	s.Out.Local = true
	s.ctx = ctx
	s.deadline = h.Deadline
	headers := c.requestHeaders(s, h)
	if limit, ok := c.headerListFits(headers); !ok {
		c.mu.Lock()
		c.releaseSlotLocked()
		c.mu.Unlock()
		putBuf(h.Buf)
		return nil, &Error{St: status.Newf(codes.Internal, "header list size to send violates the maximum size (%d bytes) set by server", limit)}
	}
	w := controlbuf.NewWrite()
	w.Headers = headers
	w.Data, w.Buf, w.EndStream = h.Data, h.Buf, h.EndStream
	if len(h.Data) > 0 {
		s.Out.AcquireQuota(len(h.Data), nil)
	}
	s.Transition(stream.EvOpen)
	if h.EndStream {
		s.Transition(stream.EvSendEnd)
	}
	s.Out.Owner = s
	ok, err := c.q.PutAssigned(controlbuf.Item{Kind: controlbuf.KindStreamWrite, Stream: &s.Out, Write: w}, c)
	if ok && s.ID() > maxStreamID-2 && c.onGoAway != nil {
		// It took the last id (Assign made the connection drain).
		// Out of stream ids: new calls must go to a new connection.
		c.onGoAway(false)
	}
	if !ok {
		c.mu.Lock()
		c.releaseSlotLocked()
		exhausted := c.nextID > maxStreamID
		c.mu.Unlock()
		putBuf(h.Buf)
		if exhausted && c.onGoAway != nil {
			// Out of stream ids: new calls must go to a new connection.
			c.onGoAway(false)
		}
		if s.assignErr != nil {
			return nil, s.assignErr
		}
		if err == nil {
			err = ErrConnClosed
		}
		return nil, &Error{St: status.New(codes.Unavailable, "transport: "+err.Error()), Unprocessed: true}
	}
	return s, nil
}

func (c *Conn) requestHeaders(s *Stream, h *CallHdr) []hpack.HeaderField {
	auth := h.Authority
	if auth == "" {
		auth = c.authority
	}
	fields := s.fieldBuf[:0]
	fields = append(fields,
		hpack.HeaderField{Name: ":method", Value: "POST"},
		hpack.HeaderField{Name: ":scheme", Value: c.scheme},
		hpack.HeaderField{Name: ":path", Value: h.Method},
		hpack.HeaderField{Name: ":authority", Value: auth},
		hpack.HeaderField{Name: "content-type", Value: ContentType(h.ContentSubtype)},
		hpack.HeaderField{Name: "user-agent", Value: c.userAgent},
		hpack.HeaderField{Name: "te", Value: "trailers"},
	)
	if !h.Deadline.IsZero() {
		fields = append(fields, timeoutField(h.Deadline))
	}
	if h.SendCompress != "" {
		fields = append(fields, hpack.HeaderField{Name: "grpc-encoding", Value: h.SendCompress})
	}
	if h.AcceptCompress != "" {
		fields = append(fields, hpack.HeaderField{Name: "grpc-accept-encoding", Value: h.AcceptCompress})
	}
	fields = appendMD(fields, h.MD)
	return appendPairs(fields, h.AddedMD)
}

// acquireSlot waits until the server's MAX_CONCURRENT_STREAMS allows one
// more stream.
func (c *Conn) acquireSlot(ctx context.Context) error {
	for {
		c.mu.Lock()
		if c.closed || c.draining {
			c.mu.Unlock()
			return &Error{St: status.New(codes.Unavailable, "transport: connection is closing"), Unprocessed: true}
		}
		if c.activeCount < c.maxStreams {
			c.activeCount++
			more := c.activeCount < c.maxStreams
			c.mu.Unlock()
			if more {
				c.wakeSlotWaiter()
			}
			return nil
		}
		if c.drainWait == nil {
			c.drainWait = make(chan struct{})
		}
		drain := c.drainWait
		c.mu.Unlock()
		select {
		case <-c.slotFree:
		case <-drain:
		case <-c.ctx.Done():
		case <-ctx.Done():
			return &Error{St: status.FromContextError(ctx.Err())}
		}
	}
}

// drainLocked marks the connection draining (it takes no new streams)
// and sends every caller waiting for a slot elsewhere. c.mu is held.
func (c *Conn) drainLocked() {
	c.draining = true
	if c.drainWait != nil {
		close(c.drainWait)
		c.drainWait = nil
	}
}

func (c *Conn) releaseSlotLocked() {
	c.activeCount--
	select {
	case c.slotFree <- struct{}{}:
	default:
	}
}

func (c *Conn) wakeSlotWaiter() {
	select {
	case c.slotFree <- struct{}{}:
	default:
	}
}

func (c *Conn) goingAway() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.draining
}

// GracefulClose makes the connection take no new streams and close once
// the ones it carries have ended.
func (c *Conn) GracefulClose() {
	c.mu.Lock()
	c.drainLocked()
	closeNow := len(c.streams) == 0
	c.mu.Unlock()
	if closeNow {
		c.closeAfterFlush()
	}
}

// Draining reports whether the connection takes no new streams.
func (c *Conn) Draining() bool { return c.goingAway() }

// clientHeaders handles response headers and trailers.
func (c *Conn) clientHeaders(f *framer.HeaderBlock) error {
	s := c.stream(f.StreamID)
	if s == nil {
		if c.idleStream(f.StreamID) {
			return c.connError(http2.ErrCodeProtocol, "HEADERS on an idle stream")
		}
		return nil
	}
	end := f.EndStream
	s.hmu.Lock()
	first := !s.headerOK
	s.hmu.Unlock()
	if !first && !end {
		s.reset(status.New(codes.Internal, "transport: a second HEADERS without END_STREAM"), true, http2.ErrCodeProtocol)
		return nil
	}
	var (
		httpStatus     = -1
		contentType    string
		sp             = statusParts{code: -1}
		md             metadata.MD
		recvCompress   string
		acceptCompress string
	)
	if f.Truncated {
		s.reset(status.New(codes.Internal, "transport: response header list too large"), true, http2.ErrCodeProtocol)
		return nil
	}
	for _, hf := range f.Fields {
		switch hf.Name {
		case ":status":
			n, err := strconv.Atoi(hf.Value)
			if err != nil {
				s.reset(status.New(codes.Internal, "transport: malformed :status "+hf.Value), true, http2.ErrCodeProtocol)
				return nil
			}
			httpStatus = n
		case "content-type":
			contentType = hf.Value
		case "grpc-encoding":
			recvCompress = hf.Value
		case "grpc-accept-encoding":
			acceptCompress = hf.Value
		default:
			if sp.add(hf.Name, hf.Value) || hf.IsPseudo() || metadata.IsReservedHeader(hf.Name) {
				continue
			}
			if !addMD(&md, hf.Name, hf.Value) {
				s.reset(status.New(codes.Internal, "transport: malformed binary metadata "+hf.Name), true, http2.ErrCodeProtocol)
				return nil
			}
		}
	}
	if first {
		if httpStatus == -1 {
			s.reset(status.New(codes.Internal, "transport: response without :status"), true, http2.ErrCodeProtocol)
			return nil
		}
		if httpStatus >= 100 && httpStatus < 200 {
			// Informational (a proxy's 103 Early Hints, say): the
			// response is still to come (RFC 9113 §8.1).
			if end {
				s.reset(status.New(codes.Internal, fmt.Sprintf("transport: informational response %d ends the stream", httpStatus)), true, http2.ErrCodeProtocol)
			}
			return nil
		}
		if httpStatus != 200 && sp.code == -1 {
			st := status.New(status.CodeFromHTTPStatus(httpStatus),
				fmt.Sprintf("unexpected HTTP status code received from server: %d (%s)", httpStatus, httpStatusText(httpStatus)))
			s.reset(st, !end, http2.ErrCodeCancel)
			return nil
		}
		if _, ok := parseContentType(contentType); !ok && sp.code == -1 {
			st := status.New(codes.Unknown, fmt.Sprintf("transport: received unexpected content-type %q", contentType))
			s.reset(st, !end, http2.ErrCodeCancel)
			return nil
		}
		// Only the response headers name the encodings; the application
		// may be reading these while trailers arrive.
		s.recvCompress, s.acceptCompress = recvCompress, acceptCompress
	}
	if sp.detailsErr != nil {
		// A binary header that is not base64 makes a gRPC response
		// malformed, in headers or trailers alike.
		s.reset(sp.status(), true, http2.ErrCodeProtocol)
		return nil
	}
	if !end {
		s.hmu.Lock()
		s.respHeader = md
		s.headerOK = true
		close(s.headerCh)
		s.hmu.Unlock()
		return nil
	}
	// Trailers, or a trailers-only response.
	var st *status.Status
	if sp.code == -1 {
		// A gRPC response that ends without saying how: UNKNOWN, what
		// the HTTP mapping gives a 200 (status.CodeFromHTTPStatus) and
		// what grpc-go gives, rather than blaming the transport.
		msg := "transport: server closed the stream without grpc-status"
		if sp.message != "" {
			msg += "; grpc-message: " + sp.message
		}
		st = status.New(codes.Unknown, msg)
	} else {
		st = sp.status()
	}
	// A trailers-only response has no headers: its metadata are the
	// trailers only, and Header returns none, as grpc-go's does.
	s.finishClient(st, md)
	return nil
}

// finishClient ends a client stream on the server's final status.
func (s *Stream) finishClient(st *status.Status, trailer metadata.MD) {
	if st.Code() == codes.OK && s.PartialMessage() {
		st = status.New(codes.Internal, "transport: stream ended in the middle of a message")
	}
	if !s.ended.CompareAndSwap(false, true) {
		return
	}
	state, _ := s.Transition(stream.EvRecvEnd)
	s.conn.removeStream(s)
	s.finishRecv(st, trailer, true)
	// Reset unless our side is closed on the wire: loopy forgets a stream
	// we opened once its END_STREAM is out, and the cleanup drops what
	// is still queued (the rest of a request the answer cut short).
	rst := state != stream.Closed || !s.Out.Forgotten()
	if rst {
		s.conn.noteReset(s.ID())
		s.conn.put(controlbuf.Item{Kind: controlbuf.KindCleanup, Stream: &s.Out, StreamID: s.ID(), Reset: true, Code: http2.ErrCodeNo})
	}
}

func (c *Conn) clientGoAway(f *http2.GoAwayFrame) error {
	c.mu.Lock()
	if c.draining && f.LastStreamID > c.goAwayID && c.goAwayID != 0 {
		c.mu.Unlock()
		return c.connError(http2.ErrCodeProtocol, "GOAWAY raised the last stream id")
	}
	c.drainLocked()
	c.goAwayID = f.LastStreamID
	var refused []*Stream
	for id, s := range c.streams {
		if id > f.LastStreamID {
			refused = append(refused, s)
		}
	}
	c.mu.Unlock()
	for _, s := range refused {
		s.unprocessed.Store(true)
		s.reset(status.New(codes.Unavailable, "transport: the server sent GOAWAY before processing the stream"), false, 0)
	}
	if c.onGoAway != nil {
		c.onGoAway(f.ErrCode == http2.ErrCodeEnhanceYourCalm && string(f.DebugData()) == "too_many_pings")
	}
	c.mu.Lock()
	closeNow := len(c.streams) == 0
	c.mu.Unlock()
	if closeNow {
		c.closeAfterFlush()
	}
	return nil
}

// errStreamEnded tells a sender that the stream is over; the status comes
// from the receive side.
var errStreamEnded = &Error{St: status.New(codes.Unavailable, "transport: stream ended")}

// IsStreamEnded reports whether err is a client SendMsg's "stream is
// over" error: the status then comes from RecvMsg.
func IsStreamEnded(err error) bool { return err == errStreamEnded }

// CloseSend half-closes the stream.
func (s *Stream) CloseSend() error {
	if s.ended.Load() {
		return nil
	}
	if _, ok := s.Transition(stream.EvSendEnd); !ok {
		return nil
	}
	w := controlbuf.NewWrite()
	w.EndStream = true
	s.putWrite(w)
	return nil
}

// Header waits for the response headers. A stream that ended without
// them (a trailers-only response among others) has none: Header returns
// nil metadata and the stream's error, nil if it ended OK.
func (s *Stream) Header() (metadata.MD, error) {
	<-s.headerCh
	s.hmu.Lock()
	defer s.hmu.Unlock()
	if s.headerOK || s.st == nil {
		return s.respHeader, nil
	}
	if s.st.Code() == codes.OK {
		return s.respHeader, nil
	}
	return nil, &Error{St: s.st, Unprocessed: s.unprocessed.Load()}
}

// Trailer returns the response trailers; valid once the stream has ended.
func (s *Stream) Trailer() metadata.MD {
	s.hmu.Lock()
	defer s.hmu.Unlock()
	return s.respTrailer
}

// Status returns the final status; nil until the stream has ended.
func (s *Stream) Status() *status.Status {
	s.hmu.Lock()
	defer s.hmu.Unlock()
	return s.st
}

// Done is closed when the stream has ended.
func (s *Stream) Done() <-chan struct{} { return s.done }

// Unprocessed reports whether the server never processed the stream.
func (s *Stream) Unprocessed() bool { return s.unprocessed.Load() }

// Cancel ends the stream with st and RST_STREAM(CANCEL).
func (s *Stream) Cancel(st *status.Status) {
	s.reset(st, true, http2.ErrCodeCancel)
}

func httpStatusText(code int) string {
	switch code {
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 429:
		return "Too Many Requests"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Gateway Timeout"
	}
	return "HTTP status " + strconv.Itoa(code)
}
