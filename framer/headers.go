package framer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// HeaderBlock is a decoded HEADERS frame with its CONTINUATION frames. It
// is owned by the Reader and valid until the next read.
type HeaderBlock struct {
	StreamID  uint32
	EndStream bool
	// Truncated is set when the decoded list exceeded the limit; Fields
	// then holds only what came before.
	Truncated bool
	Fields    []hpack.HeaderField
}

// headerDecoder decodes header blocks with one HPACK decoder and reused
// slices: decoding a block whose fields are all in the dynamic or static
// table allocates nothing.
type headerDecoder struct {
	dec     *hpack.Decoder
	block   HeaderBlock
	frag    []byte // fragments of a block spread over CONTINUATION frames
	remain  uint32 // header list bytes still allowed in this block
	regular bool   // a regular field was seen: no more pseudo-headers
	invalid error
	max     uint32
}

func newHeaderDecoder(maxList uint32) *headerDecoder {
	d := &headerDecoder{max: maxList}
	d.dec = hpack.NewDecoder(4096, d.emit)
	d.dec.SetMaxStringLength(int(min(uint64(maxList), 1<<31-1)))
	return d
}

var errPseudoAfterRegular = errors.New("pseudo-header after a regular header")

func (d *headerDecoder) emit(hf hpack.HeaderField) {
	if d.invalid != nil || d.block.Truncated {
		return
	}
	if !httpguts.ValidHeaderFieldValue(hf.Value) {
		d.invalid = fmt.Errorf("invalid value for header %q", hf.Name)
		return
	}
	if strings.HasPrefix(hf.Name, ":") {
		if d.regular {
			d.invalid = errPseudoAfterRegular
			return
		}
	} else {
		d.regular = true
		if !validFieldName(hf.Name) {
			d.invalid = fmt.Errorf("invalid header name %q", hf.Name)
			return
		}
		switch hf.Name {
		case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
			// RFC 9113 §8.2.2: connection-specific fields are malformed.
			d.invalid = fmt.Errorf("connection-specific header %q", hf.Name)
			return
		case "te":
			if hf.Value != "trailers" {
				d.invalid = errors.New(`"te" other than "trailers"`)
				return
			}
		}
	}
	size := hf.Size()
	if size > d.remain {
		d.block.Truncated = true
		d.remain = 0
		return
	}
	d.remain -= size
	d.block.Fields = append(d.block.Fields, hf)
}

// validFieldName reports whether a regular field name is a lower-case
// HTTP token (RFC 9113 §8.2.1).
func validFieldName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' || !httpguts.IsTokenRune(rune(c)) {
			return false
		}
	}
	return true
}

// maxEmptyContinuations is how many empty CONTINUATION frames, which no
// encoder needs, one header block may have before the peer is taken for a
// flood.
const maxEmptyContinuations = 16

