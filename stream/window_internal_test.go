package stream

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestGrantKeepsThePeersWindowInRange(t *testing.T) {
	tests := []struct {
		name     string
		w        window
		need     int
		wantUpd  uint32
		wantDebt int64
	}{
		{"fits", window{limit: 65535, avail: 1000}, 5000, 4000, 4000},
		{"pending credit goes along", window{limit: 65535, avail: 1000, pending: 300}, 5000, 4300, 4000},
		{"no shortfall", window{limit: 65535, avail: 5000}, 5000, 0, 0},
		// A 2 GiB message on a window BDP grew to 16 MiB, 4 MiB of
		// credit pending: the grant stops at a 2^31-1 window.
		{"capped", window{limit: 16 << 20, avail: 8 << 20, pending: 4 << 20}, 1<<31 - 1, maxWindow - 8<<20, maxWindow - 12<<20},
		{"already at the cap", window{limit: 16 << 20, avail: maxWindow - 10, pending: 10}, 1<<31 - 1, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := tt.w
			upd := w.grant(tt.need)
			assert.Equal(t, tt.wantUpd, upd)
			assert.Equal(t, tt.wantDebt, w.debt)
			assert.LessOrEqual(t, w.avail, int64(maxWindow), "the peer's window after the update")
			assert.Equal(t, tt.w.avail+int64(upd), w.avail)
		})
	}
}
