package framer

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"

	"github.com/h2rpc/h2rpc/internal/bufpool"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

const (
	// batchBufSize is the size of each pooled batch buffer.
	batchBufSize = 32 << 10
	// refThreshold is the DATA chunk size from which the payload is kept
	// by reference (written with writev) instead of copied into the batch.
	refThreshold   = 2 << 10
	frameHeaderLen = 9
)

// Writer batches frames for one connection and writes each batch with one
// system call.
type Writer struct {
	dst io.Writer

	cur     *[]byte   // batch buffer being filled, nil between batches
	runFrom int       // start in *cur of bytes not yet added to segs
	full    []*[]byte // batch buffers filled earlier in this batch
	segs    net.Buffers
	n       int       // bytes in this batch
	release []*[]byte // payload buffers to return to the pool after Flush

	maxFrameSize uint32
	hbuf         bytes.Buffer
	henc         *hpack.Encoder
}

// NewWriter returns a Writer that writes batches to dst.
func NewWriter(dst io.Writer) *Writer {
	w := &Writer{dst: dst, maxFrameSize: 16384}
	w.henc = hpack.NewEncoder(&w.hbuf)
	return w
}

// SetMaxFrameSize sets the largest frame payload the peer accepts (its
// SETTINGS_MAX_FRAME_SIZE).
func (w *Writer) SetMaxFrameSize(n uint32) { w.maxFrameSize = n }

// MaxFrameSize reports the largest frame payload the peer accepts.
func (w *Writer) MaxFrameSize() uint32 { return w.maxFrameSize }

// SetHeaderTableSize applies the peer's SETTINGS_HEADER_TABLE_SIZE to the
// HPACK encoder.
func (w *Writer) SetHeaderTableSize(n uint32) { w.henc.SetMaxDynamicTableSizeLimit(n) }

// Buffered reports how many bytes the current batch holds.
func (w *Writer) Buffered() int { return w.n }

// Write appends p to the batch. It is what the http2 Framer writes to; it
// never fails.
func (w *Writer) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		if w.cur == nil {
			w.cur = bufpool.Get(batchBufSize)
			*w.cur = (*w.cur)[:0]
			w.runFrom = 0
		}
		b := *w.cur
		k := copy(b[len(b):cap(b)], p)
		*w.cur = b[:len(b)+k]
		p = p[k:]
		w.n += k
		if len(*w.cur) == cap(*w.cur) {
			w.closeRun()
			w.full = append(w.full, w.cur)
			w.cur = nil
		}
	}
	return total, nil
}

// closeRun turns the bytes written to cur since the last run into a segment.
func (w *Writer) closeRun() {
	if w.cur == nil {
		return
	}
	if b := *w.cur; len(b) > w.runFrom {
		w.segs = append(w.segs, b[w.runFrom:])
		w.runFrom = len(b)
	}
}

// WriteData writes one DATA frame carrying p. A large p is written by
// reference: it must stay unchanged until Flush returns.
func (w *Writer) WriteData(streamID uint32, endStream bool, p []byte) {
	w.WriteDataHeader(streamID, endStream, len(p))
	w.WriteDataPayload(p)
}

// WriteDataHeader writes the header of a DATA frame whose payload, n bytes
// in all, follows in one or more WriteDataPayload calls: several small
// messages can share one frame.
func (w *Writer) WriteDataHeader(streamID uint32, endStream bool, n int) {
	var hdr [frameHeaderLen]byte
	var flags byte
	if endStream {
		flags = byte(http2.FlagDataEndStream)
	}
	putFrameHeader(hdr[:], n, http2.FrameData, flags, streamID)
	w.Write(hdr[:])
}

// WriteDataPayload writes part of a DATA frame's payload: copied into the
// batch if small, kept by reference (written with writev) if large.
func (w *Writer) WriteDataPayload(p []byte) {
	if len(p) < refThreshold {
		w.Write(p)
		return
	}
	w.closeRun()
	w.segs = append(w.segs, p)
	w.n += len(p)
}

// ReleaseAfterFlush hands a pooled buffer to the Writer, which returns it to
// the pool once the current batch has been written.
func (w *Writer) ReleaseAfterFlush(b *[]byte) {
	if b != nil {
		w.release = append(w.release, b)
	}
}

// WriteHeaders HPACK-encodes fields and writes them as one HEADERS frame
// followed by as many CONTINUATION frames as the peer's frame size needs.
func (w *Writer) WriteHeaders(streamID uint32, endStream bool, fields []hpack.HeaderField) error {
	if streamID == 0 || streamID > 1<<31-1 {
		return fmt.Errorf("framer: HEADERS on invalid stream %d", streamID)
	}
	w.hbuf.Reset()
	for _, f := range fields {
		if err := w.henc.WriteField(f); err != nil {
			return fmt.Errorf("framer: encoding header %q: %w", f.Name, err)
		}
	}
	block := w.hbuf.Bytes()
	max := int(w.maxFrameSize)
	first := block[:min(len(block), max)]
	block = block[len(first):]
	var flags byte
	if endStream {
		flags |= byte(http2.FlagHeadersEndStream)
	}
	if len(block) == 0 {
		flags |= byte(http2.FlagHeadersEndHeaders)
	}
	w.frame(http2.FrameHeaders, flags, streamID, first)
	for len(block) > 0 {
		chunk := block[:min(len(block), max)]
		block = block[len(chunk):]
		var cflags byte
		if len(block) == 0 {
			cflags = byte(http2.FlagContinuationEndHeaders)
		}
		w.frame(http2.FrameContinuation, cflags, streamID, chunk)
	}
	return nil
}

