//go:build !js

package httpx

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// TestWaitReadable waits on a real loopback TCP connection: it returns
// once a byte arrives and leaves that byte to be read, returns at EOF,
// and returns an error for a closed connection.
func TestWaitReadable(t *testing.T) {
	client, server := loopbackPair(t)

	done := make(chan error, 1)
	go func() { done <- WaitReadable(server) }()
	select {
	case err := <-done:
		t.Fatalf("returned before anything was sent: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	if _, err := client.Write([]byte("xy")); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("after a write: %v", err)
	}
	if err := WaitReadable(server); err != nil { // still readable: nothing was consumed
		t.Fatalf("second wait: %v", err)
	}
	b := make([]byte, 2)
	if _, err := io.ReadFull(server, b); err != nil || string(b) != "xy" {
		t.Fatalf("read %q, %v; want the bytes left in place", b, err)
	}

	go func() { done <- WaitReadable(server) }()
	client.Close()
	if err := <-done; err != nil {
		t.Fatalf("at EOF: %v", err)
	}
	if n, err := server.Read(b); n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("read after EOF: %d, %v", n, err)
	}

	server.Close()
	if err := WaitReadable(server); err == nil {
		t.Fatal("a closed connection: want an error")
	}
}

// TestWaitReadableNotSyscallConn returns at once for a connection
// without a file descriptor.
func TestWaitReadableNotSyscallConn(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if err := WaitReadable(a); err != nil {
		t.Fatal(err)
	}
}

// loopbackPair returns the two ends of a real TCP connection on
// 127.0.0.1, closed when the test ends.
func loopbackPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	return client, server
}
