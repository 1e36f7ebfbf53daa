package transport

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/h2rpc/h2rpc/codes"
	"github.com/h2rpc/h2rpc/compress"
	"github.com/h2rpc/h2rpc/controlbuf"
	"github.com/h2rpc/h2rpc/framer"
	"github.com/h2rpc/h2rpc/internal/wire"
	"github.com/h2rpc/h2rpc/keepalive"
	"github.com/h2rpc/h2rpc/metadata"
	"github.com/h2rpc/h2rpc/status"
	"github.com/h2rpc/h2rpc/stream"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// ServerConfig configures a server-role connection.
type ServerConfig struct {
	Config
	// Handle is called on the reader goroutine for each new stream; it
	// must hand the stream to another goroutine and return at once.
	Handle func(*Stream)
	// ConnContext, if set, derives the connection's context (the parent of
	// every stream's) once, e.g. to add values that every call shares.
	ConnContext func(context.Context) context.Context
	// HandshakeTimeout bounds reading the client preface. Default 20 s.
	HandshakeTimeout time.Duration
	// Keepalive sets server pings and connection ages.
	Keepalive keepalive.ServerParameters
	// Policy is what the server accepts from clients' pings.
	Policy keepalive.EnforcementPolicy
}

type serverState struct {
	handle func(*Stream)
	// Streams whose handler waits for their request message (see
	// Stream.StartOnMessage); reader goroutine only.
	pendingStarts []*Stream
}

// drainPingTimeout bounds the wait for the ACK of a graceful shutdown's
// PING.
const drainPingTimeout = 5 * time.Second

var drainPingData = [8]byte{'h', '2', 'r', 'p', 'c', 'g', 'o', 'a'}

// NewServerConn runs the server side of the HTTP/2 handshake on nc and
// starts the connection's goroutines.
func NewServerConn(nc net.Conn, cfg ServerConfig) (*Conn, error) {
	c := newConn(nc, cfg.Config, false)
	handle := cfg.Handle
	c.server = &serverState{handle: func(s *Stream) {
		s.watchDeadline()
		handle(s)
	}}
	c.r.SetOnWait(c.onReaderWait)
	if cfg.ConnContext != nil {
		c.ctx = cfg.ConnContext(c.ctx)
	}
	timeout := cfg.HandshakeTimeout
	if timeout == 0 {
		timeout = 20 * time.Second
	}
	nc.SetDeadline(time.Now().Add(timeout))
	// Our preface goes out before the client's is read (RFC 9113 §3.4
	// lets a server send it at once): a client that waits for the
	// server's SETTINGS before its first call, as grpc-go's and h2rpc's
	// do, is not kept waiting a round trip more. It is a few dozen bytes
	// on a fresh connection, so writing it here does not block.
	if err := c.writeOpening(); err != nil {
		nc.Close()
		return nil, fmt.Errorf("transport: writing the server preface: %w", err)
	}
	nc.SetWriteDeadline(time.Time{})
	var preface [len(http2.ClientPreface)]byte
	if err := c.r.ReadFull(preface[:]); err != nil {
		nc.Close()
		return nil, fmt.Errorf("transport: reading client preface: %w", err)
	}
	if string(preface[:]) != http2.ClientPreface {
		nc.Close()
		return nil, fmt.Errorf("transport: bad client preface %q", preface[:])
	}
	// The read deadline stays until the client's SETTINGS arrive (readLoop).
	c.policy = cfg.Policy
	c.loopy.SetWriteFlag(&c.sentData)
	c.start()
	kp := cfg.Keepalive
	if kp.Time == 0 {
		kp.Time = defaultServerPingTime
	}
	c.startPinger(keepalive.ClientParameters{Time: kp.Time, Timeout: kp.Timeout, PermitWithoutStream: true})
	c.startAgeTimers(kp)
	return c, nil
}

