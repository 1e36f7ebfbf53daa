package controlbuf_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"

	"github.com/h2rpc/h2rpc/controlbuf"
)

func TestQueueClose(t *testing.T) {
	q := controlbuf.NewQueue()
	select {
	case <-q.Done():
		t.Fatal("Done closed on an open queue")
	default:
	}
	require.True(t, q.Put(controlbuf.Item{Kind: controlbuf.KindPing, Ping: [8]byte{1}}))
	require.True(t, q.Put(controlbuf.Item{Kind: controlbuf.KindWindowUpdate, N: 5}))

	left := q.Close()
	require.Len(t, left, 2, "Close hands back what loopy never took")
	assert.Equal(t, controlbuf.KindPing, left[0].Kind)
	assert.Equal(t, uint32(5), left[1].N)
	select {
	case <-q.Done():
	default:
		t.Fatal("Done must be closed after Close")
	}
	assert.Nil(t, q.Close(), "a second Close returns nothing")
	assert.False(t, q.Put(controlbuf.Item{Kind: controlbuf.KindPing}), "Put on a closed queue")
	ok, err := q.PutAssigned(controlbuf.Item{Kind: controlbuf.KindPing}, assignFunc(func(*controlbuf.Item) bool { return true }))
	assert.False(t, ok)
	assert.ErrorIs(t, err, controlbuf.ErrClosed)
}

type assignFunc func(*controlbuf.Item) bool

func (f assignFunc) Assign(it *controlbuf.Item) bool { return f(it) }

// idAssigner hands out stream ids without a lock of its own: the queue's
// lock must serialise it (the race detector checks).
type idAssigner struct{ next uint32 }

func (a *idAssigner) Assign(it *controlbuf.Item) bool {
	it.StreamID = a.next
	a.next += 2
	return true
}

func TestPutAssignedOrder(t *testing.T) {
	q := controlbuf.NewQueue()
	a := &idAssigner{next: 1}
	const n = 400
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range n / 8 {
				ok, err := q.PutAssigned(controlbuf.Item{Kind: controlbuf.KindWindowUpdate, N: 1}, a)
				assert.True(t, ok)
				assert.NoError(t, err)
				// Unassigned items may interleave freely.
				q.Put(controlbuf.Item{Kind: controlbuf.KindPing})
			}
		})
	}
	wg.Wait()
	var ids []uint32
	for _, it := range q.Close() {
		if it.Kind == controlbuf.KindWindowUpdate {
			ids = append(ids, it.StreamID)
		}
	}
	require.Len(t, ids, n)
	for i, id := range ids {
		require.Equal(t, uint32(2*i+1), id, "ids reach the queue in the order they were assigned")
	}
}

func TestPutAssignedRefused(t *testing.T) {
	q := controlbuf.NewQueue()
	ok, err := q.PutAssigned(controlbuf.Item{Kind: controlbuf.KindPing}, assignFunc(func(*controlbuf.Item) bool { return false }))
	assert.False(t, ok)
	assert.NoError(t, err)
	assert.Empty(t, q.Close(), "a refused item is not queued")
}

func TestPutAssignedReachesWire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newConn(t)
		c.start()
		a := &idAssigner{next: 7}
		for range 3 {
			ok, err := c.q.PutAssigned(controlbuf.Item{Kind: controlbuf.KindRSTStream, Code: http2.ErrCodeCancel}, a)
			require.True(t, ok)
			require.NoError(t, err)
		}
		assert.Equal(t, []string{"RST_STREAM 7 CANCEL", "RST_STREAM 9 CANCEL", "RST_STREAM 11 CANCEL"}, summary(c.settle()))
	})
}

func TestThrottle(t *testing.T) {
	tests := []struct {
		name    string
		item    controlbuf.Item
		n       int
		blocked bool
	}{
		{"ping acks at the limit", controlbuf.Item{Kind: controlbuf.KindPing, Ack: true}, controlbuf.MaxQueuedResponses, false},
		{"ping acks over the limit", controlbuf.Item{Kind: controlbuf.KindPing, Ack: true}, controlbuf.MaxQueuedResponses + 1, true},
		{"settings acks over the limit", controlbuf.Item{Kind: controlbuf.KindPeerSettings}, controlbuf.MaxQueuedResponses + 1, true},
		{"resets over the limit", controlbuf.Item{Kind: controlbuf.KindRSTStream, StreamID: 1}, controlbuf.MaxQueuedResponses + 1, true},
		{"our own pings", controlbuf.Item{Kind: controlbuf.KindPing}, 1000, false},
		{"window updates", controlbuf.Item{Kind: controlbuf.KindWindowUpdate, N: 1}, 1000, false},
		{"goaways", controlbuf.Item{Kind: controlbuf.KindGoAway}, 1000, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := newConn(t)
				for range tt.n {
					c.put(tt.item)
				}
				res := make(chan error, 1)
				go func() { res <- c.q.Throttle() }()
				synctest.Wait()
				if !tt.blocked {
					require.Len(t, res, 1, "Throttle must not block")
					assert.NoError(t, <-res)
					return
				}
				require.Empty(t, res, "Throttle must block while %d answers wait", tt.n)
				c.start()
				got := c.settle()
				require.Len(t, res, 1, "Throttle returns once loopy took the answers")
				assert.NoError(t, <-res)
				assert.Len(t, got, tt.n, "every answer is written")

				// The count starts again from zero.
				for range controlbuf.MaxQueuedResponses {
					c.put(tt.item)
				}
				assert.NoError(t, c.q.Throttle())
			})
		})
	}
}

