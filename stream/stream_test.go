package stream_test

import (
	"errors"
	"io"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/h2rpc/h2rpc/codes"
	"github.com/h2rpc/h2rpc/status"
	"github.com/h2rpc/h2rpc/stream"
)

const testMaxMsg = 4 << 20

func newStream(window uint32) *stream.Stream {
	s := new(stream.Stream)
	s.Init(3, window)
	return s
}

func wantMsgs(msgs ...msg) []received {
	if len(msgs) == 0 {
		return nil
	}
	out := make([]received, len(msgs))
	for i, m := range msgs {
		d := m.data
		if d == nil {
			d = []byte{}
		}
		out[i] = received{Data: d, Compressed: m.flag == 1}
	}
	return out
}

func TestReadDataReassembly(t *testing.T) {
	big := msg{0, pattern(100_000, 1)}
	a := msg{0, []byte("alpha")}
	b := msg{1, []byte("bravo, compressed")}
	c := msg{0, pattern(3000, 9)}
	empty := msg{0, nil}
	emptyCompressed := msg{1, nil}

	tests := []struct {
		name   string
		msgs   []msg
		chunks []int // chunk sizes; nil: everything in one call
	}{
		{"one message one chunk", []msg{a}, nil},
		{"several messages one chunk", []msg{a, b, c}, nil},
		{"one message every byte apart", []msg{a}, repeat(1, 64)},
		{"large message many chunks", []msg{big}, repeat(16384, 10)},
		{"large message odd chunks", []msg{big}, []int{1, 2, 3, 4, 5, 9999, 1, 40000, 7}},
		{"prefix split 1+4", []msg{a, c}, []int{1}},
		{"prefix split 2+3", []msg{a, c}, []int{2}},
		{"prefix split 3+2", []msg{a, c}, []int{3}},
		{"prefix split 4+1", []msg{a, c}, []int{4}},
		{"second prefix split", []msg{a, b}, []int{len(a.data) + 5 + 2, 1, 1}},
		{"boundary at message end", []msg{a, b, c}, []int{len(a.data) + 5, len(b.data) + 5}},
		{"zero-length message alone", []msg{empty}, nil},
		{"zero-length messages between others", []msg{a, empty, b, emptyCompressed, empty, c}, nil},
		{"zero-length messages byte by byte", []msg{empty, a, empty}, repeat(1, 64)},
		{"zero-length message at chunk end", []msg{a, empty, b}, []int{len(a.data) + 10}},
		{"many messages split across chunks", []msg{c, big, a, empty, b, c}, repeat(777, 1000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStream(1 << 30)
			res := feed(t, s, frameMsgs(tt.msgs...), tt.chunks, testMaxMsg)
			assert.Empty(t, res.streamErrs)
			assert.False(t, s.PartialMessage())
			assert.Equal(t, wantMsgs(tt.msgs...), drainQueue(t, s))
		})
	}
}

func TestReadDataPartialMessage(t *testing.T) {
	s := newStream(1 << 30)
	data := frameMsgs(msg{0, []byte("hello")})
	assert.False(t, s.PartialMessage(), "nothing read yet")
	for i := 0; i < len(data)-1; i++ {
		feed(t, s, data[i:i+1], nil, testMaxMsg)
		assert.True(t, s.PartialMessage(), "after %d of %d bytes", i+1, len(data))
	}
	feed(t, s, data[len(data)-1:], nil, testMaxMsg)
	assert.False(t, s.PartialMessage(), "message complete")
	assert.Equal(t, wantMsgs(msg{0, []byte("hello")}), drainQueue(t, s))

	// A partly assembled message can be given back.
	s = newStream(1 << 30)
	feed(t, s, data[:7], nil, testMaxMsg)
	require.True(t, s.PartialMessage())
	s.ReleaseAssembly()
	s.ReleaseAssembly() // idempotent
}

