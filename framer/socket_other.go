//go:build !unix

package framer

import (
	"io"
	"syscall"
)

// socketOf finds no socket to read directly on this platform: the Reader
// reads through src.
func socketOf(io.Reader) syscall.RawConn { return nil }

func (r *Reader) readSocket(uintptr) bool { panic("framer: no socket reads on this platform") }

func readv2(uintptr, []byte, []byte) (int, error) {
	panic("framer: no socket reads on this platform")
}
