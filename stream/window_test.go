package stream_test

import (
	"math/rand/v2"
	"testing"
	"testing/synctest"

	"github.com/h2rpc/h2rpc/stream"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOnData(t *testing.T) {
	tests := []struct {
		name   string
		window uint32
		frames []int
		oks    []bool
	}{
		{"within", 100, []int{10, 20, 30}, []bool{true, true, true}},
		{"exactly the window", 100, []int{60, 40}, []bool{true, true}},
		{"one byte over", 100, []int{60, 41}, []bool{true, false}},
		{"refusal leaves the window", 100, []int{60, 41, 40, 1}, []bool{true, false, true, false}},
		{"zero-length frame on a full window", 100, []int{100, 0, 1}, []bool{true, true, false}},
		{"zero window", 0, []int{0, 1}, []bool{true, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStream(tt.window)
			for i, n := range tt.frames {
				assert.Equal(t, tt.oks[i], s.OnData(n), "frame %d of %d bytes", i, n)
			}
		})
	}
}

func TestConsumed(t *testing.T) {
	tests := []struct {
		name     string
		window   uint32
		consumed []int
		updates  []uint32
	}{
		{"below a quarter", 100, []int{10, 14}, []uint32{0, 0}},
		{"reaching a quarter", 100, []int{24, 1}, []uint32{0, 25}},
		{"at once", 100, []int{25}, []uint32{25}},
		{"pending resets", 100, []int{30, 10, 15}, []uint32{30, 0, 25}},
		{"default window", 65535, []int{16382, 1, 16382}, []uint32{0, 16383, 0}},
		{"zero bytes", 100, []int{0, 0}, []uint32{0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStream(tt.window)
			total := 0
			for _, n := range tt.consumed {
				total += n
			}
			require.True(t, s.OnData(total))
			for i, n := range tt.consumed {
				assert.Equal(t, tt.updates[i], s.Consumed(n), "Consumed(%d) #%d", n, i)
			}
		})
	}
}

func TestConsumedReopensWindow(t *testing.T) {
	s := newStream(1000)
	require.True(t, s.OnData(1000))
	require.False(t, s.OnData(1), "window exhausted")
	require.Equal(t, uint32(400), s.Consumed(400))
	assert.True(t, s.OnData(400), "the returned credit is usable")
	assert.False(t, s.OnData(1))
	assert.Equal(t, uint32(0), s.Consumed(200), "200 < 1000/4 stays pending")
	assert.False(t, s.OnData(1), "pending credit is not usable before it is sent")
	assert.Equal(t, uint32(250), s.Consumed(50))
	assert.True(t, s.OnData(250))
	assert.False(t, s.OnData(1))
}

func TestGrantForLargeMessage(t *testing.T) {
	const (
		window   = 65535
		frameMax = 16384
		size     = 100_000
	)
	s := newStream(window)
	data := frameMsgs(msg{0, pattern(size, 5)})

	// The first frame: the prefix announces more than the peer may send.
	require.True(t, s.OnData(frameMax))
	feed(t, s, data[:frameMax], nil, testMaxMsg)
	// After this frame 49151 bytes of window are left, but 100000-16379
	// = 83621 more message bytes must arrive before the application can
	// free anything: the shortfall is granted at once.
	grant := s.TakeGrant()
	assert.Equal(t, uint32(83621-49151), grant)
	assert.Zero(t, s.TakeGrant(), "the grant is taken once")

	// The rest of the message now fits in what the peer may send.
	peer := int64(window-frameMax) + int64(grant)
	for off := frameMax; off < len(data); off += frameMax {
		end := min(off+frameMax, len(data))
		require.True(t, s.OnData(end-off), "frame at %d must fit the granted window", off)
		peer -= int64(end - off)
		feed(t, s, data[off:end], nil, testMaxMsg)
		assert.Zero(t, s.TakeGrant(), "no second grant for the same message")
	}
	assert.Zero(t, peer, "the grant covers exactly the shortfall")
	assert.False(t, s.OnData(1))

	got := drainQueue(t, s)
	require.Len(t, got, 1)
	assert.Equal(t, pattern(size, 5), got[0].Data)

	// Consuming the message returns only what was not granted ahead.
	upd := s.Consumed(size + 5)
	assert.Equal(t, uint32(window), upd, "the granted debt must not be returned again")
	assert.True(t, s.OnData(window), "the window is back to its size")
	assert.False(t, s.OnData(1), "and no larger")
}

func TestGrantIncludesPendingCredit(t *testing.T) {
	const window = 1000
	s := newStream(window)
	small := frameMsgs(msg{0, pattern(95, 1)})
	require.True(t, s.OnData(len(small)))
	feed(t, s, small, nil, testMaxMsg)
	require.Zero(t, s.Consumed(len(small)), "100 < 250 stays pending")

	// A 2000-byte message whose prefix arrives alone.
	require.True(t, s.OnData(5))
	feed(t, s, prefix(0, 2000), nil, testMaxMsg)
	// Window left: 1000-100-5 = 895; shortfall 2000-895 = 1105; the 100
	// pending bytes ride along.
	assert.Equal(t, uint32(1105+100), s.TakeGrant())
	assert.True(t, s.OnData(2000))
	feed(t, s, pattern(2000, 1), nil, testMaxMsg)
	drainQueue(t, s)
	// The peer still has the 100 bytes of returned credit. Debt 1105;
	// the message frees 2005: 900 come back.
	assert.Equal(t, uint32(900), s.Consumed(2005))
	assert.True(t, s.OnData(window))
	assert.False(t, s.OnData(1))
}

func TestNoGrantWhenMessageFits(t *testing.T) {
	tests := []struct {
		name   string
		window uint32
		data   []byte
		frame  int
	}{
		{"message within the frame", 100, frameMsgs(msg{0, pattern(50, 0)}), 55},
		{"message within the window", 100, frameMsgs(msg{0, pattern(95, 0)}), 10},
		{"zero-length message", 5, frameMsgs(msg{0, nil}), 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStream(tt.window)
			for off := 0; off < len(tt.data); off += tt.frame {
				end := min(off+tt.frame, len(tt.data))
				require.True(t, s.OnData(end-off))
				feed(t, s, tt.data[off:end], nil, testMaxMsg)
				assert.Zero(t, s.TakeGrant(), "frame at %d", off)
			}
		})
	}
}

