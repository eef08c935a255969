//go:build unix && !js

package httpx

import "syscall"

// peekReady reports whether a read of fd would not block: one byte is
// peeked (MSG_PEEK leaves it in the socket), and 0 bytes is EOF.
func peekReady(fd uintptr) (bool, error) {
	var b [1]byte
	for {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch err {
		case nil:
			return true, nil
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false, nil
		default:
			return true, err
		}
	}
}
