package controlbuf

import (
	"errors"
	"sync/atomic"
)

// DefaultWriteQuota is how many message bytes a stream may have queued
// for loopy before its sender blocks; a larger message may be queued
// while less than its own size is (see AcquireQuota).
const DefaultWriteQuota = 64 << 10

// ErrStreamDone is returned by AcquireQuota when the stream ended while
// its sender waited.
var ErrStreamDone = errors.New("controlbuf: stream done")

type outState uint8

const (
	outEmpty   outState = iota // no pending writes
	outActive                  // in loopy's active list
	outBlocked                 // pending data but no stream quota
)

// OutStream is the writer side of one stream. It is embedded in the
// transport's stream. Apart from the write quota, its fields belong to
// loopy.
type OutStream struct {
	// ID is the stream id; set before the stream's first write is put.
	ID uint32

	state      outState
	registered bool
	// dead: cleaned up, later writes are dropped. Written by loopy
	// only; atomic so that the owner can ask (Forgotten).
	dead atomic.Bool
	// headersOut: a HEADERS frame has been written. Written by loopy
	// only; atomic so that the owner can ask (HeadersWritten).
	headersOut atomic.Bool
	// Local marks a stream we opened (client role): if it is reset
	// before its HEADERS went out, the peer never heard of it and no
	// RST_STREAM is written. Set before the first write is put.
	Local bool

	// quota is the stream's send window, as loopy sees it.
	quota int64

	// Owner is the stream this OutStream belongs to, for the Assigner.
	Owner any

	head, tail *Write
	prev, next *OutStream // active list links

	// writeQuota bounds the bytes the sender has queued but loopy has
	// not written. Shared by the sender and loopy.
	writeQuota atomic.Int64
	waitFloor  atomic.Int64 // the level a waiting sender needs writeQuota above
	quotaReady chan struct{}
}

// Forgotten reports whether loopy has dropped the stream: it was cleaned
// up, or it is a stream we opened whose half-close has been written. A
// stream loopy has forgotten needs no KindCleanup unless it must be reset.
func (s *OutStream) Forgotten() bool { return s.dead.Load() }

// HeadersWritten reports whether loopy has written the stream's HEADERS
// (to the connection's buffer, if not yet to the socket). A client stream
// whose HEADERS never were cannot have reached the server.
func (s *OutStream) HeadersWritten() bool { return s.headersOut.Load() }

// Init prepares the OutStream for a new stream.
func (s *OutStream) Init(id uint32) {
	s.ID = id
	s.quota = 0
	s.state = outEmpty
	s.registered = false
	s.dead.Store(false)
	s.headersOut.Store(false)
	s.Local = false
	s.head, s.tail, s.prev, s.next = nil, nil, nil, nil
	s.writeQuota.Store(DefaultWriteQuota)
	s.waitFloor.Store(0)
	if s.quotaReady == nil {
		s.quotaReady = make(chan struct{}, 1)
	} else {
		select {
		case <-s.quotaReady:
		default:
		}
	}
}

// AcquireQuota takes n bytes of write quota for a message of n bytes,
// waiting while the stream has DefaultWriteQuota bytes queued or, for a
// message larger than that, while it has as many bytes queued as the
// message: a stream holds at most its quota or two large messages, so the
// sender prepares its next large message while loopy writes the last one.
// It returns ErrStreamDone if done closes first.
func (s *OutStream) AcquireQuota(n int, done <-chan struct{}) error {
	floor := min(0, DefaultWriteQuota-int64(n)) // go ahead while writeQuota > floor
	for {
		if s.writeQuota.Load() > floor {
			s.writeQuota.Add(-int64(n))
			return nil
		}
		// Publish the floor, then look again: a replenish that came
		// before the store is seen here, one after it sees the floor.
		s.waitFloor.Store(floor)
		if s.writeQuota.Load() > floor {
			continue
		}
		select {
		case <-s.quotaReady:
		case <-done:
			return ErrStreamDone
		}
	}
}

// replenish gives back n bytes of write quota.
func (s *OutStream) replenish(n int) {
	v := s.writeQuota.Add(int64(n))
	if f := s.waitFloor.Load(); v > f && v-int64(n) <= f {
		select {
		case s.quotaReady <- struct{}{}:
		default:
		}
	}
}
