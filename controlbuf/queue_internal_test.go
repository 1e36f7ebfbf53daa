package controlbuf

import (
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConnCreditQueuedQuietly checks when the peer's connection credit
// wakes a sleeping loopy: not while nothing waits for it and it stays
// within the room loopy left (so overflow is still found), always once it
// exceeds that room, and every other item wakes it at once.
func TestConnCreditQueuedQuietly(t *testing.T) {
	connCredit := func(n uint32) Item { return Item{Kind: KindPeerWindowUpdate, N: n} }
	tests := []struct {
		name      string
		room      uint32
		puts      []Item
		wakesOnNo int // 1-based index of the put that wakes take; 0: none
	}{
		{"credit within room", 1000, []Item{connCredit(600), connCredit(400)}, 0},
		{"credit over room", 1000, []Item{connCredit(600), connCredit(401)}, 2},
		{"loopy waits for connection quota", 0, []Item{connCredit(1)}, 1},
		{"stream credit", 1000, []Item{{Kind: KindPeerWindowUpdate, StreamID: 1, N: 1}}, 1},
		{"anything else", 1000, []Item{connCredit(1), {Kind: KindPing}}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				q := NewQueue()
				defer q.Close()
				got := make(chan []Item, 1)
				go func() {
					items, err := q.take(nil, true, tt.room)
					if err == nil {
						got <- items
					}
				}()
				synctest.Wait()
				for i, it := range tt.puts {
					require.True(t, q.Put(it))
					synctest.Wait()
					if i+1 < tt.wakesOnNo || tt.wakesOnNo == 0 {
						require.Empty(t, got, "put %d woke loopy", i+1)
						continue
					}
					require.Len(t, got, 1, "put %d did not wake loopy", i+1)
					assert.Len(t, <-got, i+1, "loopy takes the quiet credit with what woke it")
					return
				}
			})
		})
	}
}
