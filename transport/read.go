package transport

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/h2rpc/h2rpc/codes"
	"github.com/h2rpc/h2rpc/controlbuf"
	"github.com/h2rpc/h2rpc/status"
	"github.com/h2rpc/h2rpc/stream"
	"golang.org/x/net/http2"
)

// goAwayFlushTimeout bounds how long a connection ended by a protocol
// error waits for loopy to write its GOAWAY.
const goAwayFlushTimeout = time.Second

// readLoop reads and dispatches frames until the connection fails.
func (c *Conn) readLoop() (err error) {
	defer c.r.Release()
	defer c.startPending() // their handlers see the connection's end
	defer func() {
		var ce http2.ConnectionError
		if errors.As(err, &ce) {
			// Let loopy write the GOAWAY queued by connError. A client
			// keeps no loopyDone: loopy's Close, once it has written,
			// ends the connection's context instead.
			var flushed <-chan struct{} = c.loopyDone
			if flushed == nil {
				flushed = c.ctx.Done()
			}
			t := time.NewTimer(goAwayFlushTimeout)
			select {
			case <-flushed:
			case <-t.C:
			}
			t.Stop()
			c.linger()
		}
	}()
	first := true
	for {
		if err := c.q.Throttle(); err != nil {
			return err
		}
		if c.stopReading.Load() {
			return c.connError(http2.ErrCodeEnhanceYourCalm, "too_many_resets")
		}
		if c.r.Buffered() == 0 {
			// What arrived together has been handled: answer it.
			if len(c.pendingReplies) > 0 {
				c.flushReplies()
			}
			c.startPending()
		}
		fh, err := c.r.ReadFrameHeader()
		if err != nil {
			return c.readError(err)
		}
		c.lastRead.Store(c.clock())
		if first {
			if fh.Type != http2.FrameSettings || fh.Flags.Has(http2.FlagSettingsAck) {
				return c.connError(http2.ErrCodeProtocol, "first frame is not SETTINGS")
			}
			first = false
			if !c.client {
				// The handshake deadline covered the preface and this.
				c.nc.SetReadDeadline(time.Time{})
			}
		}
		if fh.Type == http2.FrameData {
			if err := c.handleData(fh); err != nil {
				return err
			}
			continue
		}
		if fh.Type == http2.FrameHeaders {
			blk, err := c.r.ReadHeaderBlock(fh)
			if err != nil {
				if err := c.frameReadFailed(err); err != nil {
					return err
				}
				continue
			}
			if c.client {
				err = c.clientHeaders(blk)
			} else {
				err = c.serverHeaders(blk)
			}
			if err != nil {
				return err
			}
			continue
		}
		f, err := c.r.ReadControlFrame(fh)
		if err != nil {
			if err := c.frameReadFailed(err); err != nil {
				return err
			}
			continue
		}
		if err := c.dispatch(f); err != nil {
			return err
		}
	}
}

// lingerBytes and lingerTime bound how much a connection that failed
// reads and discards before closing.
const (
	lingerBytes = 64 << 10
	lingerTime  = 250 * time.Millisecond
)

// linger half-closes a connection that failed and discards what the peer
// still sends for a moment, so that closing does not make the kernel
// reset the connection (dropping our GOAWAY) for input left unread.
func (c *Conn) linger() {
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.nc.SetReadDeadline(time.Now().Add(lingerTime))
	io.CopyN(io.Discard, c.nc, lingerBytes)
}

func (c *Conn) readError(err error) error {
	var ce http2.ConnectionError
	switch {
	case errors.Is(err, http2.ErrFrameTooLarge):
		return c.connError(http2.ErrCodeFrameSize, "frame too large")
	case errors.As(err, &ce):
		reason := err.Error()
		if d := c.r.ErrorDetail(); d != nil {
			reason = d.Error()
		}
		return c.connError(http2.ErrCode(ce), reason)
	}
	return fmt.Errorf("transport: reading frame: %w", err)
}