func TestReadDataStreamErrors(t *testing.T) {
	ok := msg{0, []byte("ok")}
	tests := []struct {
		name    string
		before  []msg  // delivered before the error
		bad     []byte // the offending prefix
		maxMsg  int
		code    codes.Code
		trailer []byte // bytes after the bad prefix, all discarded
	}{
		{"too large", []msg{ok}, prefix(0, 1025), 1024, codes.ResourceExhausted, pattern(1025, 3)},
		{"too large compressed", nil, prefix(1, 1<<20), 1024, codes.ResourceExhausted, pattern(5000, 4)},
		{"largest uint32", nil, prefix(0, 1<<32-1), 1024, codes.ResourceExhausted, nil},
		{"flag 2", []msg{ok, ok}, prefix(2, 3), testMaxMsg, codes.Internal, []byte("abc")},
		{"flag 0x80", nil, prefix(0x80, 0), testMaxMsg, codes.Internal, frameMsgs(ok)},
		{"flag 0xff", nil, prefix(0xff, 1), testMaxMsg, codes.Internal, nil},
	}
	for _, tt := range tests {
		for _, split := range []struct {
			name   string
			chunks []int
		}{{"whole", nil}, {"bytewise", repeat(1, 1<<16)}, {"by 100", repeat(100, 1000)}} {
			chunks := split.chunks
			t.Run(tt.name+"/"+split.name, func(t *testing.T) {
				s := newStream(1 << 30)
				data := frameMsgs(tt.before...)
				data = append(data, tt.bad...)
				data = append(data, tt.trailer...)
				res := feed(t, s, data, chunks, tt.maxMsg)
				require.Len(t, res.streamErrs, 1, "the stream error is reported exactly once")
				st, isStatus := status.FromError(res.streamErrs[0])
				require.True(t, isStatus, "stream error must be a status: %v", res.streamErrs[0])
				assert.Equal(t, tt.code, st.Code(), "%v", st)
				assert.False(t, s.PartialMessage(), "a failed stream has no partial message")

				// Whatever arrives later is discarded too.
				more := frameMsgs(ok, ok)
				res = feed(t, s, more, []int{3}, tt.maxMsg)
				assert.Empty(t, res.streamErrs)
				assert.Equal(t, wantMsgs(tt.before...), drainQueue(t, s))
			})
		}
	}
}

func TestReadDataSizeLimitBoundary(t *testing.T) {
	for _, tt := range []struct {
		size, max int
		ok        bool
	}{
		{0, 0, true},
		{1, 0, false},
		{1023, 1024, true},
		{1024, 1024, true},
		{1025, 1024, false},
	} {
		s := newStream(1 << 30)
		res := feed(t, s, frameMsgs(msg{0, pattern(tt.size, 0)}), nil, tt.max)
		if tt.ok {
			assert.Empty(t, res.streamErrs, "size %d max %d", tt.size, tt.max)
			assert.Len(t, drainQueue(t, s), 1)
		} else {
			require.Len(t, res.streamErrs, 1, "size %d max %d", tt.size, tt.max)
			assert.Equal(t, codes.ResourceExhausted, status.Code(res.streamErrs[0]))
			assert.Empty(t, drainQueue(t, s))
		}
	}
}

func TestReadDataIOError(t *testing.T) {
	data := frameMsgs(msg{0, pattern(100, 0)})
	for _, have := range []int{0, 3, 5, 50} {
		s := newStream(1 << 30)
		// The reader holds fewer bytes than ReadData is told to read.
		streamErr, ioErr := s.ReadData(newPayload(data[:have]), len(data), testMaxMsg)
		assert.NoError(t, streamErr)
		assert.Error(t, ioErr, "have %d of %d", have, len(data))
	}

	// Discarding after a stream error fails the same way.
	s := newStream(1 << 30)
	bad := append(prefix(9, 0), 1, 2, 3)
	streamErr, ioErr := s.ReadData(newPayload(bad[:6]), len(bad), testMaxMsg)
	assert.NoError(t, streamErr)
	assert.Error(t, ioErr)
}

