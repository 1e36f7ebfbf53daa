package stream

import (
	"errors"
	"io"
	"sync"

	"github.com/h2rpc/h2rpc/codes"
	"github.com/h2rpc/h2rpc/controlbuf"
	"github.com/h2rpc/h2rpc/internal/bufpool"
	"github.com/h2rpc/h2rpc/status"
)

// ErrDone is returned by Recv when the caller's done channel closes first.
var ErrDone = errors.New("stream: receiver gave up")

// Message is one received gRPC message.
type Message struct {
	// Data is the message bytes, without the 5-byte prefix.
	Data []byte
	// Compressed is the prefix's compressed flag.
	Compressed bool
	buf        *[]byte
	// credited is how many of the message's bytes (prefix included)
	// already went back to the peer as window while the application
	// waited for it; see Stream.Credited.
	credited int
}

// Credited reports how many of the message's 5+len(Data) bytes were
// already returned to the peer as window: the rest is still to be
// returned with Stream.Consumed once the application has taken it.
func (m *Message) Credited() int { return m.credited }

// Release returns the message's buffer to the pool; Data must not be used
// afterwards.
func (m *Message) Release() {
	if m.buf != nil {
		bufpool.Put(m.buf)
		m.buf = nil
	}
	m.Data = nil
}

// PayloadReader is where DATA payload bytes come from.
type PayloadReader interface {
	ReadFull(p []byte) error
	Discard(n int) error
}

// Stream is one HTTP/2 stream.
type Stream struct {
	// Out is the writer side, owned by loopy.
	Out controlbuf.OutStream

	mu     sync.Mutex
	state  State
	msgs   []Message
	inline [2]Message // msgs' first backing array: no allocation for short streams
	head   int        // msgs[head:] are waiting
	err    error      // set once: why the receive side ended (io.EOF: cleanly)
	notify chan struct{}
	window window
	// delivered: a whole message has come on the stream.
	delivered bool
	// waiting is set while the application blocks in Recv on an empty
	// queue: the message being assembled is the one it will take, so its
	// bytes are credited as they arrive, as if read.
	waiting bool

	// single: the peer sends at most one message here (a unary request or
	// response): window it would need comes from the grant, and crediting
	// what it sent would only cost WINDOW_UPDATE writes. Set before the
	// stream's DATA is read and read-only afterwards, so it needs no lock.
	single bool

	asm assembler // reader goroutine only
}

// Init prepares s for stream id with an inbound window of size window.
func (s *Stream) Init(id uint32, inWindow uint32) {
	s.Out.Init(id)
	s.state = Idle
	s.msgs = s.inline[:0]
	s.head = 0
	s.err = nil
	s.waiting = false
	s.delivered = false
	s.single = false
	if s.notify == nil {
		s.notify = make(chan struct{}, 1)
	}
	s.window = window{limit: int64(inWindow), avail: int64(inWindow)}
	s.asm = assembler{}
}

// ID returns the stream id.
func (s *Stream) ID() uint32 { return s.Out.ID }

// Transition applies e and returns the new state and whether e was
// allowed.
func (s *Stream) Transition(e Event) (State, bool) {
	s.mu.Lock()
	n, ok := s.state.Next(e)
	s.state = n
	s.mu.Unlock()
	return n, ok
}

// State returns the current state.
func (s *Stream) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// CloseRecv ends the receive side with err (io.EOF for a clean end).
// Messages already queued are still delivered first. Later calls are
// ignored. It reports whether this call ended it.
func (s *Stream) CloseRecv(err error) bool {
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return false
	}
	s.err = err
	s.mu.Unlock()
	s.wake()
	return true
}

// Ready reports whether Recv would return at once: a message is queued
// or the receive side has ended.
func (s *Stream) Ready() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.msgs) > 0 || s.err != nil
}

