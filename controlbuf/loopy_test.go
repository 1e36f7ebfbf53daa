package controlbuf_test

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"

	"github.com/h2rpc/h2rpc/controlbuf"
	"github.com/h2rpc/h2rpc/internal/bufpool"
)

func TestStreamWriteHeadersDataTrailers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newConn(t)
		c.start()
		s := newStream(1)
		msg := pattern(1000, 1)
		c.put(write(s, newWrite(respHeaders, msg, trailers, false)))

		got := c.settle()
		require.Equal(t, []string{"HEADERS 1", "DATA 1 len=1000", "HEADERS 1 END_STREAM"}, summary(got))
		assert.Equal(t, respHeaders, got[0].Fields)
		assert.Equal(t, msg, got[1].Data)
		assert.Equal(t, trailers, got[2].Fields)
		assert.False(t, got[1].Flags.Has(http2.FlagDataEndStream), "END_STREAM goes on the trailers")
	})
}

func TestWriteShapes(t *testing.T) {
	big := pattern(40000, 3)
	tests := []struct {
		name   string
		writes []*controlbuf.Write
		want   []string
	}{
		{"trailers-only response", []*controlbuf.Write{newWrite(respHeaders, nil, nil, true)},
			[]string{"HEADERS 1 END_STREAM"}},
		{"headers alone", []*controlbuf.Write{newWrite(reqHeaders, nil, nil, false)},
			[]string{"HEADERS 1"}},
		{"client half-close on the last DATA", []*controlbuf.Write{newWrite(reqHeaders, []byte("req"), nil, true)},
			[]string{"HEADERS 1", "DATA 1 len=3 END_STREAM"}},
		{"empty data with end stream", []*controlbuf.Write{newWrite(reqHeaders, []byte{}, nil, true)},
			[]string{"HEADERS 1 END_STREAM"}},
		{"data only", []*controlbuf.Write{newWrite(nil, []byte("more"), nil, false)},
			[]string{"DATA 1 len=4"}},
		{"bare half-close", []*controlbuf.Write{newWrite(nil, nil, nil, true)},
			[]string{"DATA 1 len=0 END_STREAM"}},
		{"trailers only", []*controlbuf.Write{newWrite(nil, nil, trailers, false)},
			[]string{"HEADERS 1 END_STREAM"}},
		{"empty write", []*controlbuf.Write{newWrite(nil, nil, nil, false), newWrite(nil, []byte("x"), nil, false)},
			[]string{"DATA 1 len=1"}},
		{"data over max frame size", []*controlbuf.Write{newWrite(respHeaders, big, trailers, false)},
			[]string{"HEADERS 1", "DATA 1 len=16384", "DATA 1 len=16384", "DATA 1 len=7232", "HEADERS 1 END_STREAM"}},
		{"writes in order", []*controlbuf.Write{
			newWrite(respHeaders, []byte("one"), nil, false),
			newWrite(nil, []byte("two"), nil, false),
			newWrite(nil, []byte("three"), trailers, false),
		}, []string{"HEADERS 1", "DATA 1 len=11", "HEADERS 1 END_STREAM"}}, // queued writes share a frame
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := newConn(t)
				s := newStream(1)
				for _, w := range tt.writes {
					c.put(write(s, w))
				}
				c.start()
				assert.Equal(t, tt.want, summary(c.settle()))
			})
		})
	}
}

func TestStreamQuotaStopsAndResumes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newConn(t)
		c.put(connWindow(1 << 20)) // only the stream's quota limits
		s := newStream(1)
		data := pattern(100_000, 5)
		c.put(write(s, newWrite(respHeaders, data, trailers, false)))
		c.start()

		got := c.settle()
		assert.Equal(t, []string{"HEADERS 1", "DATA 1 len=16384", "DATA 1 len=16384", "DATA 1 len=16384", "DATA 1 len=16383"}, summary(got))
		assert.Equal(t, 65535, dataBytes(got, 1), "stops at the initial stream window")

		// Other work still flows while the stream waits.
		c.put(controlbuf.Item{Kind: controlbuf.KindPing, Ping: [8]byte{1}})
		assert.Equal(t, []string{"PING 0 0100000000000000"}, summary(c.settle()))

		c.put(streamWindow(1, 20000))
		got2 := c.settle()
		assert.Equal(t, []string{"DATA 1 len=16384", "DATA 1 len=3616"}, summary(got2))

		c.put(streamWindow(1, 1<<20))
		got3 := c.settle()
		assert.Equal(t, []string{"DATA 1 len=14465", "HEADERS 1 END_STREAM"}, summary(got3))

		var all []byte
		for _, f := range append(append(got, got2...), got3...) {
			all = append(all, f.Data...)
		}
		assert.Equal(t, data, all, "the bytes arrive whole and in order")
	})
}

