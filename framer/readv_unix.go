//go:build unix && !linux

package framer

import "syscall"

// readv2 reads from fd into a; b is left for the next read (readv is used
// on Linux only).
func readv2(fd uintptr, a, _ []byte) (int, error) {
	n, err := syscall.Read(int(fd), a)
	if err != nil {
		return 0, err
	}
	return n, nil
}
