package controlbuf

import (
	"fmt"
	"math"
	"runtime"
	"sync/atomic"

	"github.com/h2rpc/h2rpc/framer"
	"golang.org/x/net/http2"
)

const (
	// smallBatch is the batch size under which loopy yields once before
	// flushing, to let other goroutines add to the batch.
	smallBatch = 4 << 10
	// flushThreshold is the batch size at which loopy flushes while it
	// still has work, to keep the socket busy.
	flushThreshold = 256 << 10
	// initialWindow is HTTP/2's default window (RFC 9113 §6.9.2).
	initialWindow = 65535
)

// Hooks lets loopy tell its transport about errors it finds on the writer
// side.
type Hooks interface {
	// LastPeerStreamID reports the last peer-initiated stream id the
	// transport processed, for a GOAWAY loopy sends on a connection error.
	LastPeerStreamID() uint32
	// StreamDone reports that loopy has forgotten s (its last write is
	// out, or it was cleaned up), once per stream.
	StreamDone(s *OutStream)
	// StreamFlowError reports that a WINDOW_UPDATE overflowed stream id's
	// send window. Loopy has already dropped the stream's writes and
	// written RST_STREAM(FLOW_CONTROL_ERROR); the transport ends its side
	// of the stream without another reset.
	StreamFlowError(id uint32)
}

// Loopy drains a Queue into a framer.Writer. Run it on one goroutine.
type Loopy struct {
	q     *Queue
	w     *framer.Writer
	hooks Hooks

	streams       map[uint32]*OutStream
	active        OutStream // sentinel of the circular active list
	connQuota     int64
	initialWindow int64
	spare         []Item
	closing       bool // KindClose seen: stop once nothing is writable
	quotaFree     bool // a stream activated since the last round may write without connection quota
	wroteStream   *atomic.Bool
	// early holds stream credit that came for a stream loopy did not know
	// yet: a server's handler may answer (and its transport forget the
	// stream) just before loopy sees the answer. Made on first use.
	early *earlyCredit
}

// earlyCredit keeps the last few WINDOW_UPDATEs for streams loopy did not
// know, the oldest overwritten. Credit for streams already forgotten ends
// up here too, and is never claimed, as stream ids are not reused.
type earlyCredit struct {
	ids, ns [4]uint32
	next    int
}

// SetWriteFlag makes loopy set f each time it writes a stream's HEADERS or
// DATA (a server forgives a client's ping that follows such writes).
// Call it before Run.
func (l *Loopy) SetWriteFlag(f *atomic.Bool) { l.wroteStream = f }

// NewLoopy returns a Loopy that drains q into w.
func NewLoopy(q *Queue, w *framer.Writer, hooks Hooks) *Loopy {
	l := &Loopy{
		q:             q,
		w:             w,
		hooks:         hooks,
		streams:       make(map[uint32]*OutStream),
		connQuota:     initialWindow,
		initialWindow: initialWindow,
	}
	l.active.next, l.active.prev = &l.active, &l.active
	return l
}

// Run writes frames until the queue closes, a KindClose item has been
// reached and everything writable before it is written (it returns nil), writing fails, or the peer commits a connection error
// loopy detects (it writes GOAWAY first and returns an
// http2.ConnectionError).
func (l *Loopy) Run() (err error) {
	defer l.releaseAll()
	yielded := false
	for {
		hasActive := l.active.next != &l.active
		canRound := hasActive && (l.connQuota > 0 || l.quotaFree)
		block := !canRound && l.w.Buffered() == 0 && !l.closing
		var quietRoom uint32
		if !hasActive {
			// Nothing waits for connection quota, so the peer's
			// connection credit need not wake loopy. (connQuota stays
			// within [0, 2^31-1].)
			quietRoom = uint32(math.MaxInt32 - l.connQuota)
		}
		items, err := l.q.take(l.spare, block, quietRoom)
		if err != nil {
			return err
		}
		for i := range items {
			if err := l.handle(&items[i]); err != nil {
				clear(items)
				l.spare = items[:0]
				return err
			}
		}
		clear(items)
		l.spare = items[:0]
		if len(items) > 0 {
			continue
		}
		if l.active.next != &l.active && (l.connQuota > 0 || l.quotaFree) {
			if err := l.round(); err != nil {
				return err
			}
			if l.w.Buffered() >= flushThreshold {
				if err := l.w.Flush(); err != nil {
					return err
				}
			}
			continue
		}
		if l.closing {
			return l.w.Flush()
		}
		if l.w.Buffered() > 0 {
			if !yielded && l.w.Buffered() < smallBatch {
				yielded = true
				runtime.Gosched()
				continue
			}
			yielded = false
			if err := l.w.Flush(); err != nil {
				return err
			}
		}
	}
}