func TestConnQuotaStopsAndResumes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newConn(t)
		s := newStream(1)
		c.put(streamWindow(1, 1<<20)) // unknown yet: kept for its first write
		c.put(write(s, newWrite(nil, pattern(70000, 1), nil, true)))
		c.put(streamWindow(1, 1<<20))
		c.start()
		got := c.settle()
		assert.Equal(t, 65535, dataBytes(got, 1), "stops at the initial connection window")

		c.put(connWindow(100))
		assert.Equal(t, []string{"DATA 1 len=100"}, summary(c.settle()))
		c.put(connWindow(1 << 20))
		assert.Equal(t, []string{"DATA 1 len=4365 END_STREAM"}, summary(c.settle()))
	})
}

// TestCreditBeforeTheStreamsFirstWrite checks that stream credit which
// arrives before loopy knows the stream (a server's transport forgets a
// stream as its handler answers, before loopy takes the answer) counts
// for the stream's first write, and that too much of it is a stream flow
// error.
func TestCreditBeforeTheStreamsFirstWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newConn(t)
		c.put(connWindow(1 << 20))
		c.put(streamWindow(1, 100000))
		s := newStream(1)
		c.put(write(s, newWrite(respHeaders, pattern(150000, 1), trailers, false)))
		c.start()
		got := c.settle()
		assert.Equal(t, 150000, dataBytes(got, 1), "65,535 of initial window and 100,000 of early credit")
		assert.Equal(t, "HEADERS 1 END_STREAM", got[len(got)-1].String())

		c.put(streamWindow(3, math.MaxInt32))
		s3 := newStream(3)
		c.put(write(s3, newWrite(respHeaders, pattern(10, 3), trailers, false)))
		assert.Equal(t, []string{"RST_STREAM 3 FLOW_CONTROL_ERROR"}, summary(c.settle()))
		assert.Equal(t, []uint32{3}, c.hooks.flowErrors())
		assert.Equal(t, 1, c.hooks.doneCount(s3))
	})
}

// TestQuietConnCreditIsApplied checks that connection credit that
// arrived while loopy slept with nothing to send (queued without waking
// it) is counted before the writes that come after it.
func TestQuietConnCreditIsApplied(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newConn(t)
		s := newStream(1)
		c.start()
		assert.Empty(t, c.settle())
		c.put(connWindow(1 << 20))
		c.put(write(s, newWrite(nil, pattern(70000, 1), nil, true)))
		c.put(streamWindow(1, 1<<20))
		assert.Equal(t, 70000, dataBytes(c.settle(), 1), "the credit lifted the 65,535-byte connection window")
	})
}

func TestConnQuotaSharedByStreams(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newConn(t)
		streams := []*controlbuf.OutStream{newStream(1), newStream(3), newStream(5)}
		for i, s := range streams {
			c.put(write(s, newWrite(respHeaders, pattern(40000, byte(i)), trailers, false)))
		}
		c.start()
		got := c.settle()
		total := 0
		for _, s := range streams {
			total += dataBytes(got, s.ID)
		}
		assert.Equal(t, 65535, total, "the connection window bounds all streams together")

		c.put(connWindow(1 << 20))
		for _, s := range streams {
			c.put(streamWindow(s.ID, 1<<20))
		}
		got = append(got, c.settle()...)
		for i, s := range streams {
			var data []byte
			var last wireFrame
			for _, f := range got {
				if f.StreamID != s.ID {
					continue
				}
				last = f
				if f.Type == http2.FrameData {
					data = append(data, f.Data...)
				}
			}
			assert.Equal(t, pattern(40000, byte(i)), data, "stream %d", s.ID)
			assert.Equal(t, fmt.Sprintf("HEADERS %d END_STREAM", s.ID), last.String(), "the trailers end stream %d", s.ID)
		}
	})
}

// TestFramesWithoutDataDoNotWaitForConnQuota checks that once the
// connection window is spent, HEADERS, trailers and resets still go out
// (they are not flow-controlled), while DATA waits in stream order and
// trailers never overtake their stream's data.
func TestFramesWithoutDataDoNotWaitForConnQuota(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newConn(t)
		s1 := newStream(1)
		c.put(write(s1, newWrite(respHeaders, pattern(70000, 1), nil, true)))
		c.put(streamWindow(1, 1<<20))
		c.start()
		got := c.settle()
		require.Equal(t, 65535, dataBytes(got, 1), "the connection window is spent")

		// A trailers-only answer with its reset, response headers alone,
		// and a response whose data must wait, trailers behind it.
		s3, s5, s7 := newStream(3), newStream(5), newStream(7)
		w3 := newWrite(respHeaders, nil, nil, true)
		w3.Cleanup, w3.Reset, w3.Code = true, true, http2.ErrCodeNo
		c.put(write(s3, w3))
		c.put(write(s5, newWrite(respHeaders, nil, nil, false)))
		c.put(write(s7, newWrite(respHeaders, pattern(10, 7), trailers, true)))
		c.put(streamWindow(7, 1<<20))
		assert.ElementsMatch(t, []string{"HEADERS 3 END_STREAM", "RST_STREAM 3 NO_ERROR", "HEADERS 5", "HEADERS 7"}, summary(c.settle()))

		c.put(connWindow(1 << 20))
		assert.Equal(t, []string{"DATA 1 len=4465 END_STREAM", "DATA 7 len=10", "HEADERS 7 END_STREAM"}, summary(c.settle()))
	})
}