// TestFlowControlConverges plays a peer that sends as much as its view of
// the window allows, and an application that takes every message as soon
// as it is whole. The peer must never overrun the window nor get stuck,
// and once everything is consumed the window must be back to its size,
// less credit still pending (under a quarter of it).
func TestFlowControlConverges(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 80 {
		window := []int{100, 1000, 20000, 65535}[i%4]
		frameMax := []int{1, 7, 100, 16384}[(i/4)%4]
		if frameMax < 100 && window > 1000 {
			frameMax *= 100
		}
		var msgs []msg
		for range 1 + rng.IntN(8) {
			n := rng.IntN(window * 3)
			if rng.IntN(4) == 0 {
				n = rng.IntN(10)
			}
			msgs = append(msgs, msg{0, pattern(n, byte(i))})
		}
		data := frameMsgs(msgs...)

		s := newStream(uint32(window))
		peer := window
		consumedAll := 0
		var got []received
		for off := 0; off < len(data); {
			n := min(frameMax, peer, len(data)-off)
			require.Positive(t, n, "case %d: peer stuck with %d bytes left (window %d)", i, len(data)-off, window)
			require.True(t, s.OnData(n), "case %d: peer overran the window", i)
			peer -= n
			feed(t, s, data[off:off+n], nil, testMaxMsg)
			off += n
			peer += int(s.TakeGrant())
			for {
				m, err := s.Recv(closedDone)
				if err != nil {
					break
				}
				got = append(got, received{Data: append([]byte{}, m.Data...), Compressed: m.Compressed})
				consumedAll += len(m.Data) + 5
				peer += int(s.Consumed(len(m.Data) + 5))
				m.Release()
			}
		}
		require.Equal(t, len(data), consumedAll, "case %d", i)
		assert.Equal(t, wantMsgs(msgs...), got, "case %d", i)
		assert.LessOrEqual(t, peer, window, "case %d: window grew beyond its size", i)
		assert.Greater(t, peer, window-window/4-1, "case %d: credit lost", i)
	}
}