func TestThrottleMixedResponses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newConn(t)
		for i := range controlbuf.MaxQueuedResponses + 1 {
			switch i % 4 {
			case 0:
				c.put(controlbuf.Item{Kind: controlbuf.KindPing, Ack: true})
			case 1:
				c.put(controlbuf.Item{Kind: controlbuf.KindPeerSettings})
			case 2:
				c.put(controlbuf.Item{Kind: controlbuf.KindRSTStream, StreamID: 1})
			case 3:
				// The peer reset a stream we had finished with.
				c.put(controlbuf.Item{Kind: controlbuf.KindCleanup, StreamID: 1})
			}
			c.put(controlbuf.Item{Kind: controlbuf.KindPing}) // not counted
		}
		res := make(chan error, 1)
		go func() { res <- c.q.Throttle() }()
		synctest.Wait()
		require.Empty(t, res)
		c.start()
		synctest.Wait()
		require.Len(t, res, 1)
		assert.NoError(t, <-res)
	})
}

func TestThrottleUnblockedByClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := controlbuf.NewQueue()
		for range controlbuf.MaxQueuedResponses + 1 {
			q.Put(controlbuf.Item{Kind: controlbuf.KindPing, Ack: true})
		}
		res := make(chan error, 1)
		go func() { res <- q.Throttle() }()
		synctest.Wait()
		require.Empty(t, res)
		q.Close()
		synctest.Wait()
		require.Len(t, res, 1, "Close releases a throttled reader")
		assert.ErrorIs(t, <-res, controlbuf.ErrClosed)
	})
}

// TestThrottleAfterClose: Throttle is documented to return ErrClosed once
// the queue closes; the reader relies on it to stop.
func TestThrottleAfterClose(t *testing.T) {
	q := controlbuf.NewQueue()
	q.Close()
	assert.ErrorIs(t, q.Throttle(), controlbuf.ErrClosed)

	// Also when the queue was throttling at the moment it closed.
	q = controlbuf.NewQueue()
	for range controlbuf.MaxQueuedResponses + 1 {
		q.Put(controlbuf.Item{Kind: controlbuf.KindPing, Ack: true})
	}
	q.Close()
	assert.ErrorIs(t, q.Throttle(), controlbuf.ErrClosed)
}

func TestAcquireQuota(t *testing.T) {
	t.Run("within quota", func(t *testing.T) {
		s := newStream(1)
		require.NoError(t, s.AcquireQuota(1000, nil))
		require.NoError(t, s.AcquireQuota(controlbuf.DefaultWriteQuota-1001, nil))
		require.NoError(t, s.AcquireQuota(5*controlbuf.DefaultWriteQuota, nil), "one byte left lets a large message through")
	})
	t.Run("quota before done", func(t *testing.T) {
		s := newStream(1)
		done := make(chan struct{})
		close(done)
		assert.NoError(t, s.AcquireQuota(10, done), "available quota wins over a closed done")
	})
	t.Run("blocks until done", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			s := newStream(1)
			require.NoError(t, s.AcquireQuota(controlbuf.DefaultWriteQuota, nil))
			done := make(chan struct{})
			res := make(chan error, 1)
			go func() { res <- s.AcquireQuota(1, done) }()
			synctest.Wait()
			require.Empty(t, res, "no quota left: the sender waits")
			close(done)
			synctest.Wait()
			require.Len(t, res, 1)
			assert.ErrorIs(t, <-res, controlbuf.ErrStreamDone)
		})
	})
	t.Run("Init restores the quota", func(t *testing.T) {
		s := newStream(1)
		require.NoError(t, s.AcquireQuota(10*controlbuf.DefaultWriteQuota, nil))
		s.Init(3)
		done := make(chan struct{})
		close(done)
		assert.NoError(t, s.AcquireQuota(1, done))
	})
}