func (l *Loopy) handle(it *Item) error {
	switch it.Kind {
	case KindStreamWrite:
		return l.streamWrite(it.Stream, it.Write)
	case KindCleanup:
		s := it.Stream
		if s == nil {
			s = l.streams[it.StreamID]
		}
		return l.cleanup(s, it.StreamID, it.Reset, it.Code)
	case KindWindowUpdate:
		return l.w.WriteWindowUpdate(it.StreamID, it.N)
	case KindPeerWindowUpdate:
		return l.peerWindowUpdate(it.StreamID, it.N, it.Stream)
	case KindSettings:
		return l.w.WriteSettings(it.Payload.settings()...)
	case KindPeerSettings:
		return l.peerSettings(it.Payload.settings())
	case KindPing:
		return l.w.WritePing(it.Ack, it.Ping)
	case KindRSTStream:
		if s := l.streams[it.StreamID]; s != nil {
			// Loopy still holds writes for it (an answer queued behind
			// flow control): nothing may follow the reset.
			return l.cleanup(s, it.StreamID, true, it.Code)
		}
		return l.w.WriteRSTStream(it.StreamID, it.Code)
	case KindGoAway:
		return l.w.WriteGoAway(it.StreamID, it.Code, it.Payload.debug())
	case KindClose:
		l.closing = true
		return nil
	}
	return fmt.Errorf("controlbuf: unknown item kind %d", it.Kind)
}

func (l *Loopy) streamWrite(s *OutStream, w *Write) error {
	if s.dead.Load() {
		s.replenish(len(w.Data))
		l.w.ReleaseAfterFlush(w.Buf)
		freeWrite(w)
		return nil
	}
	if !s.registered {
		s.registered = true
		// quota holds what WINDOW_UPDATEs granted before this first write.
		s.quota += l.initialWindow
		l.streams[s.ID] = s
		if n := l.claimEarly(s.ID); n > 0 {
			if s.quota+n > math.MaxInt32 {
				l.w.ReleaseAfterFlush(w.Buf)
				freeWrite(w)
				return l.streamFlowError(s, s.ID)
			}
			s.quota += n
		}
	}
	if s.tail == nil {
		s.head = w
	} else {
		s.tail.next = w
	}
	s.tail = w
	if s.state == outEmpty {
		l.activate(s)
	}
	return nil
}

// activate puts s in the active list if it can write, else marks it
// blocked on stream quota.
func (l *Loopy) activate(s *OutStream) {
	if s.head == nil {
		s.state = outEmpty
		return
	}
	h := s.head
	if s.quota <= 0 && (h.headersDone || h.Headers == nil) && h.off < len(h.Data) {
		s.state = outBlocked
		return
	}
	s.state = outActive
	if !needsConnQuota(s) {
		l.quotaFree = true
	}
	s.prev = l.active.prev
	s.next = &l.active
	l.active.prev.next = s
	l.active.prev = s
}

func (l *Loopy) unlink(s *OutStream) {
	if s.state == outActive {
		s.prev.next = s.next
		s.next.prev = s.prev
		s.prev, s.next = nil, nil
	}
}

// round gives each active stream one turn. Once the connection window
// is spent, streams whose next frame is DATA wait, in their order, ahead
// of those that had a turn; the others (headers, trailers, a reset after
// the data) still go, as they are not flow-controlled.
func (l *Loopy) round() error {
	l.quotaFree = false
	// Detach the list so that streams re-activated during the round wait
	// for the next one.
	first, last := l.active.next, l.active.prev
	l.active.next, l.active.prev = &l.active, &l.active
	first.prev, last.next = nil, nil
	var waitFirst, waitLast *OutStream
	for s := first; s != nil; {
		next := s.next
		s.prev, s.next = nil, nil
		if l.connQuota <= 0 && needsConnQuota(s) {
			if waitLast == nil {
				waitFirst = s
			} else {
				waitLast.next, s.prev = s, waitLast
			}
			waitLast = s
			s = next
			continue
		}
		s.state = outEmpty
		if err := l.turn(s); err != nil {
			return err
		}
		if s.registered {
			l.activate(s)
		}
		s = next
	}
	if waitFirst != nil {
		waitFirst.prev = &l.active
		waitLast.next = l.active.next
		l.active.next.prev = waitLast
		l.active.next = waitFirst
	}
	return nil
}