// RecvErr returns why the receive side ended, or nil.
func (s *Stream) RecvErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Recv returns the next message, waiting for it until done closes. Once
// the queue is empty and the receive side has ended it returns that
// error.
func (s *Stream) Recv(done <-chan struct{}) (Message, error) {
	for {
		s.mu.Lock()
		if s.head < len(s.msgs) {
			m := s.msgs[s.head]
			s.msgs[s.head] = Message{}
			s.head++
			if s.head == len(s.msgs) {
				s.head = 0
				s.msgs = s.msgs[:0]
			}
			s.mu.Unlock()
			return m, nil
		}
		if s.err != nil {
			err := s.err
			s.mu.Unlock()
			return Message{}, err
		}
		s.waiting = true
		s.mu.Unlock()
		select {
		case <-s.notify:
		case <-done:
			s.mu.Lock()
			s.waiting = false
			s.mu.Unlock()
			return Message{}, ErrDone
		}
		s.mu.Lock()
		s.waiting = false
		s.mu.Unlock()
	}
}

// Drain releases every queued message; used when nobody will read them.
func (s *Stream) Drain() {
	s.mu.Lock()
	for i := s.head; i < len(s.msgs); i++ {
		s.msgs[i].Release()
	}
	s.msgs = s.msgs[:0]
	s.head = 0
	s.mu.Unlock()
}

func (s *Stream) deliver(m Message) {
	s.mu.Lock()
	if s.err != nil && s.err != io.EOF {
		s.mu.Unlock()
		m.Release()
		return
	}
	if len(s.msgs) == cap(s.msgs) && s.head >= len(s.msgs)/2 {
		// A reader that stays behind never empties the queue, so the
		// slots it has taken would pile up in front: move what is
		// queued down instead of growing.
		n := copy(s.msgs, s.msgs[s.head:])
		clear(s.msgs[n:])
		s.msgs, s.head = s.msgs[:n], 0
	}
	s.msgs = append(s.msgs, m)
	s.delivered = true
	s.mu.Unlock()
	s.wake()
}

// Delivered reports whether a whole message has come on the stream.
func (s *Stream) Delivered() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.delivered
}

func (s *Stream) wake() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// ReadData reads n DATA payload bytes (padding excluded) from r and
// reassembles them into messages no larger than maxMsg. A message over the
// limit, or a malformed prefix, is a stream error: the rest of the stream's
// data is then discarded and streamErr is returned once. ioErr is a failure
// to read from r, fatal to the connection.
func (s *Stream) ReadData(r PayloadReader, n int, maxMsg int) (streamErr, ioErr error) {
	a := &s.asm
	for n > 0 {
		if a.failed {
			if err := r.Discard(n); err != nil {
				return nil, err
			}
			s.creditDiscarded(n)
			return nil, nil
		}
		if a.buf == nil && a.prefixN < 5 {
			k := min(5-a.prefixN, n)
			if err := r.ReadFull(a.prefix[a.prefixN : a.prefixN+k]); err != nil {
				return nil, err
			}
			a.prefixN += k
			n -= k
			s.creditEarly(k)
			if a.prefixN < 5 {
				continue
			}
			if err := a.start(maxMsg, n); err != nil {
				a.failed = true
				if rerr := r.Discard(n); rerr != nil {
					return nil, rerr
				}
				// Nobody reads the prefix or the rest of the frame.
				s.creditDiscarded(n + 5 - a.credited)
				a.credited = 0
				return err, nil
			}
			if extra := a.need - (n); extra > 0 {
				s.mu.Lock()
				a.grant += s.window.grant(extra)
				s.mu.Unlock()
			}
			if a.need == 0 {
				s.deliver(a.finish())
			}
			continue
		}
		k := min(a.need-a.got, n)
		if a.got+k > len(*a.buf) {
			a.grow(a.got + k)
		}
		if err := r.ReadFull((*a.buf)[a.got : a.got+k]); err != nil {
			return nil, err
		}
		a.got += k
		n -= k
		s.creditEarly(k)
		if a.got == a.need {
			s.deliver(a.finish())
		}
	}
	return nil, nil
}

// creditDiscarded returns k bytes of a failed stream's data, discarded
// unread, as window with the reader's grant: a handler that keeps the
// stream open must not leave the peer stuck on it.
func (s *Stream) creditDiscarded(k int) {
	s.mu.Lock()
	s.asm.grant += s.consumedLocked(k)
	s.mu.Unlock()
}