func TestAcquireQuotaReturnedByLoopy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newConn(t)
		s := newStream(1)
		data := pattern(controlbuf.DefaultWriteQuota, 1)
		require.NoError(t, s.AcquireQuota(len(data), nil))
		c.put(write(s, newWrite(respHeaders, data, nil, false)))

		res := make(chan error, 1)
		go func() { res <- s.AcquireQuota(10, make(chan struct{})) }()
		synctest.Wait()
		require.Empty(t, res, "nothing written yet")

		c.start()
		got := c.settle()
		require.NotEmpty(t, got)
		require.Len(t, res, 1, "written bytes give the quota back")
		assert.NoError(t, <-res)
	})
}

// TestAcquireQuotaLargeMessages checks that a message larger than the
// quota may be queued as soon as the one before it has started going
// out, so its sender never waits for a whole large message to be written,
// while a stream still never holds more than two.
func TestAcquireQuotaLargeMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newConn(t)
		s := newStream(1)
		big := pattern(4*controlbuf.DefaultWriteQuota, 1)
		require.NoError(t, s.AcquireQuota(len(big), nil))
		c.put(write(s, newWrite(respHeaders, big, nil, false)))

		res := make(chan error, 1)
		go func() { res <- s.AcquireQuota(len(big), make(chan struct{})) }()
		synctest.Wait()
		require.Empty(t, res, "a whole large message is queued: the next one waits")

		c.start()
		got := c.settle()
		require.Equal(t, 65535, dataBytes(got, 1), "the stream window lets part of it out")
		require.Len(t, res, 1, "part of the first is out: the second may be queued")
		require.NoError(t, <-res)
		c.put(write(s, newWrite(nil, big, nil, false)))

		go func() { res <- s.AcquireQuota(len(big), make(chan struct{})) }()
		synctest.Wait()
		require.Empty(t, res, "two large messages are queued: a third waits")
		c.put(streamWindow(1, 1<<20))
		c.put(connWindow(1 << 20))
		c.settle()
		require.Len(t, res, 1, "both are out: the third may be queued")
		require.NoError(t, <-res)
	})
}

func TestAcquireQuotaReturnedByCleanup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newConn(t)
		c.put(connWindow(1 << 20))
		s := newStream(1)
		const size = 200_000
		require.NoError(t, s.AcquireQuota(size, nil))
		c.put(write(s, newWrite(respHeaders, pattern(size, 1), nil, false)))
		c.start()
		require.Equal(t, 65535, dataBytes(c.settle(), 1))

		res := make(chan error, 1)
		go func() { res <- s.AcquireQuota(10, make(chan struct{})) }()
		synctest.Wait()
		require.Empty(t, res, "65535 of 200000 written: still over quota")

		c.put(controlbuf.Item{Kind: controlbuf.KindCleanup, Stream: s, StreamID: 1, Reset: true, Code: http2.ErrCodeCancel})
		assert.Equal(t, []string{"RST_STREAM 1 CANCEL"}, summary(c.settle()))
		require.Len(t, res, 1, "dropped bytes give the quota back")
		assert.NoError(t, <-res)
	})
}

func TestWriteFlag(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newConn(t)
		var wrote atomic.Bool
		c.loopy.SetWriteFlag(&wrote)
		c.start()
		c.put(controlbuf.Item{Kind: controlbuf.KindPing})
		c.put(controlbuf.Item{Kind: controlbuf.KindWindowUpdate, N: 1})
		c.put(controlbuf.Item{Kind: controlbuf.KindRSTStream, StreamID: 1})
		require.Len(t, c.settle(), 3)
		assert.False(t, wrote.Load(), "control frames do not set the flag")

		c.put(write(newStream(1), newWrite(respHeaders, nil, nil, false)))
		require.Len(t, c.settle(), 1)
		assert.True(t, wrote.Load(), "HEADERS set the flag")

		wrote.Store(false)
		c.put(write(newStream(3), newWrite(nil, []byte("x"), nil, false)))
		require.Len(t, c.settle(), 1)
		assert.True(t, wrote.Load(), "DATA sets the flag")
	})
}

func TestWriteFlagOnlyWhenWriting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newConn(t)
		var wrote atomic.Bool
		c.loopy.SetWriteFlag(&wrote)
		s := newStream(1)
		c.put(write(s, newWrite(nil, []byte("data"), nil, false)))
		// The stream is active when its quota drops to zero.
		c.put(controlbuf.Item{Kind: controlbuf.KindPeerSettings, Payload: &controlbuf.Payload{Settings: []http2.Setting{{ID: http2.SettingInitialWindowSize, Val: 0}}}})
		c.start()
		require.Equal(t, []string{"SETTINGS 0 ACK"}, summary(c.settle()))
		assert.False(t, wrote.Load(), "no HEADERS or DATA went out")
	})
}