// serverHeaders handles HEADERS from a client: a new stream, or the
// client's trailers.
func (c *Conn) serverHeaders(f *framer.HeaderBlock) error {
	id := f.StreamID
	if id%2 == 0 {
		return c.connError(http2.ErrCodeProtocol, "client opened an even stream id")
	}
	c.mu.Lock()
	if s := c.streams[id]; s != nil {
		c.mu.Unlock()
		// A reset the client's frames provoke costs a token, as the
		// resets it sends do (MadeYouReset, CVE-2025-8671).
		if !f.EndStream {
			s.reset(status.New(codes.Internal, "transport: trailers without END_STREAM"), true, http2.ErrCodeProtocol)
			return c.abuse("too_many_resets")
		}
		if s.recvEnd() {
			return c.abuse("too_many_resets")
		}
		return nil
	}
	if id <= c.lastPeerID {
		c.mu.Unlock()
		return c.connError(http2.ErrCodeStreamClosed, "HEADERS on a closed stream")
	}
	c.lastPeerID = id
	c.lastPeerIDAtomic.Store(id)
	if c.draining || c.closed {
		c.mu.Unlock()
		c.noteReset(id)
		c.put(controlbuf.Item{Kind: controlbuf.KindRSTStream, StreamID: id, Code: http2.ErrCodeRefusedStream})
		return nil
	}
	if max := c.cfg.MaxConcurrentStreams; max > 0 {
		// Open streams (including those whose end loopy has still to
		// write) past the limit we advertised: the peer broke it.
		if c.activeCount-c.closedHeld >= max {
			c.mu.Unlock()
			c.noteReset(id)
			c.put(controlbuf.Item{Kind: controlbuf.KindRSTStream, StreamID: id, Code: http2.ErrCodeRefusedStream})
			return nil
		}
		// Handlers of streams the peer has reset, or has seen end, may
		// still be finishing, and a new stream is within the peer's
		// rights: wait for a slot, reading nothing meanwhile, rather
		// than refuse it (or run more handlers than allowed, which is
		// what Rapid Reset is after).
		if c.activeCount >= max {
			// Handlers held back for their message and rejections
			// not yet answered hold slots too, and only the reader
			// lets them go: first do that.
			c.mu.Unlock()
			c.onReaderWait()
			c.mu.Lock()
		}
		for c.activeCount >= max {
			if c.slotFree == nil {
				c.slotFree = make(chan struct{}, 1)
			}
			free := c.slotFree
			c.mu.Unlock()
			select {
			case <-free:
			case <-c.ctx.Done():
			}
			c.mu.Lock()
			if c.closed {
				c.mu.Unlock()
				return nil
			}
		}
	}
	c.activeCount++
	c.mu.Unlock()
	c.idleSince.Store(0)

	s := &Stream{conn: c, maxRecv: c.cfg.MaxRecvMsgSize, contentLength: -1}
	s.Init(id, c.streamWindow.Load())
	s.Out.Owner = s
	// The stream holds its slot until its handler has finished and loopy
	// has written its end (or reset it): until then the client counts it
	// as open too.
	s.refs.Store(2)
	s.Transition(stream.EvOpen)
	var (
		method, scheme, contentType string
		timeout                     time.Duration
		hasTimeout, hasPath         bool
		md                          metadata.MD
		reject                      *rejection
	)
	for _, hf := range f.Fields {
		switch hf.Name {
		case ":method":
			method = hf.Value
		case ":path":
			s.method, hasPath = hf.Value, true
		case ":authority":
			s.authority = hf.Value
		case ":scheme":
			scheme = hf.Value
		case "content-type":
			contentType = hf.Value
		case "content-length":
			n, err := strconv.ParseInt(hf.Value, 10, 64)
			if err != nil || n < 0 {
				return c.refuseMalformed(s, "malformed content-length")
			}
			s.contentLength = n
		case "grpc-timeout":
			d, err := wire.DecodeTimeout(hf.Value)
			if err != nil && reject == nil {
				reject = refusal(400, codes.Internal, "malformed grpc-timeout: "+err.Error())
			}
			timeout, hasTimeout = d, true
		case "grpc-encoding":
			s.recvCompress = hf.Value
		case "grpc-accept-encoding":
			s.acceptCompress = hf.Value
		case "te":
		case "user-agent":
			addMD(&md, hf.Name, hf.Value)
		default:
			if hf.IsPseudo() || metadata.IsReservedHeader(hf.Name) {
				continue
			}
			if !addMD(&md, hf.Name, hf.Value) && reject == nil {
				reject = refusal(400, codes.Internal, "malformed binary header "+hf.Name)
			}
		}
	}
	// RFC 9113 §8.3.1: a request has :method, :scheme and a non-empty
	// :path; without them it is malformed, a stream error.
	if method == "" || scheme == "" || !hasPath || s.method == "" {
		return c.refuseMalformed(s, "request without :method, :scheme or :path")
	}
	sub, grpcRequest := parseContentType(contentType)
	switch {
	case reject != nil:
	case f.Truncated:
		reject = refusal(431, codes.ResourceExhausted, "header list too large")
	case method != "POST":
		reject = refusal(405, codes.Internal, "method "+method+" not allowed: this is a gRPC server")
	case !grpcRequest:
		reject = refusal(415, codes.InvalidArgument, "invalid gRPC request content-type "+strconv.Quote(contentType))
	default:
		s.contentSubtype = sub
	}
	if reject != nil {
		reject.grpc = grpcRequest
	}
	s.md = md
	s.reject = reject
	if reject == nil {
		s.sctx.init(c.ctx, timeout, hasTimeout)
		s.ctx = &s.sctx
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		s.sctx.cancel(context.Canceled)
		return nil
	}
	c.streams[id] = s
	c.mu.Unlock()
	if f.EndStream {
		s.Transition(stream.EvRecvEnd)
		if s.contentLength > 0 {
			s.reset(status.New(codes.Internal, "transport: content-length without a body"), true, http2.ErrCodeProtocol)
			s.finishHandler()
			return nil
		}
		s.CloseRecv(io.EOF)
	}
	if reject != nil {
		// Answered once the reader has handled the frames that came with
		// the request, like a handler would, so that errors those frames
		// cause come first.
		c.pendingReplies = append(c.pendingReplies, s)
		return nil
	}
	c.server.handle(s)
	return nil
}