var closedDone = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

func TestGrowWindow(t *testing.T) {
	s := newStream(100)
	require.True(t, s.OnData(100))
	s.GrowWindow(900)
	assert.True(t, s.OnData(900), "the peer may send the difference at once")
	assert.False(t, s.OnData(1))
	// Updates are now sent at a quarter of the larger window.
	assert.Zero(t, s.Consumed(249))
	assert.Equal(t, uint32(250), s.Consumed(1))
	assert.Zero(t, s.Consumed(249))
	assert.Equal(t, uint32(750), s.Consumed(501))
	assert.True(t, s.OnData(1000))
	assert.False(t, s.OnData(1))
}

// recvInBackground starts an application waiting in Recv and waits until
// it blocks; the returned channel yields what it received.
func recvInBackground(s *stream.Stream) <-chan stream.Message {
	got := make(chan stream.Message, 1)
	go func() {
		m, _ := s.Recv(nil)
		got <- m
	}()
	synctest.Wait()
	return got
}

func TestCreditWhileApplicationWaits(t *testing.T) {
	const window = 1000
	data := frameMsgs(msg{0, pattern(595, 3)}) // 600 bytes on the wire
	tests := []struct {
		name    string
		waiting bool
		queued  bool // an earlier message waits in the queue
		grants  []uint32
		rest    uint32 // what Consumed returns once the message is taken
	}{
		// 300 >= 1000/4 goes back at once; the last 300 too.
		{"waiting", true, false, []uint32{300, 300}, 0},
		{"not waiting", false, false, []uint32{0, 0}, 600},
		// Waiting ended when the queued message was taken: the bytes
		// that follow wait for the next Recv.
		{"a queued message taken first", true, true, []uint32{0, 0}, 600},
		// A unary request or response: nothing is credited early (the
		// transport does not credit it when taken either).
		{"single message", true, false, []uint32{0, 0}, 600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newStream(window)
				if tt.name == "single message" {
					s.ExpectSingleMessage()
				}
				if tt.queued {
					small := frameMsgs(msg{0, nil})
					require.True(t, s.OnData(len(small)))
					feed(t, s, small, nil, testMaxMsg)
				}
				var got <-chan stream.Message
				if tt.waiting {
					got = recvInBackground(s)
					if tt.queued {
						<-got // takes the small message without blocking
						got = nil
					}
				}
				for i, half := range [][]byte{data[:300], data[300:]} {
					require.True(t, s.OnData(len(half)))
					feed(t, s, half, nil, testMaxMsg)
					assert.Equal(t, tt.grants[i], s.TakeGrant(), "after half %d", i)
				}
				var m stream.Message
				if got != nil {
					m = <-got
				} else {
					var err error
					m, err = s.Recv(nil)
					require.NoError(t, err)
				}
				assert.Equal(t, pattern(595, 3), m.Data)
				assert.Equal(t, tt.rest, s.Consumed(len(m.Data)+5-m.Credited()))
				m.Release()
			})
		})
	}
}

// TestDiscardedDataReturnsItsWindow checks that once a message fails (here
// it is over the size limit), the DATA the peer still sends on the stream,
// which is discarded unread, gives its window back: a handler that keeps
// the stream open must not leave the peer stuck on it.
func TestDiscardedDataReturnsItsWindow(t *testing.T) {
	const window = 65535
	s := newStream(window)
	first := frameMsgs(msg{0, pattern(1000, 1)})
	require.True(t, s.OnData(len(first)))
	res := feed(t, s, first, nil, 100)
	require.Len(t, res.streamErrs, 1, "the message is over the limit")
	junk := make([]byte, 16384)
	var credit uint32
	for i := range 8 {
		require.True(t, s.OnData(len(junk)), "frame %d: the discarded data's window must come back", i)
		assert.Empty(t, feed(t, s, junk, nil, 100).streamErrs, "the error is reported once")
		credit += s.TakeGrant()
	}
	assert.GreaterOrEqual(t, int(credit), 8*16384-window/4, "nearly all of the discarded bytes are credited")
}
