package stream

import (
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