// refuseMalformed resets a malformed request's stream (PROTOCOL_ERROR,
// RFC 9113 §8.1.1); why is kept for debugging only.
func (c *Conn) refuseMalformed(s *Stream, _ string) error {
	s.ended.Store(true)
	c.noteReset(s.ID())
	c.put(controlbuf.Item{Kind: controlbuf.KindRSTStream, StreamID: s.ID(), Code: http2.ErrCodeProtocol})
	c.handlerFinished(nil)
	return nil
}

// rejection is the plain HTTP answer to a request h2rpc does not serve.
type rejection struct {
	httpStatus int
	code       codes.Code
	msg        string
	grpc       bool // the request says it is gRPC: answer as gRPC does
}

// refusal makes a rejection; serverHeaders then says whether the request
// was a gRPC one.
func refusal(httpStatus int, code codes.Code, msg string) *rejection {
	return &rejection{httpStatus: httpStatus, code: code, msg: msg}
}

// flushReplies answers the rejected requests queued by serverHeaders.
func (c *Conn) flushReplies() {
	for _, s := range c.pendingReplies {
		s.sendRejection()
	}
	clear(c.pendingReplies)
	c.pendingReplies = c.pendingReplies[:0]
}

// sendRejection answers a request that is not a gRPC call this server can
// take with a complete HTTP response: a status, a gRPC status for gRPC
// clients, and a short text body for everyone else.
func (s *Stream) sendRejection() {
	c := s.conn
	if s.ended.Load() {
		s.finishHandler() // reset meanwhile
		return
	}
	r := s.reject
	w := controlbuf.NewWrite()
	contentType := "text/plain; charset=utf-8"
	if r.grpc {
		// gRPC clients read grpc-status only from a gRPC response (as
		// grpc-go answers these): no body then.
		contentType = "application/grpc"
	}
	fields := []hpack.HeaderField{
		{Name: ":status", Value: strconv.Itoa(r.httpStatus)},
		{Name: "content-type", Value: contentType},
	}
	if r.httpStatus == 405 {
		fields = append(fields, hpack.HeaderField{Name: "allow", Value: "POST"})
	}
	w.Headers = statusFields(fields, status.New(r.code, r.msg))
	if !r.grpc {
		w.Data = []byte("h2rpc: " + r.msg + "\n")
	}
	w.EndStream = true
	if state, _ := s.Transition(stream.EvSendEnd); state != stream.Closed {
		// The client is still sending: the stream stays, half-closed,
		// until it ends its side (its body is discarded) or resets.
		s.putWrite(w)
		return
	}
	s.ended.Store(true)
	w.Cleanup = true
	c.removeStream(s)
	s.putWrite(w)
	s.CloseRecv(errStreamFinished)
	s.finishHandler()
}

// finishRejected closes a rejected request's stream once the client has
// ended its side after our reply.
func (s *Stream) finishRejected() {
	if !s.ended.CompareAndSwap(false, true) {
		return
	}
	s.Transition(stream.EvRecvEnd)
	s.conn.removeStream(s)
	// Behind the reply in the stream's queue, so it cannot overtake it.
	w := controlbuf.NewWrite()
	w.Cleanup = true
	s.putWrite(w)
	s.CloseRecv(errStreamFinished)
	s.finishHandler()
}