// needsConnQuota reports whether s's next frame is DATA with bytes in it.
func needsConnQuota(s *OutStream) bool {
	h := s.head
	return h != nil && (h.headersDone || h.Headers == nil) && h.off < len(h.Data)
}

// turn writes what s may write now: any headers, at most one DATA frame,
// and the trailers of a write whose data is all out. A DATA frame that
// finishes a write also carries the whole data of the writes queued
// behind it, as far as the frame size and quotas allow, so a burst of
// small messages costs one frame header and one turn rather than one each.
func (l *Loopy) turn(s *OutStream) error {
	for s.head != nil {
		w := s.head
		if w.Headers != nil && !w.headersDone {
			end := w.EndStream && len(w.Data) == 0 && w.Trailers == nil
			if err := l.w.WriteHeaders(s.ID, end, w.Headers); err != nil {
				return err
			}
			w.headersDone = true
			s.headersOut.Store(true)
			l.markWrite()
		}
		wroteData := false
		if w.off < len(w.Data) {
			n := int64(len(w.Data) - w.off)
			n = min(n, int64(l.w.MaxFrameSize()), s.quota, l.connQuota)
			if n <= 0 {
				return nil
			}
			last := w.off+int(n) == len(w.Data)
			end := last && w.EndStream && w.Trailers == nil
			total, followers := n, 0
			if last && !end && w.Trailers == nil && !w.Cleanup {
				total, followers, end = l.coalesce(s, w, n)
			}
			l.w.WriteDataHeader(s.ID, end, int(total))
			l.w.WriteDataPayload(w.Data[w.off : w.off+int(n)])
			for x := w.next; followers > 0; x, followers = x.next, followers-1 {
				l.w.WriteDataPayload(x.Data)
				x.off = len(x.Data)
				s.replenish(len(x.Data))
			}
			l.markWrite()
			w.off += int(n)
			s.quota -= total
			l.connQuota -= total
			s.replenish(int(n))
			if !last {
				return nil
			}
			wroteData = true
		} else if len(w.Data) == 0 && w.EndStream && w.Trailers == nil && w.Headers == nil {
			l.w.WriteData(s.ID, true, nil)
		}
		if w.Trailers != nil {
			if err := l.w.WriteHeaders(s.ID, true, w.Trailers); err != nil {
				return err
			}
		}
		s.head = w.next
		if s.head == nil {
			s.tail = nil
		}
		l.w.ReleaseAfterFlush(w.Buf)
		cleanup, reset, code := w.Cleanup, w.Reset, w.Code
		halfClosed := w.EndStream && s.Local && s.head == nil
		freeWrite(w)
		if cleanup {
			return l.cleanup(s, s.ID, reset, code)
		}
		if halfClosed {
			// Our side of a stream we opened is done: nothing more is
			// written on it but a reset, which needs no state. Forgetting
			// it now spares its owner a cleanup item, and loopy a
			// wake-up, when the response ends.
			return l.cleanup(s, s.ID, false, 0)
		}
		if wroteData {
			return nil
		}
	}
	return nil
}

// coalesce plans a DATA frame that finishes w with n bytes: it counts the
// writes queued behind w whose whole data fits in the room left (frame
// size and quotas), stopping at one that has headers or ends the stream.
// It returns the frame's length, how many followers it carries, and
// whether the frame ends the stream (its last follower's END_STREAM).
func (l *Loopy) coalesce(s *OutStream, w *Write, n int64) (total int64, followers int, end bool) {
	room := min(int64(l.w.MaxFrameSize()), s.quota, l.connQuota) - n
	total = n
	for x := w.next; x != nil && x.Headers == nil && x.off == 0 && len(x.Data) > 0 && int64(len(x.Data)) <= room; x = x.next {
		room -= int64(len(x.Data))
		total += int64(len(x.Data))
		followers++
		if x.EndStream || x.Trailers != nil || x.Cleanup {
			end = x.EndStream && x.Trailers == nil
			break
		}
	}
	return total, followers, end
}

func (l *Loopy) markWrite() {
	if l.wroteStream != nil {
		l.wroteStream.Store(true)
	}
}