func (c *Conn) dispatch(f http2.Frame) error {
	switch f := f.(type) {
	case *http2.SettingsFrame:
		return c.handleSettings(f)
	case *http2.PingFrame:
		return c.handlePing(f)
	case *http2.WindowUpdateFrame:
		return c.handleWindowUpdate(f)
	case *http2.RSTStreamFrame:
		return c.handleRST(f)
	case *http2.GoAwayFrame:
		return c.handleGoAway(f)
	case *http2.PushPromiseFrame:
		return c.connError(http2.ErrCodeProtocol, "PUSH_PROMISE is not allowed")
	case *http2.PriorityFrame:
		if f.StreamDep == f.StreamID {
			return c.streamError(f.StreamID, http2.ErrCodeProtocol, "stream depends on itself")
		}
		return nil
	}
	// Unknown frame types are ignored (RFC 9113 §5.5).
	return nil
}

// streamError resets one stream for a stream-level protocol error; it
// returns a connection error when the peer provokes such resets too often.
func (c *Conn) streamError(id uint32, code http2.ErrCode, msg string) error {
	if !c.client && id%2 == 1 {
		// A request that failed to parse still used up its stream id.
		c.mu.Lock()
		if id > c.lastPeerID {
			c.lastPeerID = id
			c.lastPeerIDAtomic.Store(id)
		}
		c.mu.Unlock()
	}
	if s := c.stream(id); s != nil {
		s.reset(status.New(codes.Internal, "transport: "+msg), true, code)
		// Resetting a stream we accepted is work the peer provoked
		// (MadeYouReset); refusing one never dispatched costs nothing.
		return c.abuse("too_many_resets")
	}
	c.noteReset(id)
	c.put(controlbuf.Item{Kind: controlbuf.KindRSTStream, StreamID: id, Code: code})
	return nil
}

// frameReadFailed handles an error reading a frame's payload: a stream
// error is answered on that stream and reading goes on (nil); anything
// else ends the connection.
func (c *Conn) frameReadFailed(err error) error {
	var se http2.StreamError
	if errors.As(err, &se) {
		return c.streamError(se.StreamID, se.Code, se.Error())
	}
	return c.readError(err)
}

