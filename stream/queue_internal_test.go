package stream

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestQueueOfALaggingReaderStaysSmall: a reader always a few messages
// behind never empties the queue; the slots it has taken are reused
// rather than kept, and the messages still come out in order.
func TestQueueOfALaggingReaderStaysSmall(t *testing.T) {
	for _, behind := range []int{1, 3, 100} {
		s := new(Stream)
		s.Init(1, 1<<20)
		next, want := 0, 0
		put := func() {
			s.deliver(Message{Data: []byte{byte(next)}})
			next++
		}
		for range behind {
			put()
		}
		for range 100_000 {
			put()
			m, err := s.Recv(nil)
			require.NoError(t, err)
			require.Equal(t, []byte{byte(want)}, m.Data, "behind %d: message %d out of order", behind, want)
			want++
		}
		s.mu.Lock()
		queued, size := len(s.msgs)-s.head, cap(s.msgs)
		s.mu.Unlock()
		assert.Equal(t, behind, queued)
		assert.LessOrEqual(t, size, 4*behind+8, "behind %d: the queue's array holds %d slots", behind, size)
	}
}

// bytesReader is a PayloadReader over a byte slice.
type bytesReader struct{ b []byte }

func (r *bytesReader) ReadFull(p []byte) error {
	n := copy(p, r.b)
	r.b = r.b[n:]
	return nil
}

func (r *bytesReader) Discard(n int) error {
	r.b = r.b[n:]
	return nil
}

// TestClaimedSizeIsNotAllocatedUpFront: a prefix claiming a large message
// gets a buffer in proportion to what has arrived, not to the claim, so
// five bytes cannot make the server hold megabytes; the buffer grows as
// the data comes, and the message arrives whole.
func TestClaimedSizeIsNotAllocatedUpFront(t *testing.T) {
	const size = 4 << 20
	body := make([]byte, size)
	for i := range body {
		body[i] = byte(i * 7)
	}
	prefix := binary.BigEndian.AppendUint32([]byte{0}, size)
	for _, frame := range []int{16 << 10, 256 << 10} {
		s := new(Stream)
		s.Init(1, 1<<30)
		_, err := s.ReadData(&bytesReader{prefix}, 5, size)
		require.NoError(t, err)
		assert.LessOrEqual(t, cap(*s.asm.buf), 32<<10, "a bare prefix claiming 4 MiB")
		for off := 0; off < size; off += frame {
			n := min(frame, size-off)
			_, err := s.ReadData(&bytesReader{body[off : off+n]}, n, size)
			require.NoError(t, err)
			if off+n < size {
				// At most 32 times what has arrived (and 32 KiB).
				assert.LessOrEqual(t, cap(*s.asm.buf), max(32*(off+n), 32<<10)*3/2, "frames of %d: %d bytes in", frame, off+n)
			}
		}
		m, err := s.Recv(nil)
		require.NoError(t, err)
		assert.Equal(t, body, m.Data, "frames of %d", frame)
		m.Release()
	}
}