// frame appends one frame with a small payload to the batch.
func (w *Writer) frame(t http2.FrameType, flags byte, streamID uint32, payload []byte) {
	var hdr [frameHeaderLen]byte
	putFrameHeader(hdr[:], len(payload), t, flags, streamID)
	w.Write(hdr[:])
	w.Write(payload)
}

// WriteSettings writes a SETTINGS frame.
func (w *Writer) WriteSettings(settings ...http2.Setting) error {
	var p [6 * 8]byte
	buf := p[:0]
	for _, s := range settings {
		buf = binary.BigEndian.AppendUint16(buf, uint16(s.ID))
		buf = binary.BigEndian.AppendUint32(buf, s.Val)
	}
	w.frame(http2.FrameSettings, 0, 0, buf)
	return nil
}

// WriteSettingsAck writes a SETTINGS frame with the ACK flag.
func (w *Writer) WriteSettingsAck() error {
	w.frame(http2.FrameSettings, byte(http2.FlagSettingsAck), 0, nil)
	return nil
}

// WritePing writes a PING frame.
func (w *Writer) WritePing(ack bool, data [8]byte) error {
	var flags byte
	if ack {
		flags = byte(http2.FlagPingAck)
	}
	w.frame(http2.FramePing, flags, 0, data[:])
	return nil
}

// WriteWindowUpdate writes a WINDOW_UPDATE frame.
func (w *Writer) WriteWindowUpdate(streamID, incr uint32) error {
	if incr == 0 || incr > 1<<31-1 {
		return fmt.Errorf("framer: WINDOW_UPDATE increment %d out of range", incr)
	}
	var p [4]byte
	binary.BigEndian.PutUint32(p[:], incr)
	w.frame(http2.FrameWindowUpdate, 0, streamID, p[:])
	return nil
}

// WriteRSTStream writes a RST_STREAM frame.
func (w *Writer) WriteRSTStream(streamID uint32, code http2.ErrCode) error {
	if streamID == 0 || streamID > 1<<31-1 {
		return fmt.Errorf("framer: RST_STREAM on invalid stream %d", streamID)
	}
	var p [4]byte
	binary.BigEndian.PutUint32(p[:], uint32(code))
	w.frame(http2.FrameRSTStream, 0, streamID, p[:])
	return nil
}

// WriteGoAway writes a GOAWAY frame.
func (w *Writer) WriteGoAway(lastStreamID uint32, code http2.ErrCode, debug []byte) error {
	var p [8]byte
	binary.BigEndian.PutUint32(p[:4], lastStreamID&(1<<31-1))
	binary.BigEndian.PutUint32(p[4:], uint32(code))
	var hdr [frameHeaderLen]byte
	putFrameHeader(hdr[:], 8+len(debug), http2.FrameGoAway, 0, 0)
	w.Write(hdr[:])
	w.Write(p[:])
	w.Write(debug)
	return nil
}

// WriteRaw appends bytes to the batch as they are (the client preface).
func (w *Writer) WriteRaw(p []byte) { w.Write(p) }

// Flush writes the batch with one system call (writev when it holds
// payloads by reference) and returns every buffer to its pool.
func (w *Writer) Flush() error {
	if w.n == 0 {
		return nil
	}
	w.closeRun()
	var err error
	if len(w.segs) == 1 {
		_, err = w.dst.Write(w.segs[0])
	} else {
		segs := w.segs
		_, err = segs.WriteTo(w.dst)
	}
	w.reset()
	if err != nil {
		return fmt.Errorf("framer: writing batch: %w", err)
	}
	return nil
}

// Discard drops the batch and returns its buffers; used when the
// connection is closing.
func (w *Writer) Discard() { w.reset() }

func (w *Writer) reset() {
	clear(w.segs)
	w.segs = w.segs[:0]
	for _, b := range w.full {
		bufpool.Put(b)
	}
	clear(w.full)
	w.full = w.full[:0]
	if w.cur != nil {
		bufpool.Put(w.cur)
		w.cur = nil
	}
	for _, b := range w.release {
		bufpool.Put(b)
	}
	clear(w.release)
	w.release = w.release[:0]
	w.n = 0
	w.runFrom = 0
}

func putFrameHeader(b []byte, length int, t http2.FrameType, flags byte, streamID uint32) {
	b[0] = byte(length >> 16)
	b[1] = byte(length >> 8)
	b[2] = byte(length)
	b[3] = byte(t)
	b[4] = flags
	binary.BigEndian.PutUint32(b[5:], streamID&(1<<31-1))
}