// creditEarly returns k bytes just added to the message being assembled
// as window if the application is waiting for that message (it has taken
// every earlier one): the bytes are as good as read. A large message then
// keeps data flowing while it arrives, as it would if the application
// read it piece by piece, instead of stalling the peer until it is whole.
// What it returns goes out with the reader's grant (TakeGrant).
func (s *Stream) creditEarly(k int) {
	s.mu.Lock()
	if s.waiting && !s.single && s.head == len(s.msgs) {
		s.asm.credited += k
		s.asm.grant += s.consumedLocked(k)
	}
	s.mu.Unlock()
}

// ExpectSingleMessage says the peer sends at most one message on the
// stream (a unary call's request or response). Such a stream never returns
// window: a message larger than the window gets it from the reader's
// grant, and nothing may follow the message. Call it before the stream
// is handed to the reader (client) or on the reader goroutine before the
// stream's DATA (server dispatch).
func (s *Stream) ExpectSingleMessage() { s.single = true }

// SingleMessage reports whether ExpectSingleMessage was called.
func (s *Stream) SingleMessage() bool { return s.single }

// TakeGrant returns window the reader granted ahead for a message larger
// than the window (see window.grant), to be sent as WINDOW_UPDATE now.
func (s *Stream) TakeGrant() uint32 {
	g := s.asm.grant
	s.asm.grant = 0
	return g
}

// ReleaseAssembly returns the buffer of a partly received message.
func (s *Stream) ReleaseAssembly() {
	if s.asm.buf != nil {
		bufpool.Put(s.asm.buf)
		s.asm.buf = nil
	}
}

// PartialMessage reports whether the reader is in the middle of a message.
func (s *Stream) PartialMessage() bool {
	return s.asm.prefixN > 0 && !s.asm.failed
}

// assembler turns DATA payload bytes into messages.
type assembler struct {
	prefix     [5]byte
	prefixN    int
	buf        *[]byte
	need, got  int
	compressed bool
	failed     bool
	grant      uint32
	credited   int // bytes of this message credited early (creditEarly)
}

// firstChunk, growBy and growAgain size a message's buffer. It starts at
// growBy times what the frame that carried the prefix still holds (at
// least firstChunk) and grows growAgain-fold when more arrives, up to the
// size the prefix claims. A peer must send data to make us hold memory:
// five bytes claiming 4 MiB get 32 KiB, and every later buffer is at most
// 32 times what has come. A message whose first frame holds an eighth of
// it (a peer sending large frames) gets its whole buffer at once and is
// never copied; one of 1 MiB in 16 KiB frames is copied once, 128 KiB of
// it, and one of 64 MiB in 256 KiB frames once, 2 MiB of it.
const (
	firstChunk = 4 << 10
	growBy     = 8
	growAgain  = 32
)

func (a *assembler) start(maxMsg, inFrame int) error {
	flag := a.prefix[0]
	if flag > 1 {
		return status.Errorf(codes.Internal, "grpc: invalid message prefix flag %d", flag)
	}
	size := uint32(a.prefix[1])<<24 | uint32(a.prefix[2])<<16 | uint32(a.prefix[3])<<8 | uint32(a.prefix[4])
	if uint64(size) > uint64(maxMsg) {
		return status.Errorf(codes.ResourceExhausted, "grpc: received message larger than max (%d vs. %d)", size, maxMsg)
	}
	a.compressed = flag == 1
	a.need = int(size)
	a.got = 0
	a.buf = bufpool.Get(min(a.need, growBy*max(inFrame, firstChunk)))
	return nil
}

// grow makes room for at least n bytes of the message, keeping what has
// arrived: thirtyfold, so that a large message is copied once or twice,
// early, and leaves little behind (a peer still has to send a
// thirty-second of what it makes us hold).
func (a *assembler) grow(n int) {
	size := min(a.need, max(n, growAgain*len(*a.buf)))
	b := bufpool.Get(size)
	copy(*b, (*a.buf)[:a.got])
	bufpool.Put(a.buf)
	a.buf = b
}

func (a *assembler) finish() Message {
	m := Message{Data: (*a.buf)[:a.need], Compressed: a.compressed, buf: a.buf, credited: a.credited}
	a.buf = nil
	a.prefixN = 0
	a.need, a.got, a.credited = 0, 0, 0
	return m
}
