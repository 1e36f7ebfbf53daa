package stream_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/h2rpc/h2rpc/stream"
)

// payload is a stream.PayloadReader over a byte slice, as the framer
// would hand out one DATA frame's bytes.
type payload struct {
	r *bytes.Reader
}

func newPayload(b []byte) *payload { return &payload{r: bytes.NewReader(b)} }

func (p *payload) ReadFull(b []byte) error {
	_, err := io.ReadFull(p.r, b)
	return err
}

func (p *payload) Discard(n int) error {
	if int64(n) > int64(p.r.Len()) {
		p.r.Seek(0, io.SeekEnd)
		return io.ErrUnexpectedEOF
	}
	_, err := p.r.Seek(int64(n), io.SeekCurrent)
	return err
}

// consumed reports how many bytes have been read or discarded.
func (p *payload) consumed() int { return int(p.r.Size()) - p.r.Len() }

// msg is one gRPC message on the wire.
type msg struct {
	flag byte
	data []byte
}

// frameMsgs lays messages out with their 5-byte prefixes.
func frameMsgs(msgs ...msg) []byte {
	var b []byte
	for _, m := range msgs {
		b = append(b, m.flag)
		b = binary.BigEndian.AppendUint32(b, uint32(len(m.data)))
		b = append(b, m.data...)
	}
	return b
}

// prefix returns a bare 5-byte prefix declaring size bytes.
func prefix(flag byte, size uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte{flag}, size)
}

// pattern returns n bytes that differ from message to message.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

// feedResult is what feeding a byte stream to ReadData produced.
type feedResult struct {
	streamErrs []error
}

// feed hands data to s.ReadData in chunks of the given sizes (the last
// chunk takes whatever is left) and checks that every call consumes
// exactly its chunk.
func feed(t testing.TB, s *stream.Stream, data []byte, chunks []int, maxMsg int) feedResult {
	t.Helper()
	res, err := tryFeed(s, data, chunks, maxMsg)
	require.NoError(t, err)
	return res
}

// tryFeed is feed for a goroutine other than the test's: it reports the
// first failed check as an error instead of failing the test.
func tryFeed(s *stream.Stream, data []byte, chunks []int, maxMsg int) (feedResult, error) {
	var res feedResult
	off := 0
	for i := 0; off < len(data); i++ {
		n := len(data) - off
		if i < len(chunks) && chunks[i] < n {
			n = chunks[i]
		}
		p := newPayload(data[off : off+n])
		streamErr, ioErr := s.ReadData(p, n, maxMsg)
		if ioErr != nil {
			return res, fmt.Errorf("chunk %d: %w", i, ioErr)
		}
		if got := p.consumed(); got != n {
			return res, fmt.Errorf("chunk %d: ReadData consumed %d bytes, must consume exactly %d", i, got, n)
		}
		if streamErr != nil {
			res.streamErrs = append(res.streamErrs, streamErr)
		}
		off += n
	}
	return res, nil
}

// received is one message as Recv returned it, copied out of its buffer.
type received struct {
	Data       []byte
	Compressed bool
}

// drainQueue ends the receive side cleanly and collects every queued
// message, releasing their buffers.
func drainQueue(t testing.TB, s *stream.Stream) []received {
	t.Helper()
	s.CloseRecv(io.EOF)
	var out []received
	for {
		m, err := s.Recv(nil)
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		out = append(out, received{Data: bytes.Clone(m.Data), Compressed: m.Compressed})
		m.Release()
	}
}

// repeat returns a chunk list of n chunks of size k.
func repeat(k, n int) []int {
	c := make([]int, n)
	for i := range c {
		c[i] = k
	}
	return c
}