func TestRoundRobin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newConn(t)
		c.put(connWindow(1 << 20))
		a, b := newStream(1), newStream(3)
		c.put(write(a, newWrite(respHeaders, pattern(3*16384, 1), nil, true)))
		c.put(write(b, newWrite(respHeaders, pattern(3*16384, 2), nil, true)))
		c.start()
		assert.Equal(t, []string{
			"HEADERS 1", "DATA 1 len=16384",
			"HEADERS 3", "DATA 3 len=16384",
			"DATA 1 len=16384", "DATA 3 len=16384",
			"DATA 1 len=16384 END_STREAM", "DATA 3 len=16384 END_STREAM",
		}, summary(c.settle()))
	})
}

func TestSmallWritesDoNotWaitForLargeOnes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newConn(t)
		c.put(connWindow(1 << 20))
		big, small := newStream(1), newStream(3)
		bw := newWrite(nil, pattern(100_000, 1), nil, false)
		c.put(write(big, bw))
		c.put(streamWindow(1, 1<<20))
		c.put(write(small, newWrite(respHeaders, []byte("hi"), trailers, false)))
		c.start()
		got := summary(c.settle())
		require.GreaterOrEqual(t, len(got), 4)
		assert.Equal(t, []string{"DATA 1 len=16384", "HEADERS 3", "DATA 3 len=2", "HEADERS 3 END_STREAM"}, got[:4],
			"a small response goes out after one frame of the large one")
	})
}

// TestConnQuotaRoundRobin: when the connection window, not the streams',
// is what runs out, each grant must go to the next stream in turn.
func TestConnQuotaRoundRobin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newConn(t)
		x, a, b := newStream(1), newStream(3), newStream(5)
		c.put(write(x, newWrite(nil, pattern(65535, 0), nil, true)))
		c.start()
		require.Equal(t, 65535, dataBytes(c.settle(), 1))

		c.put(write(a, newWrite(nil, pattern(3*16384, 1), nil, true)))
		c.put(write(b, newWrite(nil, pattern(3*16384, 2), nil, true)))
		require.Empty(t, c.settle(), "no connection quota left")
		var order []uint32
		for range 6 {
			c.put(connWindow(16384))
			got := c.settle()
			require.Len(t, got, 1)
			order = append(order, got[0].StreamID)
		}
		assert.Equal(t, []uint32{3, 5, 3, 5, 3, 5}, order)
	})
}

func TestPeerSettingsShrinkWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newConn(t)
		c.put(connWindow(1 << 20))
		s := newStream(1)
		c.put(write(s, newWrite(respHeaders, pattern(100_000, 1), nil, true)))
		c.start()
		require.Equal(t, 65535, dataBytes(c.settle(), 1))

		// 65535 sent against a window now 16384: the quota is -49151.
		c.put(controlbuf.Item{Kind: controlbuf.KindPeerSettings, Payload: &controlbuf.Payload{Settings: []http2.Setting{{ID: http2.SettingInitialWindowSize, Val: 16384}}}})
		assert.Equal(t, []string{"SETTINGS 0 ACK"}, summary(c.settle()))
		c.put(streamWindow(1, 49151))
		assert.Empty(t, c.settle(), "a quota back at zero still waits")
		c.put(streamWindow(1, 10))
		assert.Equal(t, []string{"DATA 1 len=10"}, summary(c.settle()))

		// A stream opened now starts with the new window.
		s3 := newStream(3)
		c.put(write(s3, newWrite(respHeaders, pattern(20000, 2), nil, true)))
		assert.Equal(t, []string{"HEADERS 3", "DATA 3 len=16384"}, summary(c.settle()))
	})
}

func TestPeerSettingsShrinkActiveStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newConn(t)
		c.put(connWindow(1 << 20))
		s := newStream(1)
		// The stream has sent a little and is still active when the window
		// shrinks below what it has sent.
		c.put(write(s, newWrite(respHeaders, pattern(1000, 1), nil, false)))
		c.start()
		require.Equal(t, 1000, dataBytes(c.settle(), 1))
		c.put(controlbuf.Item{Kind: controlbuf.KindPeerSettings, Payload: &controlbuf.Payload{Settings: []http2.Setting{{ID: http2.SettingInitialWindowSize, Val: 0}}}})
		c.put(write(s, newWrite(nil, pattern(1000, 2), nil, true)))
		assert.Equal(t, []string{"SETTINGS 0 ACK"}, summary(c.settle()))
		c.put(streamWindow(1, 1000))
		assert.Empty(t, c.settle(), "quota -1000 + 1000 is still nothing")
		c.put(streamWindow(1, 1000))
		assert.Equal(t, []string{"DATA 1 len=1000 END_STREAM"}, summary(c.settle()))
	})
}

