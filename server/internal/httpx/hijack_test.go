//go:build !js

package httpx

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// unwrapper hides w's methods but Unwrap, as middleware does.
type unwrapper struct{ w http.ResponseWriter }

func (u unwrapper) Header() http.Header         { return u.w.Header() }
func (u unwrapper) Write(b []byte) (int, error) { return u.w.Write(b) }
func (u unwrapper) WriteHeader(code int)        { u.w.WriteHeader(code) }
func (u unwrapper) Unwrap() http.ResponseWriter { return u.w }

func chunk(s string) []byte { return append(make([]byte, ChunkHead), s...) }

// streamHandler streams two chunks on a hijacked connection, then waits
// for the client to go when the query has "wait" (reporting to gone),
// or ends the response; a request it cannot hijack is answered through
// w with "not hijacked".
func streamHandler(t *testing.T, gone chan<- bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Mw", "1")
		st, err := HijackStream(unwrapper{w}, r, time.Minute)
		if errors.Is(err, ErrNotHijackable) {
			w.Write([]byte("not hijacked"))
			return
		}
		if err != nil {
			t.Error(err)
			return
		}
		if err := st.WriteChunk(chunk("")); err != nil { // writes nothing
			t.Error(err)
		}
		st.WriteChunk(chunk("hello "))
		st.WriteChunk(chunk(strings.Repeat("x", 300)))
		if r.URL.Query().Has("wait") {
			go func() {
				gone <- st.WaitGone(context.Background())
				st.Close()
			}()
			return
		}
		st.Close()
		if err := st.WriteChunk(chunk("late")); !errors.Is(err, ErrStreamClosed) {
			t.Errorf("a write after Close: %v", err)
		}
	})
}

// TestHijackStream: over HTTP/1.1 (through a wrapper that only has
// Unwrap) the stream writes the head with the headers set before, Date,
// chunked encoding and Connection: close, then its chunks, then the
// terminating chunk. HEAD, a request with a body, HTTP/1.0 and HTTP/2
// are refused with ErrNotHijackable and answered through w.
func TestHijackStream(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(streamHandler(t, nil))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body) // an error unless the terminating chunk came
	resp.Body.Close()
	if err != nil || string(body) != "hello "+strings.Repeat("x", 300) {
		t.Fatalf("body %q, %v", body, err)
	}
	if resp.ProtoMajor != 1 || resp.Header.Get("X-Mw") != "1" || resp.Header.Get("Content-Type") != "text/plain" ||
		len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" || !resp.Close {
		t.Fatalf("%s, headers %v, transfer encoding %v, close %v", resp.Proto, resp.Header, resp.TransferEncoding, resp.Close)
	}
	if _, err := http.ParseTime(resp.Header.Get("Date")); err != nil {
		t.Fatalf("Date: %v", err)
	}

	notHijacked := func(what string, resp *http.Response, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.Request.Method == http.MethodHead {
			b = []byte("not hijacked") // no body to see; a hijacked HEAD would have sent one and cut the connection
		}
		if string(b) != "not hijacked" || resp.Close && resp.ProtoMajor == 1 && resp.ProtoMinor == 1 {
			t.Fatalf("%s: %q, close %v", what, b, resp.Close)
		}
	}
	resp, err = http.Head(srv.URL)
	notHijacked("HEAD", resp, err)
	resp, err = http.Post(srv.URL, "text/plain", strings.NewReader("a body"))
	notHijacked("a request with a body", resp, err)

	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.0\r\nHost: x\r\n\r\n")
	b, _ := io.ReadAll(c)
	if !strings.HasSuffix(string(b), "\r\n\r\nnot hijacked") {
		t.Fatalf("HTTP/1.0: %q", b)
	}

	h2 := httptest.NewUnstartedServer(streamHandler(t, nil))
	h2.EnableHTTP2 = true
	h2.StartTLS()
	defer h2.Close()
	resp, err = h2.Client().Get(h2.URL)
	if err == nil && resp.ProtoMajor != 2 {
		t.Fatalf("served over %s, want HTTP/2", resp.Proto)
	}
	notHijacked("HTTP/2", resp, err)
}

// TestHijackStreamWaitGone: WaitGone returns true once the client closes
// its connection or sends a byte, and false when its context ends.
func TestHijackStreamWaitGone(t *testing.T) {
	t.Parallel()
	gone := make(chan bool, 1)
	srv := httptest.NewServer(streamHandler(t, gone))
	defer srv.Close()
	for _, how := range []string{"close", "byte"} {
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "GET /?wait HTTP/1.1\r\nHost: x\r\n\r\n")
		b := make([]byte, 64)
		if _, err := io.ReadAtLeast(c, b, 20); err != nil {
			t.Fatal(err)
		}
		if how == "close" {
			c.Close()
		} else {
			c.Write([]byte("x"))
		}
		if !<-gone {
			t.Fatalf("%s: WaitGone reported false", how)
		}
		c.Close()
	}

	a, b := net.Pipe() // no file descriptor: WaitGone reads a byte
	defer a.Close()
	defer b.Close()
	st := &Stream{conn: a, wd: writeDeadline{timeout: time.Minute}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan bool)
	go func() { done <- st.WaitGone(ctx) }()
	cancel()
	if <-done {
		t.Fatal("WaitGone reported the client gone when its context ended")
	}
}