// handleData reads one DATA frame's payload into its stream.
func (c *Conn) handleData(fh http2.FrameHeader) error {
	if fh.StreamID == 0 {
		return c.connError(http2.ErrCodeProtocol, "DATA on stream 0")
	}
	length := int(fh.Length)
	if int64(length) > c.connAvail {
		return c.connError(http2.ErrCodeFlowControl, "connection window exceeded")
	}
	c.connAvail -= int64(length)
	c.connPending += int64(length)
	if c.connPending >= c.connLimit/4 {
		c.put(controlbuf.Item{Kind: controlbuf.KindWindowUpdate, N: uint32(c.connPending)})
		c.connAvail += c.connPending
		c.connPending = 0
	}
	if length == 0 && !fh.Flags.Has(http2.FlagDataEndStream) {
		if err := c.abuse("too_many_empty_frames"); err != nil {
			return err
		}
	}
	n := length
	pad := 0
	if fh.Flags.Has(http2.FlagDataPadded) {
		if length < 1 {
			return c.connError(http2.ErrCodeProtocol, "padded DATA without pad length")
		}
		b, err := c.r.ReadByte()
		if err != nil {
			return err
		}
		pad = int(b)
		n = length - 1
		if pad > n {
			return c.connError(http2.ErrCodeProtocol, "DATA padding exceeds payload")
		}
		n -= pad
	}
	s := c.stream(fh.StreamID)
	if s == nil {
		if c.idleStream(fh.StreamID) {
			return c.connError(http2.ErrCodeProtocol, "DATA on idle stream")
		}
		if err := c.r.Discard(n + pad); err != nil {
			return err
		}
		if !c.resetByUs(fh.StreamID) {
			// Closed by END_STREAM both ways or by the peer's reset: no
			// DATA may follow. (After our reset, frames in flight are
			// expected and ignored.)
			return c.streamError(fh.StreamID, http2.ErrCodeStreamClosed, "DATA on a closed stream")
		}
		return nil
	}
	st := s.State()
	if st == stream.HalfClosedRemote || st == stream.Closed {
		if err := c.r.Discard(n + pad); err != nil {
			return err
		}
		s.reset(status.New(codes.Internal, "transport: DATA after END_STREAM"), true, http2.ErrCodeStreamClosed)
		return c.abuse("too_many_resets")
	}
	if !s.OnData(length) {
		if err := c.r.Discard(n + pad); err != nil {
			return err
		}
		s.reset(status.New(codes.Internal, "transport: stream window exceeded"), true, http2.ErrCodeFlowControl)
		return c.abuse("too_many_resets")
	}
	s.dataSeen += int64(n)
	if s.contentLength >= 0 && s.dataSeen > s.contentLength {
		if err := c.r.Discard(n + pad); err != nil {
			return err
		}
		s.reset(status.New(codes.Internal, "transport: body longer than content-length"), true, http2.ErrCodeProtocol)
		return c.abuse("too_many_resets")
	}
	if s.reject != nil {
		// A request answered with plain HTTP: its body is not read.
		if err := c.r.Discard(n + pad); err != nil {
			return err
		}
		c.windowUpdate(s, s.Consumed(length))
		if fh.Flags.Has(http2.FlagDataEndStream) && s.recvEnd() {
			return c.abuse("too_many_resets")
		}
		return nil
	}
	if c.client && !s.headerReceived() {
		if err := c.r.Discard(n + pad); err != nil {
			return err
		}
		s.reset(status.New(codes.Internal, "transport: DATA before response headers"), true, http2.ErrCodeProtocol)
		return c.abuse("too_many_resets")
	}
	streamErr, ioErr := s.ReadData(c.r, n, s.maxRecv)
	if ioErr != nil {
		return ioErr
	}
	if pad > 0 {
		if err := c.r.Discard(pad); err != nil {
			return err
		}
	}
	if credit := length - n; credit > 0 {
		c.windowUpdate(s, s.Consumed(credit))
	}
	grant := s.TakeGrant()
	c.windowUpdate(s, grant)
	// A single-message stream measures only when its message did not fit
	// the window: a window too small for the messages in use costs each of
	// them a round trip for the grant.
	c.bdpOnData(uint32(length), grant > 0 || !s.SingleMessage())
	if streamErr != nil {
		st := status.Convert(streamErr)
		if c.client {
			s.reset(st, true, http2.ErrCodeCancel)
			return nil
		}
		// The handler learns it from RecvMsg and answers with the status;
		// the rest of the stream's data is discarded.
		s.CloseRecv(&Error{St: st})
		if fh.Flags.Has(http2.FlagDataEndStream) {
			s.Transition(stream.EvRecvEnd)
		}
	} else if fh.Flags.Has(http2.FlagDataEndStream) {
		if s.recvEnd() && !c.client {
			if err := c.abuse("too_many_resets"); err != nil {
				return err
			}
		}
	}
	if s.startFn != nil && s.Ready() {
		c.startHeld(s)
	}
	return nil
}

func (c *Conn) windowUpdate(s *Stream, n uint32) {
	if n > 0 {
		c.put(controlbuf.Item{Kind: controlbuf.KindWindowUpdate, StreamID: s.ID(), N: n})
	}
}

// idleStream reports whether id names a stream the peer has not opened
// yet (for peer-initiated ids) or we have not opened (for ours).
func (c *Conn) idleStream(id uint32) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	ours := (id%2 == 1) == c.client
	if ours {
		return id >= c.nextID
	}
	return id > c.lastPeerID
}

func (c *Conn) handleSettings(f *http2.SettingsFrame) error {
	if f.IsAck() {
		return nil
	}
	if err := f.ForeachSetting(func(s http2.Setting) error { return s.Valid() }); err != nil {
		var ce http2.ConnectionError
		if errors.As(err, &ce) {
			return c.connError(http2.ErrCode(ce), "invalid setting")
		}
		return c.connError(http2.ErrCodeProtocol, "invalid setting")
	}
	var forLoopy []http2.Setting
	f.ForeachSetting(func(s http2.Setting) error {
		switch s.ID {
		case http2.SettingMaxConcurrentStreams:
			if c.client {
				c.mu.Lock()
				c.maxStreams = s.Val
				c.mu.Unlock()
				c.wakeSlotWaiter()
			}
		case http2.SettingMaxHeaderListSize:
			c.peerHeaderLimit.Store(int64(s.Val))
		case http2.SettingInitialWindowSize, http2.SettingMaxFrameSize, http2.SettingHeaderTableSize:
			forLoopy = append(forLoopy, s)
		}
		return nil
	})
	c.put(controlbuf.Item{Kind: controlbuf.KindPeerSettings, Payload: &controlbuf.Payload{Settings: forLoopy}})
	if c.client {
		// Only the first Do reads settingsSeen: NewClientConn drops it
		// once it has seen it closed.
		c.settingsOnce.Do(func() { close(c.settingsSeen) })
	}
	return nil
}

