//go:build linux

package framer

import (
	"syscall"
	"unsafe"
)

// readv2 reads from fd into a, then b, with one readv.
func readv2(fd uintptr, a, b []byte) (int, error) {
	var iov [2]syscall.Iovec
	iov[0].Base, iov[1].Base = &a[0], &b[0]
	iov[0].SetLen(len(a))
	iov[1].SetLen(len(b))
	n, _, e := syscall.Syscall(syscall.SYS_READV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