// watchDeadline makes the request's deadline, if it has one, end the
// stream: from when the stream is handed over, and at once if the
// deadline passed before.
func (s *Stream) watchDeadline() {
	if s.ctx == nil || s.sctx.deadline.IsZero() {
		return
	}
	if s.sctx.watch(s) {
		s.deadlineExceeded()
	}
}

// deadlineExceeded ends the stream because its deadline passed, as
// grpc-go's server does: RST_STREAM(CANCEL), writes still queued dropped,
// and every later send refused with DEADLINE_EXCEEDED. The handler's
// hold on the slot stays until WriteStatus.
func (s *Stream) deadlineExceeded() {
	s.reset(status.New(codes.DeadlineExceeded, "transport: deadline exceeded"), true, http2.ErrCodeCancel)
}

// finishHandler gives up the handler's hold on the stream's slot, once.
func (s *Stream) finishHandler() {
	if s.handlerDone.CompareAndSwap(false, true) {
		s.release()
	}
}

// release drops one hold on the stream's slot (see serverHeaders); the
// last one frees it.
func (s *Stream) release() {
	if s.refs.Add(-1) == 0 {
		s.conn.handlerFinished(s)
	}
}

// handlerFinished frees a handler slot, closing a draining connection
// that has nothing left to do.
func (c *Conn) handlerFinished(s *Stream) {
	c.mu.Lock()
	c.activeCount--
	if s != nil && s.closedHeld {
		c.closedHeld--
	}
	if c.activeCount == 0 {
		c.idleSince.Store(c.clock())
	}
	if c.slotFree != nil { // the reader may be waiting for a slot
		select {
		case c.slotFree <- struct{}{}:
		default:
		}
	}
	closeNow := c.draining && c.drainReady()
	c.mu.Unlock()
	if closeNow {
		c.closeAfterFlush()
	}
}

// closedWhileHeld records that s, a server stream, was reset: if it still
// holds its slot (its handler has not returned), the slot no longer
// stands for an open stream.
func (c *Conn) closedWhileHeld(s *Stream) {
	c.mu.Lock()
	if s.refs.Load() > 0 && !s.closedHeld {
		s.closedHeld = true
		c.closedHeld++
	}
	c.mu.Unlock()
}

// drainReady reports, with c.mu held, whether a draining connection may
// close.
func (c *Conn) drainReady() bool {
	if c.client {
		return len(c.streams) == 0
	}
	return c.drainStarted && c.goAwayID != 0 && c.activeCount == 0 && len(c.streams) == 0
}

// Method returns the stream's :path, /package.Service/Method.
func (s *Stream) Method() string { return s.method }

// Authority returns the request's :authority.
func (s *Stream) Authority() string { return s.authority }

// Context returns the stream's context: cancelled when the stream ends,
// the client resets it or the connection closes; with the request's
// deadline. On a server stream it is the stream itself (see streamCtx).
func (s *Stream) Context() context.Context { return s.ctx }

// Metadata returns the request's metadata. The caller must not modify it.
func (s *Stream) Metadata() metadata.MD { return s.md }

// ContentSubtype returns the request's codec name ("proto" by default).
func (s *Stream) ContentSubtype() string { return s.contentSubtype }

// RecvCompress returns the request's grpc-encoding.
func (s *Stream) RecvCompress() string { return s.recvCompress }

// SetHeader adds md to the response headers, which must not be sent yet.
func (s *Stream) SetHeader(md metadata.MD) error {
	if s.headerSent || s.ended.Load() {
		return status.Error(codes.Internal, "transport: SetHeader after headers were sent")
	}
	s.header = metadata.Join(s.header, md)
	return nil
}

// SetTrailer adds md to the response trailers.
func (s *Stream) SetTrailer(md metadata.MD) error {
	if s.ended.Load() {
		return status.Error(codes.Internal, "transport: SetTrailer after the stream ended")
	}
	s.trailer = metadata.Join(s.trailer, md)
	return nil
}

func (s *Stream) responseHeaders() []hpack.HeaderField {
	fields := s.fieldBuf[:0]
	fields = append(fields,
		hpack.HeaderField{Name: ":status", Value: "200"},
		hpack.HeaderField{Name: "content-type", Value: ContentType(s.contentSubtype)})
	if s.sendCompress != "" {
		fields = append(fields, hpack.HeaderField{Name: "grpc-encoding", Value: s.sendCompress})
	}
	fields = append(fields, hpack.HeaderField{Name: "grpc-accept-encoding", Value: compress.Names()})
	return appendMD(fields, s.header)
}