func (c *Conn) handlePing(f *http2.PingFrame) error {
	if f.StreamID != 0 {
		return c.connError(http2.ErrCodeProtocol, "PING on a stream")
	}
	if f.IsAck() {
		c.pingAck(f.Data)
		return nil
	}
	if !c.client {
		if err := c.checkPing(); err != nil {
			return err
		}
	}
	c.put(controlbuf.Item{Kind: controlbuf.KindPing, Ack: true, Ping: f.Data})
	return nil
}

func (c *Conn) handleWindowUpdate(f *http2.WindowUpdateFrame) error {
	if f.Increment == 0 {
		if f.StreamID == 0 {
			return c.connError(http2.ErrCodeProtocol, "WINDOW_UPDATE of 0")
		}
		return c.streamError(f.StreamID, http2.ErrCodeProtocol, "WINDOW_UPDATE of 0")
	}
	if f.StreamID != 0 && c.idleStream(f.StreamID) {
		return c.connError(http2.ErrCodeProtocol, "WINDOW_UPDATE on idle stream")
	}
	it := controlbuf.Item{Kind: controlbuf.KindPeerWindowUpdate, StreamID: f.StreamID, N: f.Increment}
	if f.StreamID != 0 {
		if s := c.stream(f.StreamID); s != nil {
			it.Stream = &s.Out
		}
	}
	c.put(it)
	return nil
}

func (c *Conn) handleRST(f *http2.RSTStreamFrame) (err error) {
	if f.StreamID == 0 {
		return c.connError(http2.ErrCodeProtocol, "RST_STREAM on stream 0")
	}
	s := c.stream(f.StreamID)
	if s == nil {
		if c.idleStream(f.StreamID) {
			return c.connError(http2.ErrCodeProtocol, "RST_STREAM on idle stream")
		}
		if !c.client {
			// A handler that returned leaves its stream's table, but
			// loopy may still hold the end of its answer, waiting for
			// window this client will not give now: let it go, and
			// with it the stream's slot. (No RST_STREAM in answer.)
			c.put(controlbuf.Item{Kind: controlbuf.KindCleanup, StreamID: f.StreamID})
		}
		return nil
	}
	code := status.CodeFromHTTP2ErrCode(uint32(f.ErrCode))
	msg := fmt.Sprintf("stream terminated by RST_STREAM with error code: %v", f.ErrCode)
	if f.ErrCode == http2.ErrCodeRefusedStream {
		s.unprocessed.Store(true)
	}
	if !c.client && !s.ended.Load() && !s.Delivered() {
		// A stream reset before we answered it or had its first
		// message: Rapid Reset's currency. A call cancelled once its
		// request is in costs nothing: it bought the work it cancels
		// with a whole message, and running handlers stay within
		// MaxConcurrentStreams whatever the resets (see serverHeaders).
		defer func() {
			if err == nil {
				err = c.abuse("too_many_resets")
			}
		}()
	}
	// A server cancels a call whose propagated deadline passed; the
	// caller should see its deadline, as it would had it fired here first.
	if c.client && f.ErrCode == http2.ErrCodeCancel && !s.deadline.IsZero() && !time.Now().Before(s.deadline) {
		code = codes.DeadlineExceeded
		msg = "context deadline exceeded"
	}
	s.reset(status.New(code, msg), false, 0)
	return nil
}

func (c *Conn) handleGoAway(f *http2.GoAwayFrame) error {
	if f.StreamID != 0 {
		return c.connError(http2.ErrCodeProtocol, "GOAWAY on a stream")
	}
	if !c.client {
		c.mu.Lock()
		c.draining = true
		c.mu.Unlock()
		return nil
	}
	return c.clientGoAway(f)
}

// pingAck handles the ACK of a PING we sent.
func (c *Conn) pingAck(data [8]byte) {
	switch {
	case data == bdpPingData:
		c.bdpAck()
	case !c.client:
		c.serverPingAck(data)
	}
}
