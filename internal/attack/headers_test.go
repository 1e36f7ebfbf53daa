package attack

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// headerLimit is the server's MaxHeaderListSize in these tests.
const headerLimit = 16 << 10

// literal HPACK-encodes fields as literals the decoder must not index,
// so that the peer's own encoder stays in step with the server's table.
func literal(fields ...hpack.HeaderField) []byte {
	var b bytes.Buffer
	enc := hpack.NewEncoder(&b)
	for _, f := range fields {
		f.Sensitive = true
		enc.WriteField(f)
	}
	return b.Bytes()
}

// padding is a header block fragment of one field of about n bytes.
func padding(n int) []byte {
	return literal(hpack.HeaderField{Name: "x-pad", Value: strings.Repeat("a", n)})
}

// rejected reports whether e is the server refusing stream id: a reset,
// or a response with HTTP 431 or grpc-status RESOURCE_EXHAUSTED.
func rejected(id uint32) func(event) bool {
	return func(e event) bool {
		if e.stream != id {
			return false
		}
		return e.typ == http2.FrameRSTStream ||
			e.typ == http2.FrameHeaders && (e.header(":status") == "431" || e.header("grpc-status") == "8")
	}
}

// TestOversizedHeaderBlock: a header list four times the server's limit,
// spread over CONTINUATION frames, is refused (stream reset, HTTP 431 or
// GOAWAY) without reaching a handler or being buffered.
func TestOversizedHeaderBlock(t *testing.T) {
	for _, frag := range []int{1000, 16000} {
		t.Run(fmt.Sprintf("fragments of %d bytes", frag), func(t *testing.T) {
			tgt := startServer(t, server.MaxHeaderListSize(headerLimit))
			cc := goodClient(t, tgt)
			base := measure()
			pr := startProber(t, cc)
			p := connect(t, tgt.addr)

			id := p.newID()
			p.wfr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: p.encode(request(holdPath))})
			n := 4 * headerLimit / frag
			for i := range n {
				p.wfr.WriteContinuation(id, i == n-1, padding(frag))
			}
			p.wfr.WriteData(id, true, grpcMsgString("x"))
			p.flush() // the server may close the connection before it has read it all

			e, ok := p.await(3*time.Second, func(e event) bool { return isGoAway(e) || rejected(id)(e) })
			t.Logf("%d KiB header list in %d-byte fragments: server sent %v", n*frag>>10, frag, p.summary())
			require.True(t, ok, "the stream was neither refused nor the connection ended")
			if e.typ == http2.FrameGoAway {
				assert.NotEqual(t, http2.ErrCodeNo, e.code, "GOAWAY without an error code")
			}
			assert.Zero(t, tgt.svc.hold.total.Load(), "a handler ran for the oversized request")
			checkUsage(t, "after the oversized block", base, measure(), heapSlack, goroutineSlack)
			pr.check(t)
		})
	}
}

// continuationFlood sends HEADERS without END_HEADERS, then CONTINUATION
// frames carrying frag until limit bytes or d have gone by or the server
// has closed the connection. It returns the bytes sent.
func continuationFlood(t *testing.T, p *peer, frag []byte, limit int64, d time.Duration) int64 {
	t.Helper()
	id := p.newID()
	p.wfr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: p.encode(request(holdPath))})
	require.NoError(t, p.flush())
	start, from := time.Now(), p.sent
	for p.sent-from < limit && time.Since(start) < d && !p.isClosed() {
		for range 32 {
			p.wfr.WriteContinuation(id, false, frag)
		}
		if err := p.flush(); err != nil {
			break
		}
	}
	return p.sent - from
}

// TestContinuationFloodBounded: a header block that never ends (HEADERS
// then endless CONTINUATION frames, CVE-2024-27316) costs the server no
// memory beyond the header list limit and does not starve other
// connections.
func TestContinuationFloodBounded(t *testing.T) {
	tgt := startServer(t, server.MaxHeaderListSize(headerLimit))
	cc := goodClient(t, tgt)
	base := measure()
	pr := startProber(t, cc)
	p := connect(t, tgt.addr)

	start := time.Now()
	sent := continuationFlood(t, p, padding(1000), 32<<20, time.Second)
	during := measure()
	t.Logf("CONTINUATION flood: %.1f MiB of header block (%d× the limit) in %v; connection closed: %v; server sent %v",
		mib(uint64(sent)), sent/headerLimit, time.Since(start).Round(time.Millisecond), p.isClosed(), p.summary())
	assert.Zero(t, tgt.svc.hold.total.Load(), "a handler ran for the endless request")
	checkUsage(t, "during the flood", base, during, heapSlack, goroutineSlack)
	pr.check(t)
	p.nc.Close()
	settle(t, "after the attacker left", base)
}

