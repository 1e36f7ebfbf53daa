package controlbuf

import (
	"errors"
	"sync"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// MaxQueuedResponses is how many answers to the peer (SETTINGS ACK, PING
// ACK, RST_STREAM) may wait in the queue before the reader is throttled.
const MaxQueuedResponses = 100

// ErrClosed is returned once the queue has been closed.
var ErrClosed = errors.New("controlbuf: closed")

// Kind says what an Item asks loopy to do.
type Kind uint8

// The kinds of item.
const (
	// KindStreamWrite appends Write to Stream's ordered writes.
	KindStreamWrite Kind = iota + 1
	// KindCleanup makes loopy forget Stream (or, if Stream is nil, the
	// stream StreamID if it holds it), dropping what it has not written;
	// with Reset it writes RST_STREAM(StreamID, Code).
	KindCleanup
	// KindWindowUpdate writes WINDOW_UPDATE(StreamID, N).
	KindWindowUpdate
	// KindPeerWindowUpdate credits N bytes of send quota to StreamID (0:
	// the connection), as the peer's WINDOW_UPDATE granted. Stream, if
	// set, is that stream, which may not have written anything yet.
	KindPeerWindowUpdate
	// KindSettings writes SETTINGS(Settings).
	KindSettings
	// KindPeerSettings applies the peer's Settings to the writer side
	// and writes the SETTINGS ACK.
	KindPeerSettings
	// KindPing writes PING(Ack, Ping).
	KindPing
	// KindRSTStream writes RST_STREAM(StreamID, Code) for a stream loopy
	// may not know.
	KindRSTStream
	// KindGoAway writes GOAWAY(StreamID as last stream id, Code, Debug).
	KindGoAway
	// KindClose makes loopy write what it can of everything before it,
	// flush, and stop.
	KindClose
)

// Item is one request to loopy. Which fields matter depends on Kind.
type Item struct {
	Kind     Kind
	Ack      bool
	Reset    bool
	Code     http2.ErrCode
	StreamID uint32
	N        uint32
	Ping     [8]byte
	Stream   *OutStream
	Write    *Write
	// Payload is the variable part of a SETTINGS or GOAWAY item, behind a
	// pointer so that the items every call queues stay small.
	Payload *Payload
}

// Payload is the variable-length part of an Item.
type Payload struct {
	// Settings are written (KindSettings) or applied (KindPeerSettings).
	Settings []http2.Setting
	// Debug is GOAWAY's debug data (KindGoAway).
	Debug []byte
}

// settings and debug read a Payload that may be nil (an empty SETTINGS,
// a GOAWAY without debug data).
func (p *Payload) settings() []http2.Setting {
	if p == nil {
		return nil
	}
	return p.Settings
}

func (p *Payload) debug() []byte {
	if p == nil {
		return nil
	}
	return p.Debug
}

// isResponse reports whether the item answers something the peer sent;
// those are what a flooding peer can make pile up.
func (it *Item) isResponse() bool {
	switch it.Kind {
	case KindPeerSettings, KindRSTStream:
		return true
	case KindCleanup:
		// By id only: the peer reset a stream we had finished with.
		return it.Stream == nil
	case KindPing:
		return it.Ack
	}
	return false
}

// Write is one ordered unit of a stream's output: optional headers, then
// optional message bytes, then optional trailers (which end the stream).
// The sender fills it and hands it over with Put; from then on loopy owns
// it.
type Write struct {
	// Headers, if not nil, are written first as a HEADERS frame.
	Headers []hpack.HeaderField
	// Data is written as DATA frames, within flow-control quota.
	Data []byte
	// Buf, if not nil, owns Data; it goes back to the pool once written.
	Buf *[]byte
	// Trailers, if not nil, are written last, with END_STREAM.
	Trailers []hpack.HeaderField
	// EndStream sets END_STREAM on the last frame when there are no
	// trailers (a client's half-close).
	EndStream bool
	// Cleanup makes loopy forget the stream once this write is out;
	// with Reset it then writes RST_STREAM(Code).
	Cleanup bool
	Reset   bool
	Code    http2.ErrCode

	headersDone bool
	off         int
	next        *Write
}

var writePool = sync.Pool{New: func() any { return new(Write) }}

// NewWrite returns an empty Write from a pool. Loopy returns it to the pool
// once it has been written or dropped.
func NewWrite() *Write { return writePool.Get().(*Write) }

func freeWrite(w *Write) {
	*w = Write{}
	writePool.Put(w)
}

// Queue is the control buffer. It is safe for concurrent use.
type Queue struct {
	mu       sync.Mutex
	items    []Item
	sleeping bool // loopy waits on wake
	closed   bool
	// quietRoom is how much connection credit may be queued while loopy
	// sleeps without waking it: none if it waits for connection quota,
	// else what keeps its quota within 2^31-1 (so overflow is still
	// found when the credit arrives).
	quietRoom uint32
	responses int           // queued items for which isResponse
	throttle  chan struct{} // closed when responses drain; nil if not throttling

	wake chan struct{}
	done chan struct{}
}

// NewQueue returns an empty, open Queue.
func NewQueue() *Queue {
	return &Queue{wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// Put adds an item. It reports false if the queue is closed; the item is
// then not taken (its buffers are still the caller's).
func (q *Queue) Put(it Item) bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, it)
	if it.Kind == KindPeerWindowUpdate && it.StreamID == 0 && q.sleeping && it.N <= q.quietRoom {
		// Loopy has nothing waiting for this credit: it takes it with
		// whatever wakes it next, which saves a wake-up per credit.
		q.quietRoom -= it.N
		q.mu.Unlock()
		return true
	}
	if it.isResponse() {
		q.responses++
		if q.responses > MaxQueuedResponses && q.throttle == nil {
			q.throttle = make(chan struct{})
		}
	}
	q.unlockAndWake()
	return true
}

// unlockAndWake releases the lock held by a producer that added an item,
// waking loopy if it sleeps.
func (q *Queue) unlockAndWake() {
	wake := q.sleeping
	q.sleeping = false
	q.mu.Unlock()
	if wake {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
}

// Assigner runs inside PutAssigned's critical section.
type Assigner interface {
	// Assign is called with the queue locked, just before it is added;
	// it may fill in the item (a new stream's id) and reports whether the
	// item should be added at all.
	Assign(it *Item) bool
}

// PutAssigned adds an item after a.Assign has prepared it under the
// queue's lock, so that whatever Assign orders (stream ids) is the order
// in which items reach the wire.
func (q *Queue) PutAssigned(it Item, a Assigner) (bool, error) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false, ErrClosed
	}
	if !a.Assign(&it) {
		q.mu.Unlock()
		return false, nil
	}
	q.items = append(q.items, it)
	q.unlockAndWake()
	return true, nil
}

