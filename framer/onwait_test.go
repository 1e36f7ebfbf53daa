//go:build linux

package framer_test

import (
	"bytes"
	"fmt"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"

	"github.com/h2rpc/h2rpc/framer"
)

// TestReaderOnWait checks that the wait hook runs only when a read would
// wait for the peer: not while frames that already arrived are read, and
// once before a read that finds the socket empty.
func TestReaderOnWait(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer lis.Close()
	cli, err := net.Dial("tcp", lis.Addr().String())
	require.NoError(t, err)
	defer cli.Close()
	srv, err := lis.Accept()
	require.NoError(t, err)
	defer srv.Close()

	ping := func(b byte) []byte {
		var buf bytes.Buffer
		require.NoError(t, http2.NewFramer(&buf, nil).WritePing(false, [8]byte{b}))
		return buf.Bytes()
	}
	// Two PINGs, and a DATA frame large enough to be read around the
	// buffer, arrive before the first read.
	var first bytes.Buffer
	first.Write(ping(1))
	require.NoError(t, http2.NewFramer(&first, nil).WriteData(1, false, make([]byte, 12000)))
	first.Write(ping(2))
	_, err = cli.Write(first.Bytes())
	require.NoError(t, err)

	var waits atomic.Int32
	r := framer.NewReader(srv, framer.ReaderConfig{})
	defer r.Release()
	r.SetOnWait(func() { waits.Add(1) })
	readPing := func(want byte) {
		data, err := readPingData(r)
		require.NoError(t, err)
		require.Equal(t, [8]byte{want}, data)
	}
	// Give loopback a moment to deliver every byte of the first write.
	raw, err := srv.(*net.TCPConn).SyscallConn()
	require.NoError(t, err)
	require.Eventually(t, func() bool { return socketHas(raw, first.Len()) }, 5*time.Second, time.Millisecond)
	readPing(1)
	fh, err := r.ReadFrameHeader()
	require.NoError(t, err)
	require.NoError(t, r.ReadFull(make([]byte, fh.Length)))
	readPing(2)
	assert.Zero(t, waits.Load(), "the hook ran although the frames had arrived")

	// The read that waits runs on its own goroutine and reports back; if
	// the test stops early, closing srv ends it.
	type result struct {
		data [8]byte
		err  error
	}
	got := make(chan result, 1)
	go func() {
		data, err := readPingData(r)
		got <- result{data, err}
	}()
	require.Eventually(t, func() bool { return waits.Load() == 1 }, 5*time.Second, time.Millisecond,
		"the hook did not run before the reader waited")
	_, err = cli.Write(ping(3))
	require.NoError(t, err)
	select {
	case res := <-got:
		require.NoError(t, res.err)
		assert.Equal(t, [8]byte{3}, res.data)
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting read did not return the PING written to it")
	}
	assert.Equal(t, int32(1), waits.Load())
}

// readPingData reads the next frame, which must be a PING, and returns
// its data.
func readPingData(r *framer.Reader) ([8]byte, error) {
	fh, err := r.ReadFrameHeader()
	if err != nil {
		return [8]byte{}, err
	}
	f, err := r.ReadControlFrame(fh)
	if err != nil {
		return [8]byte{}, err
	}
	p, ok := f.(*http2.PingFrame)
	if !ok {
		return [8]byte{}, fmt.Errorf("read %v, want a PING", fh.Type)
	}
	return p.Data, nil
}

// socketHas reports whether at least n bytes wait unread in raw's receive
// queue (FIONREAD). It runs on Eventually's goroutine, so it fails no test:
// an error only means it cannot tell yet.
func socketHas(raw syscall.RawConn, n int) bool {
	var avail int32
	err := raw.Control(func(fd uintptr) {
		syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&avail)))
	})
	return err == nil && int(avail) >= n
}