func TestPeerSettingsGrowWindowAndFrameSize(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newConn(t)
		c.put(connWindow(1 << 20))
		s := newStream(1)
		c.put(write(s, newWrite(nil, pattern(100_000, 1), nil, true)))
		c.start()
		require.Equal(t, 65535, dataBytes(c.settle(), 1))

		c.put(controlbuf.Item{Kind: controlbuf.KindPeerSettings, Payload: &controlbuf.Payload{Settings: []http2.Setting{
			{ID: http2.SettingMaxFrameSize, Val: 40000},
			{ID: http2.SettingInitialWindowSize, Val: 65535 + 50000},
			{ID: http2.SettingHeaderTableSize, Val: 0},
		}}})
		assert.Equal(t, []string{"SETTINGS 0 ACK", "DATA 1 len=34465 END_STREAM"}, summary(c.settle()),
			"a larger window unblocks the stream; frames use the new size")

		// The header table size reaches the encoder: the peer still decodes.
		s3 := newStream(3)
		c.put(write(s3, newWrite(respHeaders, nil, nil, true)))
		c.put(write(newStream(5), newWrite(respHeaders, nil, nil, true)))
		got := c.settle()
		require.Len(t, got, 2)
		assert.Equal(t, respHeaders, got[0].Fields)
		assert.Equal(t, respHeaders, got[1].Fields)
	})
}

func TestCleanup(t *testing.T) {
	tests := []struct {
		name  string
		local bool
		// sendFirst: loopy runs before the cleanup is queued.
		sendFirst bool
		item      func(s *controlbuf.OutStream) controlbuf.Item
		want      []string
		// others: the cleanup is for another stream, so stream 1 goes on.
		others bool
	}{
		{"reset after headers", false, true, func(s *controlbuf.OutStream) controlbuf.Item {
			return controlbuf.Item{Kind: controlbuf.KindCleanup, Stream: s, StreamID: s.ID, Reset: true, Code: http2.ErrCodeCancel}
		}, []string{"RST_STREAM 1 CANCEL"}, false},
		{"forget without reset", false, true, func(s *controlbuf.OutStream) controlbuf.Item {
			return controlbuf.Item{Kind: controlbuf.KindCleanup, Stream: s, StreamID: s.ID}
		}, nil, false},
		{"local stream whose headers went out", true, true, func(s *controlbuf.OutStream) controlbuf.Item {
			return controlbuf.Item{Kind: controlbuf.KindCleanup, Stream: s, StreamID: s.ID, Reset: true, Code: http2.ErrCodeCancel}
		}, []string{"RST_STREAM 1 CANCEL"}, false},
		{"local stream whose headers never went out", true, false, func(s *controlbuf.OutStream) controlbuf.Item {
			return controlbuf.Item{Kind: controlbuf.KindCleanup, Stream: s, StreamID: s.ID, Reset: true, Code: http2.ErrCodeCancel}
		}, nil, false},
		{"peer's stream reset before its response", false, false, func(s *controlbuf.OutStream) controlbuf.Item {
			return controlbuf.Item{Kind: controlbuf.KindCleanup, Stream: s, StreamID: s.ID, Reset: true, Code: http2.ErrCodeRefusedStream}
		}, []string{"RST_STREAM 1 REFUSED_STREAM"}, false},
		{"stream loopy does not know", false, true, func(*controlbuf.OutStream) controlbuf.Item {
			return controlbuf.Item{Kind: controlbuf.KindCleanup, StreamID: 9, Reset: true, Code: http2.ErrCodeStreamClosed}
		}, []string{"RST_STREAM 9 STREAM_CLOSED"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := newConn(t)
				s := newStream(1)
				s.Local = tt.local
				// More data than the quota, so some is still pending.
				c.put(write(s, newWrite(reqHeaders, pattern(100_000, 1), nil, true)))
				if tt.sendFirst {
					c.start()
					got := c.settle()
					require.NotEmpty(t, got)
					require.Equal(t, "HEADERS 1", got[0].String())
				}
				c.put(tt.item(s))
				if !tt.sendFirst {
					c.start()
				}
				assert.Equal(t, tt.want, summary(c.settle()))

				// Whatever was pending is dropped for good.
				c.put(connWindow(1 << 20))
				c.put(streamWindow(1, 1<<20))
				if tt.others {
					assert.Equal(t, 100_000-65535, dataBytes(c.settle(), 1))
				} else {
					assert.Empty(t, c.settle())
				}
			})
		})
	}
}

func TestLocalStreamForgottenAtHalfClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newConn(t)
		c.start()

		// A stream we opened that has not half-closed is kept.
		open := newStream(1)
		open.Local = true
		c.put(write(open, newWrite(reqHeaders, []byte("a"), nil, false)))
		require.Equal(t, []string{"HEADERS 1", "DATA 1 len=1"}, summary(c.settle()))
		assert.False(t, open.Forgotten())

		// Its half-close behind the stream quota: forgotten only once out.
		s := newStream(3)
		s.Local = true
		c.put(write(s, newWrite(reqHeaders, pattern(100_000, 1), nil, true)))
		require.NotEmpty(t, c.settle())
		assert.False(t, s.Forgotten(), "its last write is still queued")
		assert.Zero(t, c.hooks.doneCount(s))
		c.put(connWindow(1 << 20))
		c.put(streamWindow(3, 1<<20))
		got := c.settle()
		assert.Equal(t, 100_000-(65535-1), dataBytes(got, 3), "what the connection quota held back")
		assert.True(t, got[len(got)-1].Flags.Has(http2.FlagDataEndStream), "the last frame half-closes")
		assert.True(t, s.Forgotten())
		assert.Equal(t, 1, c.hooks.doneCount(s))

		// A reset still reaches the wire, and the stream is not reported
		// done twice; a cleanup without reset writes nothing.
		c.put(controlbuf.Item{Kind: controlbuf.KindCleanup, Stream: s, StreamID: 3, Reset: true, Code: http2.ErrCodeCancel})
		assert.Equal(t, []string{"RST_STREAM 3 CANCEL"}, summary(c.settle()))
		c.put(controlbuf.Item{Kind: controlbuf.KindCleanup, Stream: s, StreamID: 3})
		assert.Empty(t, c.settle())
		assert.Equal(t, 1, c.hooks.doneCount(s))

		// A peer's stream is kept until its owner cleans it up.
		peer := newStream(2)
		c.put(write(peer, newWrite(respHeaders, []byte("a"), nil, true)))
		require.Len(t, c.settle(), 2)
		assert.False(t, peer.Forgotten())
	})
}

func TestWriteAfterCleanupIsDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newConn(t)
		c.start()
		s := newStream(1)
		c.put(write(s, newWrite(respHeaders, []byte("a"), nil, false)))
		require.Len(t, c.settle(), 2)
		c.put(controlbuf.Item{Kind: controlbuf.KindCleanup, Stream: s, StreamID: 1, Reset: true, Code: http2.ErrCodeCancel})
		require.Equal(t, []string{"RST_STREAM 1 CANCEL"}, summary(c.settle()))

		// A sender that raced with the cleanup: its write quota comes back.
		require.NoError(t, s.AcquireQuota(controlbuf.DefaultWriteQuota, nil))
		buf := bufpool.Get(5000)
		w := newWrite(nil, *buf, trailers, false)
		w.Buf = buf
		c.put(write(s, w))
		c.put(write(s, newWrite(nil, nil, nil, true)))
		assert.Empty(t, c.settle(), "writes to a dead stream are dropped")
		acquired := make(chan error, 1)
		go func() { acquired <- s.AcquireQuota(1, make(chan struct{})) }()
		synctest.Wait()
		require.Len(t, acquired, 1, "dropping a write returns its quota")
		assert.NoError(t, <-acquired)
	})
}

func TestWriteWithCleanup(t *testing.T) {
	tests := []struct {
		name  string
		reset bool
		want  []string
	}{
		{"reset after the trailers", true, []string{"HEADERS 1", "DATA 1 len=3", "HEADERS 1 END_STREAM", "RST_STREAM 1 NO_ERROR"}},
		{"forget after the trailers", false, []string{"HEADERS 1", "DATA 1 len=3", "HEADERS 1 END_STREAM"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := newConn(t)
				c.start()
				s := newStream(1)
				w := newWrite(respHeaders, []byte("end"), trailers, false)
				w.Cleanup, w.Reset, w.Code = true, tt.reset, http2.ErrCodeNo
				c.put(write(s, w))
				assert.Equal(t, tt.want, summary(c.settle()))
				c.put(write(s, newWrite(nil, []byte("late"), nil, false)))
				assert.Empty(t, c.settle(), "the stream is forgotten")
			})
		})
	}
}