// SetSendCompress names the encoding of the response messages (sent as
// grpc-encoding with the headers); call it before the headers go out.
func (s *Stream) SetSendCompress(name string) { s.sendCompress = name }

// AcceptCompress returns the peer's grpc-accept-encoding.
func (s *Stream) AcceptCompress() string { return s.acceptCompress }

// SendHeader sends the response headers now, with md added.
func (s *Stream) SendHeader(md metadata.MD) error {
	if err := s.SetHeader(md); err != nil {
		return err
	}
	headers := s.responseHeaders()
	if st := s.oversizedHeaders(headers); st != nil {
		s.reset(st, true, http2.ErrCodeInternal)
		return st.Err()
	}
	w := controlbuf.NewWrite()
	w.Headers = headers
	s.headerSent = true
	if !s.putWrite(w) {
		return s.sendErr()
	}
	return nil
}

// oversizedHeaders checks response headers and trailers against the
// client's SETTINGS_MAX_HEADER_LIST_SIZE (see headerListFits). For a list
// over it, it returns the status with which the caller ends the stream
// (RST_STREAM(INTERNAL), as grpc-go's server does); nil if all fit.
func (s *Stream) oversizedHeaders(lists ...[]hpack.HeaderField) *status.Status {
	for _, fields := range lists {
		if limit, ok := s.conn.headerListFits(fields); !ok {
			return status.Newf(codes.Internal, "transport: header list size to send violates the maximum size (%d bytes) set by client", limit)
		}
	}
	return nil
}

func (s *Stream) sendErr() error {
	if err := s.RecvErr(); err != nil && err != io.EOF && err != errStreamFinished {
		return err
	}
	if s.ctx != nil && s.ctx.Err() != nil {
		return status.FromContextError(s.ctx.Err()).Err()
	}
	return status.Error(codes.Unavailable, "transport: stream is closed")
}

// WriteStatus ends the call (a nil st is OK): an optional last framed message (owned by
// buf), then the trailers with st, in one write; trailers-only when
// nothing was sent before. The handler's slot is freed. It must be called
// exactly once per stream, when the handler returns.
func (s *Stream) WriteStatus(st *status.Status, data []byte, buf *[]byte) error {
	c := s.conn
	if !s.handlerDone.CompareAndSwap(false, true) {
		putBuf(buf)
		return nil
	}
	// The handler's hold on the slot goes before the stream's last frame
	// is queued: a client may reuse the slot as soon as it reads it.
	if s.reject != nil {
		panic("transport: WriteStatus on a rejected request")
	}
	if s.sctx.Err() == context.DeadlineExceeded {
		// The deadline has reset the stream (deadlineExceeded, which
		// cancels the context only after): only the handler's hold on
		// the slot is left to give up.
		putBuf(buf)
		s.release()
		return nil
	}
	var headers, trailers []hpack.HeaderField
	trailersOnly := !s.headerSent && data == nil && len(s.header) == 0
	if trailersOnly {
		fields := s.fieldBuf[:0]
		fields = append(fields,
			hpack.HeaderField{Name: ":status", Value: "200"},
			hpack.HeaderField{Name: "content-type", Value: ContentType(s.contentSubtype)},
			hpack.HeaderField{Name: "grpc-accept-encoding", Value: compress.Names()})
		fields = statusFields(fields, st)
		headers = appendMD(fields, s.trailer)
	} else {
		if !s.headerSent {
			headers = s.responseHeaders()
		}
		// The response headers, if any, took fieldBuf; trailers get their own.
		fields := s.trailerBuf[:0]
		trailers = appendMD(statusFields(fields, st), s.trailer)
	}
	if st := s.oversizedHeaders(headers, trailers); st != nil {
		putBuf(buf)
		s.release()
		s.reset(st, true, http2.ErrCodeInternal)
		return st.Err()
	}
	if !s.ended.CompareAndSwap(false, true) {
		putBuf(buf)
		s.release()
		return s.sendErr()
	}
	w := controlbuf.NewWrite()
	w.Headers, w.Trailers = headers, trailers
	if trailersOnly {
		w.EndStream = true
	} else {
		w.Data, w.Buf = data, buf
	}
	s.headerSent = true
	state, _ := s.Transition(stream.EvSendEnd)
	w.Cleanup = true
	w.Reset = state != stream.Closed
	w.Code = http2.ErrCodeNo
	if w.Reset {
		c.noteReset(s.ID())
	}
	c.removeStream(s)
	s.release()
	s.putWrite(w)
	s.finishRecv(nil, nil, false)
	return nil
}