// ReadHeaderBlock reads the payload of the HEADERS frame whose header was
// just read, then its CONTINUATION frames, and decodes the block.
// Errors are http2.ConnectionError (the connection must end) or
// http2.StreamError (the stream must be reset; the block was still decoded
// so that the HPACK state stays in step).
func (r *Reader) ReadHeaderBlock(fh http2.FrameHeader) (*HeaderBlock, error) {
	d := r.hdec
	if fh.StreamID == 0 {
		return nil, connErr(http2.ErrCodeProtocol, "HEADERS on stream 0")
	}
	payload, err := r.readPayload(int(fh.Length))
	if err != nil {
		return nil, err
	}
	if fh.Flags.Has(http2.FlagHeadersPadded) {
		if len(payload) < 1 || int(payload[0]) > len(payload)-1 {
			return nil, connErr(http2.ErrCodeProtocol, "HEADERS padding exceeds payload")
		}
		payload = payload[1 : len(payload)-int(payload[0])]
	}
	var selfDependent bool
	if fh.Flags.Has(http2.FlagHeadersPriority) {
		if len(payload) < 5 {
			return nil, connErr(http2.ErrCodeFrameSize, "HEADERS priority too short")
		}
		dep := binary.BigEndian.Uint32(payload) & (1<<31 - 1)
		selfDependent = dep == fh.StreamID
		payload = payload[5:]
	}
	d.block = HeaderBlock{StreamID: fh.StreamID, EndStream: fh.Flags.Has(http2.FlagHeadersEndStream), Fields: d.block.Fields[:0]}
	d.remain, d.regular, d.invalid = d.max, false, nil
	ended := fh.Flags.Has(http2.FlagHeadersEndHeaders)
	if !ended {
		// The payload lives in the read buffer: keep a copy while the
		// CONTINUATION frames are read.
		d.frag = append(d.frag[:0], payload...)
		payload = d.frag
	}
	wire := 0  // the block's size on the wire so far
	empty := 0 // CONTINUATION frames that carried nothing
	for {
		wire += len(payload)
		if int64(len(payload)) > 2*int64(d.remain)+4096 || int64(wire) > 2*int64(d.max)+16384 {
			return nil, connErr(http2.ErrCodeProtocol, "header block far larger than the header list limit")
		}
		if _, err := d.dec.Write(payload); err != nil {
			return nil, connErr(http2.ErrCodeCompression, "HPACK: "+err.Error())
		}
		if ended {
			break
		}
		cfh, err := r.fr.ReadFrameHeader() // checks that CONTINUATION follows
		if err != nil {
			return nil, err
		}
		cont, err := r.readPayload(int(cfh.Length))
		if err != nil {
			return nil, err
		}
		ended = cfh.Flags.Has(http2.FlagContinuationEndHeaders)
		if len(cont) == 0 && !ended {
			// The size bounds above do not stop a run of empty frames.
			if empty++; empty > maxEmptyContinuations {
				return nil, connErr(http2.ErrCodeEnhanceYourCalm, "too many empty CONTINUATION frames")
			}
		}
		payload = cont
	}
	if err := d.dec.Close(); err != nil {
		return nil, connErr(http2.ErrCodeCompression, "HPACK: "+err.Error())
	}
	if len(d.frag) > 64<<10 {
		d.frag = nil // do not pin a large block
	}
	if d.invalid != nil {
		return &d.block, http2.StreamError{StreamID: fh.StreamID, Code: http2.ErrCodeProtocol, Cause: d.invalid}
	}
	if selfDependent {
		return &d.block, http2.StreamError{StreamID: fh.StreamID, Code: http2.ErrCodeProtocol, Cause: errors.New("stream depends on itself")}
	}
	if err := checkPseudos(d.block.Fields); err != nil {
		return &d.block, http2.StreamError{StreamID: fh.StreamID, Code: http2.ErrCodeProtocol, Cause: err}
	}
	return &d.block, nil
}

// checkPseudos rejects unknown and repeated pseudo-headers and a mix of
// request and response ones.
func checkPseudos(fields []hpack.HeaderField) error {
	var request, response bool
	for i, hf := range fields {
		if !strings.HasPrefix(hf.Name, ":") {
			break // pseudo-headers come first (checked while decoding)
		}
		switch hf.Name {
		case ":method", ":path", ":scheme", ":authority", ":protocol":
			request = true
		case ":status":
			response = true
		default:
			return fmt.Errorf("unknown pseudo-header %q", hf.Name)
		}
		for _, prev := range fields[:i] {
			if prev.Name == hf.Name {
				return fmt.Errorf("duplicate pseudo-header %q", hf.Name)
			}
		}
	}
	if request && response {
		return errors.New("request and response pseudo-headers mixed")
	}
	return nil
}

// readPayload reads a control payload of n bytes into a reused buffer.
func (r *Reader) readPayload(n int) ([]byte, error) {
	if cap(r.payload) < n {
		r.payload = make([]byte, n)
	}
	p := r.payload[:n]
	if err := r.ReadFull(p); err != nil {
		return nil, err
	}
	if cap(r.payload) > 64<<10 {
		r.payload = nil // do not pin a large frame's buffer
	}
	return p, nil
}

// connErr records why the connection fails and returns the error.
func connErr(code http2.ErrCode, reason string) error {
	return fmt.Errorf("framer: %s: %w", reason, http2.ConnectionError(code))
}