func TestWriteWithCleanupBehindQuota(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newConn(t)
		c.put(connWindow(1 << 20))
		s := newStream(1)
		w := newWrite(respHeaders, pattern(70000, 1), trailers, false)
		w.Cleanup, w.Reset, w.Code = true, true, http2.ErrCodeNo
		c.put(write(s, w))
		c.start()
		got := summary(c.settle())
		assert.Equal(t, "HEADERS 1", got[0])
		assert.NotContains(t, got, "RST_STREAM 1 NO_ERROR", "the reset waits for the data")
		c.put(streamWindow(1, 10000))
		assert.Equal(t, []string{"DATA 1 len=4465", "HEADERS 1 END_STREAM", "RST_STREAM 1 NO_ERROR"}, summary(c.settle()))
	})
}

// TestResetItemDropsAKnownStreamsWrites checks that a plain reset for a
// stream loopy still holds (its writes queued behind flow control) ends
// it there too: nothing of it follows the RST_STREAM.
func TestResetItemDropsAKnownStreamsWrites(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newConn(t)
		s := newStream(1)
		c.put(write(s, newWrite(respHeaders, pattern(70000, 1), trailers, false)))
		c.put(connWindow(1 << 20))
		c.start()
		got := c.settle()
		require.Equal(t, 65535, dataBytes(got, 1), "the stream window is spent")

		c.put(controlbuf.Item{Kind: controlbuf.KindRSTStream, StreamID: 1, Code: http2.ErrCodeStreamClosed})
		assert.Equal(t, []string{"RST_STREAM 1 STREAM_CLOSED"}, summary(c.settle()))
		assert.Equal(t, 1, c.hooks.doneCount(s))
		c.put(streamWindow(1, 1<<20))
		c.put(controlbuf.Item{Kind: controlbuf.KindPing, Ping: [8]byte{4}})
		assert.Equal(t, []string{"PING 0 0400000000000000"}, summary(c.settle()))
	})
}

func TestStreamWindowOverflow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newConn(t)
		c.put(connWindow(1 << 20))
		s := newStream(1)
		c.put(write(s, newWrite(respHeaders, []byte("x"), nil, false)))
		c.start()
		require.Len(t, c.settle(), 2)

		// Quota 65534: this fills it to exactly 2^31-1.
		c.put(streamWindow(1, math.MaxInt32-65534))
		synctest.Wait()
		assert.Empty(t, c.hooks.flowErrors())
		c.put(streamWindow(1, 1))
		c.put(streamWindow(7, math.MaxInt32)) // unknown stream: ignored
		c.put(controlbuf.Item{Kind: controlbuf.KindPing, Ping: [8]byte{3}})
		assert.Equal(t, []string{"RST_STREAM 1 FLOW_CONTROL_ERROR", "PING 0 0300000000000000"}, summary(c.settle()), "a stream overflow is not a connection error")
		assert.Equal(t, []uint32{1}, c.hooks.flowErrors())
		assert.Equal(t, 1, c.hooks.doneCount(s))
		_, exited := c.exited()
		assert.False(t, exited)
	})
}

func TestConnWindowOverflow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newConn(t)
		c.hooks.lastID.Store(41)
		c.start()
		c.put(connWindow(math.MaxInt32 - 65535)) // exactly 2^31-1: allowed
		assert.Empty(t, c.settle())
		_, exited := c.exited()
		require.False(t, exited)

		c.put(connWindow(1))
		got := c.settle()
		require.Equal(t, []string{"GOAWAY 0 last=41 FLOW_CONTROL_ERROR"}, summary(got))
		assert.NotEmpty(t, got[0].Data, "GOAWAY says why")
		err, exited := c.exited()
		require.True(t, exited, "Run ends on a connection error")
		var ce http2.ConnectionError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, http2.ErrCodeFlowControl, http2.ErrCode(ce))
	})
}

func TestPeerSettingsWindowOverflow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newConn(t)
		s := newStream(1)
		c.put(write(s, newWrite(respHeaders, nil, nil, false)))
		c.put(streamWindow(1, math.MaxInt32-65535)) // the stream's window is now 2^31-1
		c.start()
		require.Equal(t, []string{"HEADERS 1"}, summary(c.settle()))
		c.put(controlbuf.Item{Kind: controlbuf.KindPeerSettings, Payload: &controlbuf.Payload{Settings: []http2.Setting{{ID: http2.SettingInitialWindowSize, Val: 65536}}}})
		got := c.settle()
		require.NotEmpty(t, got)
		assert.Equal(t, "GOAWAY 0 last=0 FLOW_CONTROL_ERROR", got[len(got)-1].String())
		err, exited := c.exited()
		require.True(t, exited)
		var ce http2.ConnectionError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, http2.ErrCodeFlowControl, http2.ErrCode(ce))
	})
}