func TestRecvOrder(t *testing.T) {
	s := newStream(1 << 30)
	var want []msg
	for i := range 50 {
		want = append(want, msg{byte(i % 2), pattern(i*13, byte(i))})
	}
	// Deliver in two batches, receiving part of the first in between.
	data := frameMsgs(want...)
	half := len(data) / 2
	feed(t, s, data[:half], []int{333}, testMaxMsg)
	m, err := s.Recv(nil)
	require.NoError(t, err)
	assert.Equal(t, want[0].data, append([]byte{}, m.Data...))
	m.Release()
	feed(t, s, data[half:], []int{444}, testMaxMsg)
	assert.Equal(t, wantMsgs(want[1:]...), drainQueue(t, s))
}

func TestRecvConcurrentWithReader(t *testing.T) {
	s := newStream(1 << 30)
	const n = 200
	var sent []msg
	for i := range n {
		sent = append(sent, msg{0, pattern(i, byte(i))})
	}
	data := frameMsgs(sent...)
	// The feeding goroutine must not fail the test itself: it reports back
	// and always ends the receive side, so the loop below cannot block
	// forever whatever happens to the feed.
	fed := make(chan error, 1)
	go func() {
		defer s.CloseRecv(io.EOF)
		_, err := tryFeed(s, data, repeat(97, len(data)), testMaxMsg)
		fed <- err
	}()
	received := 0
	for ; received <= n; received++ {
		m, err := s.Recv(nil)
		if err != nil {
			assert.ErrorIs(t, err, io.EOF)
			break
		}
		if received < n {
			assert.Equal(t, sent[received].data, append([]byte{}, m.Data...), "message %d", received)
		}
		m.Release()
	}
	require.NoError(t, <-fed)
	assert.Equal(t, n, received)
}

func TestCloseRecv(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name string
		err  error
	}{
		{"clean end", io.EOF},
		{"failure", errBoom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStream(1 << 30)
			assert.NoError(t, s.RecvErr())
			feed(t, s, frameMsgs(msg{0, []byte("one")}, msg{0, []byte("two")}), nil, testMaxMsg)

			assert.True(t, s.CloseRecv(tt.err), "first CloseRecv ends the receive side")
			assert.False(t, s.CloseRecv(errors.New("later")), "later CloseRecv is ignored")
			assert.Equal(t, tt.err, s.RecvErr())

			for _, want := range []string{"one", "two"} {
				m, err := s.Recv(nil)
				require.NoError(t, err, "queued messages come before the end")
				assert.Equal(t, want, string(m.Data))
				m.Release()
			}
			for range 3 {
				_, err := s.Recv(nil)
				assert.Equal(t, tt.err, err, "the end is reported on every later Recv")
			}
		})
	}
}

func TestDeliverAfterFailureIsDropped(t *testing.T) {
	s := newStream(1 << 30)
	errBoom := errors.New("boom")
	s.CloseRecv(errBoom)
	feed(t, s, frameMsgs(msg{0, []byte("late")}), nil, testMaxMsg)
	_, err := s.Recv(nil)
	assert.Equal(t, errBoom, err, "a message after a failure must not be delivered")
}

