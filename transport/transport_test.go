package transport

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/codes"
	"github.com/h2rpc/h2rpc/status"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// pair connects a client Conn to a server Conn over loopback TCP; the
// server echoes every message and ends with OK.
func pair(t *testing.T, scfg ServerConfig) (*Conn, *Conn) {
	t.Helper()
	return pairWith(t, scfg, ClientConfig{Authority: "test"})
}

// pairWith is pair with the client's configuration.
func pairWith(t *testing.T, scfg ServerConfig, ccfg ClientConfig) (*Conn, *Conn) {
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
		if scfg.Handle == nil {
			scfg.Handle = func(s *Stream) { go echo(s) }
		}
		c, err := NewServerConn(nc, scfg)
		if err != nil {
			srvCh <- nil
			return
		}
		srvCh <- c
	}()
	cc := dialClientWith(t, lis.Addr().String(), ccfg)
	sc := <-srvCh
	require.NotNil(t, sc)
	t.Cleanup(func() {
		cc.Close(ErrConnClosed)
		sc.Close(ErrConnClosed)
		<-cc.Done()
		<-sc.Done()
	})
	return cc, sc
}

// dialClient opens a client Conn to addr.
func dialClient(t *testing.T, addr string) *Conn {
	t.Helper()
	return dialClientWith(t, addr, ClientConfig{Authority: "test"})
}

// dialClientWith opens a client Conn to addr with cfg.
func dialClientWith(t *testing.T, addr string, cfg ClientConfig) *Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cc, err := NewClientConn(ctx, nc, cfg)
	require.NoError(t, err)
	return cc
}

func echo(s *Stream) {
	for {
		m, err := s.RecvMsg()
		if err != nil {
			st := status.New(codes.OK, "")
			if err != io.EOF {
				st = status.Convert(err)
			}
			s.WriteStatus(st, nil, nil)
			return
		}
		framed := make([]byte, 5+len(m.Data))
		framed[4] = byte(len(m.Data))
		framed[3] = byte(len(m.Data) >> 8)
		framed[2] = byte(len(m.Data) >> 16)
		copy(framed[5:], m.Data)
		m.Release()
		if err := s.SendMsg(framed, nil, false); err != nil {
			s.WriteStatus(status.Convert(err), nil, nil)
			return
		}
	}
}

func msg(n int) []byte {
	b := make([]byte, 5+n)
	b[1], b[2], b[3], b[4] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	for i := range n {
		b[5+i] = byte(i)
	}
	return b
}

func TestEchoAcrossWindows(t *testing.T) {
	cc, _ := pair(t, ServerConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := cc.NewStream(ctx, &CallHdr{Method: "/a.B/C"})
	require.NoError(t, err)
	// Messages larger than the 64 KiB windows need the one-off grant.
	for _, n := range []int{0, 1, 16383, 16384, 70000, 1 << 20} {
		require.NoError(t, s.SendMsg(msg(n), nil, false))
		m, err := s.RecvMsg()
		require.NoError(t, err, "size %d", n)
		require.Equal(t, msg(n)[5:], m.Data)
		m.Release()
	}
	require.NoError(t, s.CloseSend())
	_, err = s.RecvMsg()
	assert.ErrorIs(t, err, io.EOF)
	assert.Equal(t, codes.OK, s.Status().Code())
}

func TestMaxRecvMsgSize(t *testing.T) {
	cc, _ := pair(t, ServerConfig{Config: Config{MaxRecvMsgSize: 1000}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := cc.NewStream(ctx, &CallHdr{Method: "/a.B/C", Data: msg(2000), EndStream: true})
	require.NoError(t, err)
	_, err = s.RecvMsg()
	assert.Equal(t, codes.ResourceExhausted, status.Code(err))
}

func TestMaxConcurrentStreamsRefused(t *testing.T) {
	block := make(chan struct{})
	cc, _ := pair(t, ServerConfig{
		Config: Config{MaxConcurrentStreams: 1},
		Handle: func(s *Stream) {
			go func() {
				<-block
				s.WriteStatus(status.New(codes.OK, ""), nil, nil)
			}()
		},
	})
	defer close(block)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := cc.NewStream(ctx, &CallHdr{Method: "/a.B/C"})
	require.NoError(t, err)
	// The client honours the server's limit: a second stream waits.
	short, cancel2 := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel2()
	_, err = cc.NewStream(short, &CallHdr{Method: "/a.B/C"})
	assert.Equal(t, codes.DeadlineExceeded, status.Code(err))
}

func TestCancelSendsRST(t *testing.T) {
	got := make(chan error, 1)
	started := make(chan struct{})
	cc, _ := pair(t, ServerConfig{Handle: func(s *Stream) {
		close(started)
		go func() {
			<-s.Context().Done()
			got <- s.Context().Err()
			s.WriteStatus(status.New(codes.Canceled, ""), nil, nil)
		}()
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := cc.NewStream(ctx, &CallHdr{Method: "/a.B/C"})
	require.NoError(t, err)
	<-started
	s.Cancel(status.New(codes.Canceled, "bye"))
	select {
	case err := <-got:
		assert.ErrorIs(t, err, context.Canceled)
	case <-ctx.Done():
		t.Fatal("server handler was not cancelled by RST_STREAM")
	}
}

func TestScriptedStreamWindowViolation(t *testing.T) {
	// The handler never reads, so the stream's window is never returned.
	cli, fr := scriptedClient(t, ServerConfig{Handle: func(s *Stream) {
		go func() {
			<-s.Context().Done()
			s.WriteStatus(status.New(codes.Canceled, ""), nil, nil)
		}()
	}})
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	headers, _ := requestFrames(t, 1, nil)
	_, err := cli.Write(headers)
	require.NoError(t, err)
	// More than the 65535-byte stream window (as empty messages).
	big := make([]byte, 16384)
	for range 5 {
		require.NoError(t, fr.WriteData(1, false, big))
	}
	cli.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		f, err := fr.ReadFrame()
		require.NoError(t, err, "expected RST_STREAM(FLOW_CONTROL_ERROR)")
		if rst, ok := f.(*http2.RSTStreamFrame); ok {
			assert.Equal(t, uint32(1), rst.StreamID)
			assert.Equal(t, http2.ErrCodeFlowControl, rst.ErrCode)
			return
		}
	}
}