func TestControlItems(t *testing.T) {
	tests := []struct {
		name string
		item controlbuf.Item
		want wireFrame
	}{
		{"window update", controlbuf.Item{Kind: controlbuf.KindWindowUpdate, StreamID: 3, N: 999},
			wireFrame{Type: http2.FrameWindowUpdate, StreamID: 3, Incr: 999}},
		{"connection window update", controlbuf.Item{Kind: controlbuf.KindWindowUpdate, N: 1 << 20},
			wireFrame{Type: http2.FrameWindowUpdate, Incr: 1 << 20}},
		{"settings", controlbuf.Item{Kind: controlbuf.KindSettings, Payload: &controlbuf.Payload{Settings: []http2.Setting{{ID: http2.SettingMaxConcurrentStreams, Val: 7}}}},
			wireFrame{Type: http2.FrameSettings, Settings: []http2.Setting{{ID: http2.SettingMaxConcurrentStreams, Val: 7}}}},
		{"peer settings are acknowledged", controlbuf.Item{Kind: controlbuf.KindPeerSettings},
			wireFrame{Type: http2.FrameSettings, Flags: http2.FlagSettingsAck}},
		{"ping", controlbuf.Item{Kind: controlbuf.KindPing, Ping: [8]byte{1, 2}},
			wireFrame{Type: http2.FramePing, Ping: [8]byte{1, 2}}},
		{"ping ack", controlbuf.Item{Kind: controlbuf.KindPing, Ack: true, Ping: [8]byte{9}},
			wireFrame{Type: http2.FramePing, Flags: http2.FlagPingAck, Ping: [8]byte{9}}},
		{"rst stream", controlbuf.Item{Kind: controlbuf.KindRSTStream, StreamID: 5, Code: http2.ErrCodeProtocol},
			wireFrame{Type: http2.FrameRSTStream, StreamID: 5, Code: http2.ErrCodeProtocol}},
		{"goaway", controlbuf.Item{Kind: controlbuf.KindGoAway, StreamID: 11, Code: http2.ErrCodeEnhanceYourCalm, Payload: &controlbuf.Payload{Debug: []byte("calm")}},
			wireFrame{Type: http2.FrameGoAway, LastID: 11, Code: http2.ErrCodeEnhanceYourCalm, Data: []byte("calm")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := newConn(t)
				c.start()
				c.put(tt.item)
				assert.Equal(t, []wireFrame{tt.want}, c.settle())
			})
		})
	}
}

func TestControlItemsKeepOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newConn(t)
		for i := range 50 {
			c.put(controlbuf.Item{Kind: controlbuf.KindPing, Ping: [8]byte{byte(i)}})
			c.put(controlbuf.Item{Kind: controlbuf.KindWindowUpdate, StreamID: uint32(i), N: 1})
		}
		c.start()
		got := c.settle()
		require.Len(t, got, 100)
		for i := range 50 {
			assert.Equal(t, byte(i), got[2*i].Ping[0])
			assert.Equal(t, uint32(i), got[2*i+1].StreamID)
		}
	})
}

func TestCloseItemFlushesAndStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newConn(t)
		c.start()
		c.put(controlbuf.Item{Kind: controlbuf.KindGoAway, StreamID: 3, Code: http2.ErrCodeNo})
		c.put(controlbuf.Item{Kind: controlbuf.KindPing, Ping: [8]byte{1}})
		c.put(controlbuf.Item{Kind: controlbuf.KindClose})
		got := summary(c.settle())
		require.GreaterOrEqual(t, len(got), 2)
		assert.Equal(t, []string{"GOAWAY 0 last=3 NO_ERROR", "PING 0 0100000000000000"}, got[:2],
			"everything before the close is written")
		err, exited := c.exited()
		require.True(t, exited)
		assert.NoError(t, err)
	})
}

// TestCloseItemWritesQueuedStreamData: the transport relies on KindClose
// to get a draining connection's last responses out.
func TestCloseItemWritesQueuedStreamData(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newConn(t)
		s := newStream(1)
		w := newWrite(respHeaders, []byte("last"), trailers, false)
		w.Cleanup, w.Reset, w.Code = true, true, http2.ErrCodeNo
		c.put(write(s, w))
		c.put(write(newStream(3), newWrite(respHeaders, pattern(40000, 1), nil, true)))
		c.put(controlbuf.Item{Kind: controlbuf.KindClose})
		c.start()
		assert.Equal(t, []string{
			"HEADERS 1", "DATA 1 len=4", "HEADERS 1 END_STREAM", "RST_STREAM 1 NO_ERROR",
			"HEADERS 3", "DATA 3 len=16384", "DATA 3 len=16384", "DATA 3 len=7232 END_STREAM",
		}, summary(c.settle()))
		err, exited := c.exited()
		require.True(t, exited)
		assert.NoError(t, err)
	})
}

func TestCloseItemDoesNotWaitForQuota(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newConn(t)
		s := newStream(1)
		c.put(write(s, newWrite(respHeaders, pattern(100_000, 1), nil, true)))
		c.put(controlbuf.Item{Kind: controlbuf.KindClose})
		c.start()
		assert.Equal(t, 65535, dataBytes(c.settle(), 1), "what the window allows is written")
		err, exited := c.exited()
		require.True(t, exited, "a stream blocked on quota does not hold the close")
		assert.NoError(t, err)
	})
}

