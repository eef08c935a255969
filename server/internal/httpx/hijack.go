//go:build !js

package httpx

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// ErrNotHijackable is returned by HijackStream for a request whose
// connection cannot be taken over: not a GET (a HEAD's response has no
// body), not HTTP/1.1 (HTTP/2 cannot be hijacked; HTTP/1.0 has no
// chunked encoding), a request with a body, or a ResponseWriter without
// Hijack. The response is untouched: serve it through w.
var ErrNotHijackable = errors.New("httpx: the response cannot be hijacked")

// ErrStreamClosed is returned by Stream.WriteChunk after Close or a
// failed write.
var ErrStreamClosed = errors.New("httpx: stream closed")

// ChunkHead is the room WriteChunk needs in front of a chunk's data.
const ChunkHead = 10

// Stream is a chunked HTTP/1.1 response written straight to its
// connection, after net/http let go of it (HijackStream): net/http's
// goroutine, its buffered reader and writer and the response's chunking
// buffer are gone, so an idle stream holds the connection and nothing
// else. Writes are serialized; each finishes, or fails, within the
// timeout (half to all of it: writeDeadline).
type Stream struct {
	conn  net.Conn
	early bool   // the client had sent bytes before the hijack
	head  []byte // the response head, written with the first chunk

	mu     sync.Mutex
	wd     writeDeadline // of each write
	closed bool          // by Close or a failed write
	gone   bool          // the client went (WaitGone)
}

// HijackStream takes over the connection of r, whose response has not
// started, and writes the response head: status 200, the headers of
// w.Header() (set by middleware and the caller), Date as net/http would,
// "Transfer-Encoding: chunked" and "Connection: close" (the connection
// is not reused), with the first chunk. Each write waits at most
// timeout (at least half of it). On ErrNotHijackable nothing was written and w serves the
// response as usual.
func HijackStream(w http.ResponseWriter, r *http.Request, timeout time.Duration) (*Stream, error) {
	if r.Method != http.MethodGet || !r.ProtoAtLeast(1, 1) || r.ProtoMajor != 1 || r.ContentLength != 0 || len(r.TransferEncoding) > 0 {
		return nil, ErrNotHijackable
	}
	hd := w.Header().Clone()
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, ErrNotHijackable
	}
	// Bytes the client sent after the request (an event stream never
	// sends any) end the stream at once; net/http's buffers are dropped
	// here with brw.
	early := brw.Reader.Buffered() > 0
	*brw.Reader, *brw.Writer = bufio.Reader{}, bufio.Writer{}
	if _, ok := hd["Date"]; !ok {
		hd.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	}
	hd.Del("Content-Length")
	hd.Set("Transfer-Encoding", "chunked")
	hd.Set("Connection", "close")
	head := &headWriter{b: []byte("HTTP/1.1 200 OK\r\n")}
	hd.Write(head)
	head.b = append(head.b, "\r\n"...)
	return &Stream{conn: conn, wd: writeDeadline{timeout: timeout}, early: early, head: head.b}, nil
}

type headWriter struct{ b []byte }

func (h *headWriter) Write(p []byte) (int, error) { h.b = append(h.b, p...); return len(p), nil }

// WriteChunk writes b[ChunkHead:] as one chunk, in one write: b's first
// ChunkHead bytes are room for the chunk's size line (their content is
// overwritten), and the chunk's CRLF is appended to b. An empty chunk is
// not written (it would end the response).
func (s *Stream) WriteChunk(b []byte) error {
	if len(b) < ChunkHead {
		return errors.New("httpx: WriteChunk wants ChunkHead bytes of room")
	}
	n := len(b) - ChunkHead
	if n == 0 {
		return nil
	}
	var size [ChunkHead]byte
	line := append(strconv.AppendUint(size[:0], uint64(n), 16), '\r', '\n')
	start := ChunkHead - len(line)
	copy(b[start:], line)
	return s.write(append(b, '\r', '\n')[start:])
}

func (s *Stream) write(b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrStreamClosed
	}
	if s.head != nil {
		b = append(s.head, b...)
		s.head = nil
	}
	s.wd.before(s.conn)
	if _, err := s.conn.Write(b); err != nil {
		s.closed = true
		return err
	}
	return nil
}

// WaitGone blocks until the client closes the connection, resets it or
// sends anything (a stream's client never sends on it), or ctx ends; it
// reports whether the client went (false when ctx ended). It parks in a
// shallow frame (WaitReadable) where it can, else reads one byte.
func (s *Stream) WaitGone(ctx context.Context) bool {
	if !s.early {
		stop := context.AfterFunc(ctx, func() { s.conn.SetReadDeadline(time.Unix(1, 0)) })
		if _, ok := s.conn.(syscall.Conn); ok {
			WaitReadable(s.conn)
		} else { // a TLS or wrapped connection
			var b [1]byte
			s.conn.Read(b[:])
		}
		stop()
		if ctx.Err() != nil {
			return false
		}
	}
	s.mu.Lock()
	s.gone = true
	s.mu.Unlock()
	return true
}

// Close ends the response with its terminating chunk (unless the client
// went or a write failed) and closes the connection.
func (s *Stream) Close() error {
	s.mu.Lock()
	skip := s.closed || s.gone
	s.mu.Unlock()
	if !skip {
		s.write([]byte("0\r\n\r\n"))
	}
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return s.conn.Close()
}

// Abort closes the connection without the terminating chunk: the client
// sees the response cut.
func (s *Stream) Abort() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return s.conn.Close()
}