func TestRecvDone(t *testing.T) {
	t.Run("closed done with empty queue", func(t *testing.T) {
		s := newStream(1 << 30)
		done := make(chan struct{})
		close(done)
		_, err := s.Recv(done)
		assert.ErrorIs(t, err, stream.ErrDone)
	})
	t.Run("queued message wins over closed done", func(t *testing.T) {
		s := newStream(1 << 30)
		feed(t, s, frameMsgs(msg{0, []byte("x")}), nil, testMaxMsg)
		done := make(chan struct{})
		close(done)
		m, err := s.Recv(done)
		require.NoError(t, err)
		assert.Equal(t, "x", string(m.Data))
		m.Release()
		_, err = s.Recv(done)
		assert.ErrorIs(t, err, stream.ErrDone)
	})
	t.Run("blocked until done closes", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			s := newStream(1 << 30)
			done := make(chan struct{})
			res := make(chan error, 1)
			go func() {
				_, err := s.Recv(done)
				res <- err
			}()
			synctest.Wait()
			require.Empty(t, res, "Recv must wait while nothing is queued")
			close(done)
			synctest.Wait()
			require.Len(t, res, 1)
			assert.ErrorIs(t, <-res, stream.ErrDone)
		})
	})
	t.Run("blocked until a message arrives", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			s := newStream(1 << 30)
			res := make(chan string, 1)
			go func() {
				m, err := s.Recv(make(chan struct{}))
				if err != nil {
					res <- "error: " + err.Error()
					return
				}
				res <- string(m.Data)
				m.Release()
			}()
			synctest.Wait()
			require.Empty(t, res)
			// Half a message does not wake the receiver for good.
			data := frameMsgs(msg{0, []byte("wake")})
			feed(t, s, data[:6], nil, testMaxMsg)
			synctest.Wait()
			require.Empty(t, res)
			feed(t, s, data[6:], nil, testMaxMsg)
			synctest.Wait()
			require.Len(t, res, 1)
			assert.Equal(t, "wake", <-res)
		})
	})
	t.Run("blocked until CloseRecv", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			s := newStream(1 << 30)
			res := make(chan error, 1)
			go func() {
				_, err := s.Recv(make(chan struct{}))
				res <- err
			}()
			synctest.Wait()
			require.Empty(t, res)
			s.CloseRecv(io.EOF)
			synctest.Wait()
			require.Len(t, res, 1)
			assert.ErrorIs(t, <-res, io.EOF)
		})
	})
}

func TestDrain(t *testing.T) {
	s := newStream(1 << 30)
	feed(t, s, frameMsgs(msg{0, []byte("a")}, msg{0, []byte("b")}, msg{0, []byte("c")}), nil, testMaxMsg)
	m, err := s.Recv(nil)
	require.NoError(t, err)
	m.Release()
	s.Drain()
	s.CloseRecv(io.EOF)
	_, err = s.Recv(nil)
	assert.ErrorIs(t, err, io.EOF, "Drain drops every queued message")

	// The queue works again after Drain.
	s = newStream(1 << 30)
	feed(t, s, frameMsgs(msg{0, []byte("a")}), nil, testMaxMsg)
	s.Drain()
	feed(t, s, frameMsgs(msg{0, []byte("b")}), nil, testMaxMsg)
	assert.Equal(t, wantMsgs(msg{0, []byte("b")}), drainQueue(t, s))
}

func TestMessageRelease(t *testing.T) {
	s := newStream(1 << 30)
	feed(t, s, frameMsgs(msg{0, []byte("abc")}), nil, testMaxMsg)
	m, err := s.Recv(nil)
	require.NoError(t, err)
	m.Release()
	assert.Nil(t, m.Data)
	m.Release() // a second Release is harmless

	var zero stream.Message
	zero.Release()
}

func TestInitResets(t *testing.T) {
	s := newStream(100)
	require.True(t, s.OnData(100))
	feed(t, s, frameMsgs(msg{0, []byte("left over")}), nil, testMaxMsg)
	feed(t, s, prefix(0, 50)[:3], nil, testMaxMsg)
	s.Transition(stream.EvOpen)
	s.CloseRecv(errors.New("old"))
	s.ReleaseAssembly()

	s.Init(5, 200)
	assert.Equal(t, uint32(5), s.ID())
	assert.Equal(t, uint32(5), s.Out.ID)
	assert.Equal(t, stream.Idle, s.State())
	assert.NoError(t, s.RecvErr())
	assert.False(t, s.PartialMessage())
	assert.True(t, s.OnData(200), "Init must restore the whole window")
	assert.False(t, s.OnData(1))
	feed(t, s, frameMsgs(msg{0, []byte("new")}), nil, testMaxMsg)
	assert.Equal(t, wantMsgs(msg{0, []byte("new")}), drainQueue(t, s))
}