// TestCloseItemAlone: a KindClose with nothing else to write must stop
// loopy too, whether or not loopy was idle when it arrived.
func TestCloseItemAlone(t *testing.T) {
	for _, idle := range []bool{false, true} {
		t.Run(map[bool]string{false: "queued before Run", true: "loopy idle"}[idle], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := newConn(t)
				if idle {
					c.start()
					synctest.Wait()
				}
				c.put(controlbuf.Item{Kind: controlbuf.KindClose})
				if !idle {
					c.start()
				}
				assert.Empty(t, c.settle())
				err, exited := c.exited()
				require.True(t, exited, "Run must return after KindClose")
				assert.NoError(t, err)
			})
		})
	}
}

func TestUnknownKind(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newConn(t)
		c.start()
		c.put(controlbuf.Item{Kind: 200})
		err, exited := c.exited()
		require.True(t, exited)
		assert.ErrorContains(t, err, "unknown item kind")
	})
}

func TestRunEndsWhenQueueCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newConn(t)
		s := newStream(1)
		c.put(write(s, newWrite(respHeaders, pattern(100_000, 1), nil, true)))
		c.start()
		require.NotEmpty(t, c.settle())
		_, exited := c.exited()
		require.False(t, exited, "loopy waits for quota")
		c.q.Close()
		err, exited := c.exited()
		require.True(t, exited)
		assert.ErrorIs(t, err, controlbuf.ErrClosed)
	})
}

func TestRunEndsWhenWriteFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newConn(t)
		c.start()
		c.put(controlbuf.Item{Kind: controlbuf.KindPing})
		require.Len(t, c.settle(), 1)
		c.local.Close()
		c.put(write(newStream(1), newWrite(respHeaders, pattern(50_000, 1), nil, true)))
		err, exited := c.exited()
		require.True(t, exited)
		assert.Error(t, err)
		assert.False(t, errors.Is(err, controlbuf.ErrClosed))
	})
}

func TestLargeBatchFlushesWhileWorking(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newConn(t)
		c.put(connWindow(1 << 30))
		var want int
		for i := range 20 {
			s := newStream(uint32(2*i + 1))
			c.put(write(s, newWrite(respHeaders, pattern(60000, byte(i)), trailers, false)))
			want += 60000
		}
		c.start()
		got := c.settle()
		total := 0
		for i := range 20 {
			n := dataBytes(got, uint32(2*i+1))
			assert.Equal(t, 60000, n, "stream %d", 2*i+1)
			total += n
		}
		assert.Equal(t, want, total)
		ends := 0
		for _, f := range got {
			if f.Type == http2.FrameHeaders && f.Flags.Has(http2.FlagHeadersEndStream) {
				ends++
				assert.Equal(t, trailers, f.Fields)
			}
		}
		assert.Equal(t, 20, ends)
	})
}

func TestPooledDataReleased(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newConn(t)
		c.start()
		for i := range 10 {
			buf := bufpool.Get(3000)
			copy(*buf, pattern(3000, byte(i)))
			w := newWrite(nil, *buf, nil, false)
			w.Buf = buf
			c.put(write(newStream(uint32(2*i+1)), w))
		}
		got := c.settle()
		require.Len(t, got, 10)
		for i, f := range got {
			assert.Equal(t, pattern(3000, byte(i)), f.Data, "stream %d", f.StreamID)
		}
	})
}

func TestQueuedWritesShareAFrame(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newConn(t)
		// A stream window of 8 bytes: the first three writes fit in one
		// frame, the fourth must wait for window.
		c.put(controlbuf.Item{Kind: controlbuf.KindPeerSettings, Payload: &controlbuf.Payload{Settings: []http2.Setting{{ID: http2.SettingInitialWindowSize, Val: 8}}}})
		s := newStream(1)
		c.put(write(s, newWrite(respHeaders, []byte("ab"), nil, false)))
		c.put(write(s, newWrite(nil, []byte("cde"), nil, false)))
		c.put(write(s, newWrite(nil, []byte("fgh"), nil, false)))
		c.put(write(s, newWrite(nil, []byte("ij"), nil, true)))
		c.start()
		got := c.settle()
		assert.Equal(t, []string{"SETTINGS 0 ACK", "HEADERS 1", "DATA 1 len=8"}, summary(got))
		assert.Equal(t, "abcdefgh", string(got[2].Data), "in order")

		c.put(streamWindow(1, 2))
		got = c.settle()
		assert.Equal(t, []string{"DATA 1 len=2 END_STREAM"}, summary(got), "the last write ends the stream")
		assert.Equal(t, "ij", string(got[0].Data))
	})
}
