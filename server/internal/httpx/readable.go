//go:build !js

package httpx

import (
	"net"
	"syscall"
)

// WaitReadable blocks until c has bytes to read, has reached EOF or has
// failed, without reading anything: a connection's long-lived goroutine
// parks here between messages in a shallow frame, so its stack stays
// small, instead of inside a deep reader. It returns nil when a read
// would not block (data or EOF) and the error of a closed or failed
// connection otherwise. A connection that is not a syscall.Conn (a TLS
// one, a test pipe) returns nil at once: the caller's read then waits.
//
// Bytes buffered in user space (a bufio.Reader in front of c) are not
// seen: check those first.
func WaitReadable(c net.Conn) error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var peekErr error
	err = rc.Read(func(fd uintptr) bool {
		ready, err := peekReady(fd)
		peekErr = err
		return ready
	})
	if err != nil {
		return err
	}
	return peekErr
}