// Throttle blocks while too many answers to the peer are queued, so that a
// flooding peer is not read faster than it is answered. It returns
// ErrClosed once the queue closes.
func (q *Queue) Throttle() error {
	q.mu.Lock()
	ch, closed := q.throttle, q.closed
	q.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if ch == nil {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-q.done:
		return ErrClosed
	}
}

// Close closes the queue: later Puts fail and loopy stops. It returns the
// items that were never taken so the caller can release their buffers.
func (q *Queue) Close() []Item {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil
	}
	q.closed = true
	close(q.done)
	if q.throttle != nil {
		close(q.throttle)
		q.throttle = nil
	}
	items := q.items
	q.items = nil
	return items
}

// Done is closed when the queue is closed.
func (q *Queue) Done() <-chan struct{} { return q.done }

// take swaps the queued items with spare, blocking until there is at least
// one item if block is set. While it blocks, up to quietRoom bytes of
// connection credit are queued without waking it. It returns ErrClosed
// when the queue closes.
func (q *Queue) take(spare []Item, block bool, quietRoom uint32) ([]Item, error) {
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return spare[:0], ErrClosed
		}
		if len(q.items) > 0 || !block {
			items := q.items
			q.items = spare[:0]
			if q.responses > 0 {
				q.responses = 0
				if q.throttle != nil {
					close(q.throttle)
					q.throttle = nil
				}
			}
			q.mu.Unlock()
			return items, nil
		}
		q.sleeping = true
		q.quietRoom = quietRoom
		q.mu.Unlock()
		select {
		case <-q.wake:
		case <-q.done:
		}
	}
}
