//go:build unix

package framer

import (
	"io"
	"net"
	"syscall"

	"github.com/h2rpc/h2rpc/internal/bufpool"
)

// socketOf returns the raw socket under src if src is exactly a TCP or
// Unix connection. Wrappers are read through their own Read even if they
// expose the socket: they may hold bytes of their own.
func socketOf(src io.Reader) syscall.RawConn {
	var sc syscall.Conn
	switch c := src.(type) {
	case *net.TCPConn:
		sc = c
	case *net.UnixConn:
		sc = c
	default:
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}

// readSocket is the RawConn.Read callback: it takes a pooled buffer, reads
// into it (after r.around, if set, with one readv), and if the socket had
// nothing gives the buffer back before reporting false, so that waiting
// for data pins no buffer.
func (r *Reader) readSocket(fd uintptr) bool {
	if r.busy == nil {
		r.busy = bufpool.Get(busyBufSize)
		r.buf = *r.busy
	}
	for {
		var n int
		var err error
		if r.around != nil {
			n, err = readv2(fd, r.around, r.buf)
		} else {
			n, err = syscall.Read(int(fd), r.buf)
		}
		switch err {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			bufpool.Put(r.busy)
			r.busy, r.buf = nil, nil
			r.waiting()
			return false
		}
		r.rawN, r.rawErr = int32(max(n, 0)), err // n <= len(around)+len(buf) < 2^31
		return true
	}
}
