package transport

import (
	"time"

	"github.com/h2rpc/h2rpc/controlbuf"
	"golang.org/x/net/http2"
)

const (
	// bdpLimit caps the windows BDP estimation may grow to.
	bdpLimit = 16 << 20
	// bdpGrowAt is the fraction of the window a sample must reach for
	// the window to grow (2/3).
	bdpGrowNum, bdpGrowDen = 2, 3
	// bdpMinSample is how much DATA must arrive before a measurement.
	bdpMinSample = DefaultWindowSize / 4
	// bdpMaxWait is the most DATA that may pass between measurements
	// while the window is the default (see bdpEstimator.wait).
	bdpMaxWait = 1 << 20
)

var bdpPingData = [8]byte{'b', 'd', 'p', 'p', 'i', 'n', 'g', '!'}

// bdpEstimator grows the connection's inbound windows to the measured
// bandwidth-delay product. Once 16 KiB of DATA has arrived since its last
// measurement it sends a PING and counts the bytes that arrive until the
// ACK: that sample, over the smoothed round-trip time, is the bandwidth; a
// sample that fills 2/3 of the window at the best bandwidth seen doubles
// the window, up to 16 MiB. Once the window has grown, bulk data is
// flowing: it measures every round trip. It lives on the reader goroutine.
//
// Only DATA of streams that carry more than one message, or of a message
// that needed a grant because it did not fit the window, starts a
// measurement: once the window fits the messages in use, request-response
// traffic sends no PINGs at all. While the window is the default, a
// sample under a quarter of it doubles the DATA to wait for before the
// next measurement, up to 1 MiB (and one that is not resets it): a stream
// of small messages, whose round trips never fill the window, soon costs a
// PING per megabyte instead of one per 16 KiB.
type bdpEstimator struct {
	window     uint32 // what samples are judged against: the smaller configured window, then the last growth
	unmeasured uint32 // bytes received since the last measurement
	wait       uint32 // unmeasured bytes that start a measurement at the default window
	sent       bool
	sentAt     time.Time
	sample     uint32
	rtt        float64 // smoothed, seconds
	samples    int
	bwMax      float64 // bytes per second
}

// bdpOnData accounts for n bytes of DATA and, if none is running and
// canStart (the DATA is on a multi-message stream, or its message needed
// a grant), starts a measurement.
func (c *Conn) bdpOnData(n uint32, canStart bool) {
	b := c.bdp
	if b == nil || b.window >= bdpLimit {
		return
	}
	if !b.sent {
		if !canStart {
			return
		}
		// Measure only once some data has arrived since the last
		// measurement (a quarter of the initial window): traffic that
		// small never needs a larger window.
		b.unmeasured += n
		if b.window <= DefaultWindowSize && b.unmeasured < b.wait {
			return
		}
		b.unmeasured = 0
		if !c.put(controlbuf.Item{Kind: controlbuf.KindPing, Ping: bdpPingData}) {
			return
		}
		b.sent = true
		b.sentAt = time.Now()
		b.sample = 0
	}
	b.sample += n
}

// bdpAck finishes a measurement and grows the windows if it says so.
func (c *Conn) bdpAck() {
	b := c.bdp
	if b == nil || !b.sent {
		return
	}
	b.sent = false
	if b.sample < b.window/4 {
		b.wait = min(b.wait*2, bdpMaxWait)
	} else {
		b.wait = bdpMinSample
	}
	rtt := time.Since(b.sentAt).Seconds()
	if b.samples < 10 {
		b.samples++
		b.rtt += (rtt - b.rtt) / float64(b.samples)
	} else {
		b.rtt += (rtt - b.rtt) * 0.1
	}
	if b.rtt <= 0 {
		return
	}
	bw := float64(b.sample) / (b.rtt * 1.5)
	if bw <= b.bwMax {
		if bw < b.bwMax {
			return
		}
	} else {
		b.bwMax = bw
	}
	if uint64(b.sample)*bdpGrowDen < uint64(b.window)*bdpGrowNum {
		return
	}
	grown := min(uint64(b.sample)*2, bdpLimit)
	if grown <= uint64(b.window) {
		return
	}
	c.growWindows(uint32(grown))
}

// growWindows raises the connection window and every stream's window to
// n, each only if it is smaller: the two may have been configured apart,
// and a window we advertised is never taken back.
func (c *Conn) growWindows(n uint32) {
	b := c.bdp
	b.window = n
	if grow := int64(n) - c.connLimit; grow > 0 {
		c.connLimit = int64(n)
		c.connAvail += grow
		c.put(controlbuf.Item{Kind: controlbuf.KindWindowUpdate, N: uint32(grow)})
	}
	cur := c.streamWindow.Load()
	if n <= cur {
		return
	}
	// Under c.mu, so that a client stream being added now either is in
	// the table below or sees the new size (streamAssigner.Assign).
	c.mu.Lock()
	c.streamWindow.Store(n)
	for _, s := range c.streams {
		s.GrowWindow(int(n - cur))
	}
	c.mu.Unlock()
	c.put(controlbuf.Item{Kind: controlbuf.KindSettings, Payload: &controlbuf.Payload{Settings: []http2.Setting{{ID: http2.SettingInitialWindowSize, Val: n}}}})
}
