package framer

import (
	"errors"
	"fmt"
	"io"
	"syscall"

	"github.com/h2rpc/h2rpc/internal/bufpool"
	"golang.org/x/net/http2"
)

const (
	// quietBufSize is the read buffer used while the connection is quiet
	// when the Reader cannot see the socket (TLS, wrapped connections):
	// enough for a typical small request or response; a read that fills
	// it switches to the pooled buffer.
	quietBufSize = 512
	// busyBufSize is the pooled read buffer used while data streams in.
	busyBufSize = 64 << 10
	// bypassSize is the read size at and above which ReadFull reads
	// straight into the caller's slice instead of through the buffer.
	bypassSize = 8 << 10
)

// ReaderConfig sets the limits a Reader enforces.
type ReaderConfig struct {
	// MaxFrameSize is the largest frame payload accepted (the
	// SETTINGS_MAX_FRAME_SIZE we advertise). Default 16384.
	MaxFrameSize uint32
	// MaxHeaderListSize is the largest decoded header list accepted
	// (SETTINGS_MAX_HEADER_LIST_SIZE we advertise). Default 16 MiB.
	MaxHeaderListSize uint32
}

// Reader reads frames from a connection.
type Reader struct {
	src io.Reader
	fr  *http2.Framer

	// buf is quiet[:], *busy or (socket reads, nothing buffered) nil;
	// data is buf[r:w].
	buf    []byte
	r, w   int
	busy   *[]byte
	filled bool  // the last read filled the buffer: more is probably pending
	rawN   int32 // bytes the last socket read returned (next to filled: one word)
	quiet  *[quietBufSize]byte

	// Socket reads: when src is a plain TCP or Unix socket, fill waits for
	// data without holding a buffer and reads into a pooled one only once
	// data is there, so even the first read of a burst is a large one.
	raw    syscall.RawConn
	readFD func(fd uintptr) bool // r.readSocket, bound once
	around []byte                // readAround's destination: read before buf
	rawErr error

	hdec    *headerDecoder
	payload []byte // reused buffer for HEADERS and CONTINUATION payloads

	// onWait, if set, runs before a read that may wait for the peer: on
	// a socket when it has nothing yet, otherwise before every read from
	// the source.
	onWait func()
}

// SetOnWait makes the Reader call f on the reading goroutine before it
// waits for more data from the peer, so that work held back in the hope
// of more data can go ahead instead. Call it before the first read.
func (r *Reader) SetOnWait(f func()) { r.onWait = f }

func (r *Reader) waiting() {
	if r.onWait != nil {
		r.onWait()
	}
}

// NewReader returns a Reader of frames from src.
func NewReader(src io.Reader, cfg ReaderConfig) *Reader {
	if cfg.MaxFrameSize == 0 {
		cfg.MaxFrameSize = 16384
	}
	if cfg.MaxHeaderListSize == 0 {
		cfg.MaxHeaderListSize = 16 << 20
	}
	r := &Reader{src: src}
	if raw := socketOf(src); raw != nil {
		r.raw = raw
		r.readFD = r.readSocket
	} else {
		r.quiet = new([quietBufSize]byte)
		r.buf = r.quiet[:]
	}
	r.fr = http2.NewFramer(nil, r)
	r.fr.SetMaxReadFrameSize(cfg.MaxFrameSize)
	r.hdec = newHeaderDecoder(cfg.MaxHeaderListSize)
	return r
}

// SetMaxHeaderTableSize bounds the HPACK dynamic table the peer may use
// (our SETTINGS_HEADER_TABLE_SIZE).
func (r *Reader) SetMaxHeaderTableSize(n uint32) {
	r.hdec.dec.SetAllowedMaxDynamicTableSize(n)
}

// ReadFrameHeader reads the next frame header. It enforces the frame size
// limit and the rule that CONTINUATION frames follow their HEADERS.
// After a DATA header the caller must consume exactly Length payload bytes
// with ReadFull and Discard; after a HEADERS header it must call
// ReadHeaderBlock; after any other header, ReadControlFrame.
func (r *Reader) ReadFrameHeader() (http2.FrameHeader, error) {
	return r.fr.ReadFrameHeader()
}

// ReadControlFrame reads the payload of a frame whose header was just read
// and that is neither DATA nor HEADERS. The frame is valid until the next
// read.
func (r *Reader) ReadControlFrame(fh http2.FrameHeader) (http2.Frame, error) {
	return r.fr.ReadFrameForHeader(fh)
}

// ErrorDetail returns a description of the last connection error the
// http2 Framer reported, if it gave one.
func (r *Reader) ErrorDetail() error { return r.fr.ErrorDetail() }