// TestContinuationFloodGoAway: the server ends a connection whose header
// block goes on far past the header list limit, instead of reading (and
// HPACK-decoding) it forever.
func TestContinuationFloodGoAway(t *testing.T) {
	tgt := startServer(t, server.MaxHeaderListSize(headerLimit))
	// A small send buffer, so that what the attacker manages to send is
	// close to what the server read, not what the kernels buffered.
	p := dialPeer(t, tgt.addr, 0, 32<<10)
	p.handshake()
	p.startReading()

	const allowance = 64 * headerLimit
	sent := continuationFlood(t, p, padding(1000), 4*allowance, 5*time.Second)
	ga, ok := p.await(2*time.Second, isGoAway)
	t.Logf("CONTINUATION flood: %d KiB sent; server sent %v", sent>>10, p.summary())
	require.True(t, ok, "no GOAWAY")
	assert.NotEqual(t, http2.ErrCodeNo, ga.code, "GOAWAY without an error code")
	assert.True(t, p.awaitClosed(3*time.Second), "connection not closed after GOAWAY")
	assert.Less(t, sent, int64(allowance), "the server read %d KiB of one header block (limit %d KiB)", sent>>10, headerLimit>>10)
}

// TestEmptyContinuationFloodGoAway: a header block that goes on in empty
// CONTINUATION frames never grows, so no size limit ends it; the server
// ends the connection with GOAWAY(ENHANCE_YOUR_CALM) instead of reading
// such frames forever.
func TestEmptyContinuationFloodGoAway(t *testing.T) {
	tgt := startServer(t)
	cc := goodClient(t, tgt)
	pr := startProber(t, cc)
	p := connect(t, tgt.addr)

	sent := continuationFlood(t, p, nil, 1<<20, 5*time.Second)
	ga, ok := p.await(3*time.Second, isGoAway)
	t.Logf("empty CONTINUATION flood: %d KiB sent; server sent %v", sent>>10, p.summary())
	require.True(t, ok, "no GOAWAY")
	assert.Equal(t, http2.ErrCodeEnhanceYourCalm, ga.code, "GOAWAY code (debug %q)", ga.debug)
	assert.True(t, p.awaitClosed(3*time.Second), "connection not closed after GOAWAY")
	assert.Zero(t, tgt.svc.hold.total.Load(), "a handler ran for the endless request")
	pr.check(t)
}

// TestHPACKBomb: a block that inserts one 4 KB field in the dynamic table
// and then references it thousands of times (1 byte each) decodes to far
// more than the header list limit; the limit holds on the decoded size,
// every such request is refused, and nothing of the decoded list is kept.
func TestHPACKBomb(t *testing.T) {
	tgt := startServer(t, server.MaxHeaderListSize(headerLimit))
	cc := goodClient(t, tgt)
	base := measure()
	pr := startProber(t, cc)
	p := connect(t, tgt.addr)

	const (
		streams = 200
		refs    = 12000 // indexed references per block
	)
	bomb := hpack.HeaderField{Name: "x-bomb", Value: strings.Repeat("b", 4000)}
	var insert bytes.Buffer
	hpack.NewEncoder(&insert).WriteField(bomb) // literal with incremental indexing
	// With the table full of the bomb alone, it is dynamic index 62.
	refBlock := bytes.Repeat([]byte{0x80 | 62}, refs)
	head := literal(request(holdPath)...)

	var ids []uint32
	for i := range streams {
		id := p.newID()
		ids = append(ids, id)
		block := append([]byte(nil), head...)
		if i == 0 {
			block = append(block, insert.Bytes()...)
		}
		block = append(block, refBlock...)
		writeBlock(p, id, block)
		p.wfr.WriteData(id, true, grpcMsgString("x"))
		if i%10 == 9 {
			require.NoError(t, p.flush())
		}
	}
	require.NoError(t, p.flush())
	refused := 0
	for _, id := range ids {
		if _, ok := p.await(5*time.Second, rejected(id)); ok {
			refused++
		}
	}
	during := measure()
	decoded := float64(streams) * refs * float64(bomb.Size())
	t.Logf("HPACK bomb: %d streams, %.0f KiB on the wire, %.1f GiB decoded if expanded; %d refused; server sent %v",
		streams, float64(p.sent)/1024, decoded/(1<<30), refused, p.summary())
	assert.Equal(t, streams, refused, "requests not refused")
	_, goaway := p.await(0, isGoAway)
	assert.False(t, goaway, "the connection was ended: the limit should cost only the stream")
	assert.Zero(t, tgt.svc.hold.total.Load(), "a handler ran for a bomb")
	checkUsage(t, "after the bombs", base, during, heapSlack, goroutineSlack)
	pr.check(t)
}

// writeBlock writes a header block as HEADERS and CONTINUATION frames of
// at most 16 KiB.
func writeBlock(p *peer, id uint32, block []byte) {
	const maxFrag = 16 << 10
	first := block[:min(len(block), maxFrag)]
	block = block[len(first):]
	p.wfr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: first, EndHeaders: len(block) == 0})
	for len(block) > 0 {
		frag := block[:min(len(block), maxFrag)]
		block = block[len(frag):]
		p.wfr.WriteContinuation(id, len(block) == 0, frag)
	}
}
