package attack

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
)

// TestHugeLengthPrefix: a unary request whose message prefix claims
// 4 GiB (0xFFFFFFFF) fails with RESOURCE_EXHAUSTED in the trailers and
// nothing is allocated for it, however many times it is sent.
func TestHugeLengthPrefix(t *testing.T) {
	tgt := startServer(t)
	cc := goodClient(t, tgt)
	base := measure()
	pr := startProber(t, cc)
	p := connect(t, tgt.addr)

	const calls = 200
	body := append([]byte{0, 0xff, 0xff, 0xff, 0xff}, bytes.Repeat([]byte{'z'}, 1000)...)
	ids := make([]uint32, calls)
	for i := range ids {
		ids[i] = p.newID()
		p.headers(ids[i], false, request("/attack.Echo/Unary"))
		p.wfr.WriteData(ids[i], true, body)
		if i%20 == 19 {
			require.NoError(t, p.flush())
		}
	}
	require.NoError(t, p.flush())
	exhausted := 0
	var last event
	for _, id := range ids {
		e, ok := p.await(5*time.Second, func(e event) bool {
			return e.stream == id && e.typ == http2.FrameHeaders && e.header("grpc-status") != ""
		})
		if ok && e.header("grpc-status") == "8" {
			exhausted++
			last = e
		}
	}
	during := measure()
	t.Logf("4 GiB prefix: %d calls, %d answered RESOURCE_EXHAUSTED (%q); server sent %v",
		calls, exhausted, last.header("grpc-message"), p.summary())
	assert.Equal(t, calls, exhausted, "calls not failed with RESOURCE_EXHAUSTED")
	assert.True(t, strings.Contains(last.header("grpc-message"), "larger than max"), "grpc-message %q", last.header("grpc-message"))
	_, goaway := p.await(0, isGoAway)
	assert.False(t, goaway, "the connection was ended: the limit should cost only the call")
	checkUsage(t, "after the calls", base, during, heapSlack, goroutineSlack)
	pr.check(t)
}

// TestHugeLengthPrefixHalfClosed: the END_STREAM that came with the
// oversized message is honoured: the client has half-closed, so the
// server's trailers close the stream and no RST_STREAM follows them.
func TestHugeLengthPrefixHalfClosed(t *testing.T) {
	tgt := startServer(t)
	p := connect(t, tgt.addr)
	id := p.newID()
	p.headers(id, false, request("/attack.Echo/Unary"))
	p.wfr.WriteData(id, true, []byte{0, 0xff, 0xff, 0xff, 0xff})
	require.NoError(t, p.flush())
	e, ok := p.await(3*time.Second, ends(id))
	require.True(t, ok, "no answer")
	require.True(t, p.sync(3*time.Second))
	t.Logf("4 GiB prefix with END_STREAM: server sent %v", p.summary())
	assert.Equal(t, "8", e.header("grpc-status"))
	assert.Zero(t, p.count(isRST(id)), "RST_STREAM after the trailers of a half-closed stream")
}