// Read implements io.Reader for the http2 Framer.
func (r *Reader) Read(p []byte) (int, error) {
	if r.r == r.w {
		if len(p) >= bypassSize {
			r.waiting()
			return r.src.Read(p)
		}
		if err := r.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.buf[r.r:r.w])
	r.r += n
	r.drained()
	return n, nil
}

// ReadFull reads exactly len(p) payload bytes into p.
func (r *Reader) ReadFull(p []byte) error {
	n := copy(p, r.buf[r.r:r.w])
	r.r += n
	p = p[n:]
	for len(p) > 0 {
		if len(p) >= bypassSize {
			err := r.readAround(p)
			r.drained()
			return err
		}
		if err := r.fill(); err != nil {
			return noEOF(err)
		}
		n = copy(p, r.buf[r.r:r.w])
		r.r += n
		p = p[n:]
	}
	r.drained()
	return nil
}

// Buffered reports how many bytes have been read from the connection but
// not yet consumed.
func (r *Reader) Buffered() int { return r.w - r.r }

// ReadByte reads one payload byte.
func (r *Reader) ReadByte() (byte, error) {
	if r.r == r.w {
		if err := r.fill(); err != nil {
			return 0, noEOF(err)
		}
	}
	b := r.buf[r.r]
	r.r++
	r.drained()
	return b, nil
}

// Discard skips n payload bytes.
func (r *Reader) Discard(n int) error {
	for n > 0 {
		if r.r == r.w {
			if err := r.fill(); err != nil {
				return noEOF(err)
			}
		}
		k := min(n, r.w-r.r)
		r.r += k
		n -= k
	}
	r.drained()
	return nil
}

// Release returns the pooled read buffer, if any. Call it once the
// connection is done; the Reader must not be used afterwards.
func (r *Reader) Release() {
	if r.busy != nil {
		bufpool.Put(r.busy)
		r.busy = nil
	}
	r.buf, r.r, r.w = r.idleBuf(), 0, 0
}

// idleBuf is the buffer while no pooled one is held.
func (r *Reader) idleBuf() []byte {
	if r.quiet == nil {
		return nil
	}
	return r.quiet[:]
}

// fill reads at least one byte into an empty buffer.
func (r *Reader) fill() error {
	r.r, r.w = 0, 0
	if r.raw != nil {
		return r.fillFromSocket()
	}
	switch {
	case r.filled && r.busy == nil:
		r.busy = bufpool.Get(busyBufSize)
		r.buf = *r.busy
	case !r.filled && r.busy != nil:
		bufpool.Put(r.busy)
		r.busy = nil
		r.buf = r.idleBuf()
	}
	r.waiting()
	n, err := r.src.Read(r.buf)
	r.w = n
	r.filled = n == len(r.buf)
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// fillFromSocket waits until the socket has data, then reads it into a
// pooled buffer.
func (r *Reader) fillFromSocket() error {
	r.rawN, r.rawErr = 0, nil
	if err := r.raw.Read(r.readFD); err != nil {
		return fmt.Errorf("framer: reading: %w", err)
	}
	n, err := int(r.rawN), r.rawErr
	r.w = n
	r.filled = n == len(r.buf)
	if n > 0 {
		return nil
	}
	if err == nil {
		return io.EOF
	}
	return fmt.Errorf("framer: reading: %w", err)
}

// readAround reads exactly len(p) bytes straight into p; the buffer must
// be empty. On a socket, bytes that follow p and have already arrived (the
// next frames) land in the buffer with the same readv, so a large DATA
// payload costs no extra read for what comes after it.
func (r *Reader) readAround(p []byte) error {
	if r.raw == nil {
		r.waiting()
		_, err := io.ReadFull(r.src, p)
		return noEOF(err)
	}
	defer func() { r.around = nil }()
	for len(p) > 0 {
		r.around = p
		r.rawN, r.rawErr = 0, nil
		if err := r.raw.Read(r.readFD); err != nil {
			return fmt.Errorf("framer: reading frame payload: %w", err)
		}
		n := int(r.rawN)
		if n == 0 {
			if r.rawErr != nil {
				return fmt.Errorf("framer: reading frame payload: %w", r.rawErr)
			}
			return noEOF(io.EOF)
		}
		if n < len(p) {
			p = p[n:]
			continue
		}
		r.r, r.w = 0, n-len(p)
		r.filled = r.w == len(r.buf)
		p = nil
	}
	return nil
}

// drained gives the pooled buffer back as soon as it holds nothing and the
// last read suggested that nothing more is pending.
func (r *Reader) drained() {
	if r.r == r.w && r.busy != nil && !r.filled {
		bufpool.Put(r.busy)
		r.busy = nil
		r.buf, r.r, r.w = r.idleBuf(), 0, 0
	}
}

func noEOF(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("framer: reading frame payload: %w", io.ErrUnexpectedEOF)
	}
	return err
}
