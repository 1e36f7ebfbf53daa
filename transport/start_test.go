package transport

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/codes"
	"github.com/h2rpc/h2rpc/status"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
)

// scriptedClient serves one connection with cfg and returns its client
// side as a bare socket that has sent the preface and an empty SETTINGS,
// with a framer on it: the test scripts the rest.
func scriptedClient(t *testing.T, cfg ServerConfig) (net.Conn, *http2.Framer) {
	t.Helper()
	cli, fr, _ := scriptedClientStop(t, cfg)
	return cli, fr
}

// scriptedClientStop is scriptedClient that also returns stop, which
// closes both sides and returns once the server connection's goroutines
// have ended; the test's cleanup stops it too.
func scriptedClientStop(t *testing.T, cfg ServerConfig) (net.Conn, *http2.Framer, func()) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer lis.Close()
	srvCh := make(chan *Conn, 1)
	go func() {
		nc, err := lis.Accept()
		if err != nil {
			srvCh <- nil
			return
		}
		c, _ := NewServerConn(nc, cfg)
		srvCh <- c
	}()
	cli, err := net.Dial("tcp", lis.Addr().String())
	require.NoError(t, err)
	_, err = cli.Write([]byte(http2.ClientPreface))
	require.NoError(t, err)
	fr := http2.NewFramer(cli, cli)
	require.NoError(t, fr.WriteSettings())
	sc := <-srvCh
	require.NotNil(t, sc)
	stop := func() {
		cli.Close()
		sc.Close(ErrConnClosed)
		<-sc.Done()
	}
	t.Cleanup(stop)
	return cli, fr, stop
}

// heldServer serves one connection whose streams are all held back with
// StartOnMessage. Each start reports on the returned channel whether the
// stream was Ready (its message there) when it ran; the handler then
// answers OK. The client side is a bare socket the test scripts; stop
// ends the connection and waits for its goroutines.
func heldServer(t *testing.T) (cli net.Conn, started <-chan bool, stop func()) {
	t.Helper()
	starts := make(chan bool, 10)
	cli, _, stop = scriptedClientStop(t, ServerConfig{Handle: func(s *Stream) {
		s.StartOnMessage(func(s *Stream) {
			starts <- s.Ready()
			go func() {
				if m, err := s.RecvMsg(); err == nil {
					m.Release()
				}
				s.WriteStatus(status.New(codes.OK, ""), nil, nil)
			}()
		})
	}})
	return cli, starts, stop
}

// awaitTrailers reads the server's frames until the trailers of a call.
func awaitTrailers(t *testing.T, cli net.Conn) {
	t.Helper()
	fr := http2.NewFramer(nil, cli)
	cli.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		f, err := fr.ReadFrame()
		require.NoError(t, err, "expected the handler's trailers")
		if hf, ok := f.(*http2.HeadersFrame); ok && hf.StreamEnded() {
			return
		}
	}
}

// requestFrames returns HEADERS for a call on stream id and, if body is
// not nil, DATA frames carrying it in pieces of at most 16 KiB, the last
// with END_STREAM.
func requestFrames(t *testing.T, id uint32, body []byte) (headers, data []byte) {
	hb := headerBlock(":method", "POST", ":scheme", "http", ":path", "/a.B/C", ":authority", "x", "content-type", "application/grpc")
	var h, d bytes.Buffer
	require.NoError(t, http2.NewFramer(&h, nil).WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hb, EndHeaders: true}))
	fr := http2.NewFramer(&d, nil)
	for len(body) > 0 {
		n := min(len(body), 16384)
		require.NoError(t, fr.WriteData(id, n == len(body), body[:n]))
		body = body[n:]
	}
	return h.Bytes(), d.Bytes()
}

func TestStartOnMessageWaitsForTheMessage(t *testing.T) {
	cli, started, stop := heldServer(t)
	// A 40,000-byte message in three DATA frames, sent with its HEADERS:
	// the handler starts once, with the message there.
	h, d := requestFrames(t, 1, msg(40000))
	_, err := cli.Write(append(h, d...))
	require.NoError(t, err)
	select {
	case ready := <-started:
		assert.True(t, ready, "started before the message that had arrived was read")
	case <-time.After(5 * time.Second):
		t.Fatal("the handler never started")
	}
	// A second start could come as late as the stream's end or the
	// connection's: look once both are over.
	awaitTrailers(t, cli)
	stop()
	assert.Empty(t, started, "started twice")
}

func TestStartOnMessageStartsBeforeWaiting(t *testing.T) {
	cli, started, stop := heldServer(t)
	// HEADERS and part of the first DATA frame: the reader starts the
	// handler rather than wait for the rest with it held back.
	h, d := requestFrames(t, 1, msg(40000))
	part := 9 + 9000
	_, err := cli.Write(append(h, d[:part]...))
	require.NoError(t, err)
	select {
	case ready := <-started:
		assert.False(t, ready)
	case <-time.After(5 * time.Second):
		t.Fatal("the handler was held back while the reader waited")
	}
	// The started handler still gets the message and answers.
	_, err = cli.Write(d[part:])
	require.NoError(t, err)
	awaitTrailers(t, cli)
	stop()
	assert.Empty(t, started, "started twice")
}