// Drain starts a graceful shutdown: GOAWAY with the largest stream id and
// a PING; when the PING's ACK proves the client has seen it, a GOAWAY with
// the real last stream id. The connection closes once its handlers have
// finished. New streams are refused from the second GOAWAY on.
func (c *Conn) Drain() { c.DrainWith("") }

// DrainWith is Drain with a reason in the first GOAWAY's debug data.
func (c *Conn) DrainWith(reason string) {
	c.mu.Lock()
	if c.drainStarted || c.closed {
		c.mu.Unlock()
		return
	}
	c.drainStarted = true
	c.mu.Unlock()
	var debug []byte
	if reason != "" {
		debug = []byte(reason)
	}
	c.put(controlbuf.Item{Kind: controlbuf.KindGoAway, StreamID: maxStreamID, Code: http2.ErrCodeNo, Payload: &controlbuf.Payload{Debug: debug}})
	c.put(controlbuf.Item{Kind: controlbuf.KindPing, Ping: drainPingData})
	// A client that never acknowledges the PING does not hold the
	// shutdown: after drainPingTimeout the second GOAWAY goes anyway.
	t := time.AfterFunc(drainPingTimeout, func() { c.serverPingAck(drainPingData) })
	c.OnClose(func(error) { t.Stop() })
}

func (c *Conn) serverPingAck(data [8]byte) {
	if data != drainPingData {
		return
	}
	c.mu.Lock()
	if !c.drainStarted || c.goAwayID != 0 {
		c.mu.Unlock()
		return
	}
	c.draining = true
	c.goAwayID = c.lastPeerID
	if c.goAwayID == 0 {
		c.goAwayID = maxStreamID // marks "sent"; no stream was opened
	}
	last := c.lastPeerID
	closeNow := c.drainReady()
	c.mu.Unlock()
	c.put(controlbuf.Item{Kind: controlbuf.KindGoAway, StreamID: last, Code: http2.ErrCodeNo})
	if closeNow {
		c.closeAfterFlush()
	}
}

// GoAwayAndClose sends GOAWAY and closes the connection after it is
// written, ending every stream (Server.Stop).
func (c *Conn) GoAwayAndClose() {
	c.put(controlbuf.Item{Kind: controlbuf.KindGoAway, StreamID: c.lastPeerIDAtomic.Load(), Code: http2.ErrCodeNo})
	c.closeAfterFlush()
	t := time.NewTimer(goAwayFlushTimeout)
	select {
	case <-c.loopyDone:
	case <-t.C:
	}
	t.Stop()
	c.Close(ErrConnClosed)
}

// StartOnMessage holds back the start of a new stream's handler, which
// can do nothing before the request message, until that message has
// arrived: the reader then calls start(s) itself instead of waking the
// handler twice (once for the headers, once for the message). The reader
// also calls start as soon as the stream ends or fails, and before it
// waits for the peer, so a slow or silent client only delays the start
// until nothing else is left to read. Call it only from the Handle hook of
// ServerConfig.
func (s *Stream) StartOnMessage(start func(*Stream)) {
	if s.Ready() {
		start(s)
		return
	}
	s.startFn = start
	srv := s.conn.server
	srv.pendingStarts = append(srv.pendingStarts, s)
}

// startPending starts every handler held back by StartOnMessage.
// onReaderWait runs when the reader has handled all it has and waits
// for the socket, even in the middle of a large frame: held handlers
// start, and rejected requests get their answers, then rather than
// after a long upload on another stream.
func (c *Conn) onReaderWait() {
	if len(c.pendingReplies) > 0 {
		c.flushReplies()
	}
	c.startPending()
}

func (c *Conn) startPending() {
	if c.server == nil || len(c.server.pendingStarts) == 0 {
		return
	}
	held := c.server.pendingStarts
	for _, s := range held {
		c.startHeld(s)
	}
	clear(held)
	c.server.pendingStarts = held[:0]
}

// startHeld starts s's handler if it is still held back.
func (c *Conn) startHeld(s *Stream) {
	if start := s.startFn; start != nil {
		s.startFn = nil
		start(s)
	}
}