// cleanup forgets s (which may be nil or unknown to loopy), dropping its
// unwritten writes, and writes RST_STREAM if asked.
func (l *Loopy) cleanup(s *OutStream, id uint32, reset bool, code http2.ErrCode) error {
	if s != nil && !s.dead.Load() {
		s.dead.Store(true)
		defer l.hooks.StreamDone(s)
	}
	if s != nil && s.registered {
		l.unlink(s)
		s.state = outEmpty
		s.registered = false
		delete(l.streams, s.ID)
		for w := s.head; w != nil; {
			next := w.next
			s.replenish(len(w.Data) - w.off)
			l.w.ReleaseAfterFlush(w.Buf)
			freeWrite(w)
			w = next
		}
		s.head, s.tail = nil, nil
	}
	if reset && (s == nil || !s.Local || s.headersOut.Load()) {
		return l.w.WriteRSTStream(id, code)
	}
	return nil
}

func (l *Loopy) peerWindowUpdate(id, n uint32, s *OutStream) error {
	if id == 0 {
		if l.connQuota+int64(n) > math.MaxInt32 {
			return l.connError(http2.ErrCodeFlowControl, "connection window overflow")
		}
		l.connQuota += int64(n)
		return nil
	}
	if s == nil {
		s = l.streams[id]
	}
	if s == nil {
		if l.early == nil {
			l.early = new(earlyCredit)
		}
		e := l.early
		e.ids[e.next], e.ns[e.next] = id, n
		e.next = (e.next + 1) % len(e.ids)
		return nil
	}
	if s.dead.Load() {
		return nil
	}
	window := s.quota
	if !s.registered {
		// Credit for a stream that has not written yet is kept for its
		// first write, on top of the initial window.
		window += l.initialWindow
	}
	if window+int64(n) > math.MaxInt32 {
		return l.streamFlowError(s, id)
	}
	s.quota += int64(n)
	if s.state == outBlocked && s.quota > 0 {
		l.activate(s)
	}
	return nil
}

// claimEarly returns, and forgets, the credit that came for stream id
// before loopy knew it.
func (l *Loopy) claimEarly(id uint32) int64 {
	var n int64
	if e := l.early; e != nil {
		for i, eid := range e.ids {
			if eid == id {
				n += int64(e.ns[i])
				e.ids[i], e.ns[i] = 0, 0
			}
		}
	}
	return n
}

// streamFlowError ends stream s, whose send window the peer overflowed:
// loopy resets it where its writes are (its owner may have let go of it
// already, a server's answer queued in full), then tells the transport.
func (l *Loopy) streamFlowError(s *OutStream, id uint32) error {
	err := l.cleanup(s, id, true, http2.ErrCodeFlowControl)
	l.hooks.StreamFlowError(id)
	return err
}

func (l *Loopy) peerSettings(settings []http2.Setting) error {
	for _, st := range settings {
		switch st.ID {
		case http2.SettingInitialWindowSize:
			delta := int64(st.Val) - l.initialWindow
			l.initialWindow = int64(st.Val)
			for _, s := range l.streams {
				if s.quota+delta > math.MaxInt32 {
					return l.connError(http2.ErrCodeFlowControl, "SETTINGS_INITIAL_WINDOW_SIZE overflows a stream window")
				}
			}
			for _, s := range l.streams {
				s.quota += delta
				if s.state == outBlocked && s.quota > 0 {
					l.activate(s)
				}
			}
		case http2.SettingMaxFrameSize:
			l.w.SetMaxFrameSize(st.Val)
		case http2.SettingHeaderTableSize:
			l.w.SetHeaderTableSize(st.Val)
		}
	}
	return l.w.WriteSettingsAck()
}

// connError writes GOAWAY for a connection error and returns it.
func (l *Loopy) connError(code http2.ErrCode, reason string) error {
	l.w.WriteGoAway(l.hooks.LastPeerStreamID(), code, []byte(reason))
	l.w.Flush()
	return fmt.Errorf("controlbuf: %s: %w", reason, http2.ConnectionError(code))
}

// releaseAll returns the buffers of every write loopy still holds.
func (l *Loopy) releaseAll() {
	for _, s := range l.streams {
		for w := s.head; w != nil; {
			next := w.next
			l.w.ReleaseAfterFlush(w.Buf)
			freeWrite(w)
			w = next
		}
		s.head, s.tail = nil, nil
	}
	clear(l.streams)
	l.w.Discard()
}
