//go:build !js

package realtime_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cometwasm/comet/server/realtime"
	"github.com/cometwasm/comet/server/realtime/auth"
	"github.com/cometwasm/comet/server/wire"
)

// rawGet sends GET target over HTTP/proto on a TCP connection of its own
// to n and reads the response head, which must be 200.
func rawGet(t testing.TB, n *node, target, proto string) (*http.Response, net.Conn) {
	t.Helper()
	addr := n.srv.Listener.Addr().String()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(c, "GET "+target+" HTTP/"+proto+"\r\nHost: "+addr+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", target, resp.Status)
	}
	return resp, c
}

// rawStream opens session/KIND?q on n over a TCP connection of its own,
// speaking HTTP/proto ("1.1" or "1.0"), and reads the response head and
// the hello. No goroutine of the test serves the connection.
func rawStream(t testing.TB, n *node, kind, q, proto string) (*client, *http.Response, net.Conn) {
	t.Helper()
	resp, c := rawGet(t, n, "/realtime/session/"+kind+"?"+q, proto)
	cl := newClient(t, streamReader(kind, bufio.NewReader(resp.Body)))
	cl.close = func() { c.Close() }
	cl.hello = cl.frame(wire.OpHello)
	cl.send = func(cmds ...wire.Command) {
		t.Helper()
		if status, body := postCmd(t, n, cl.hello.Session, cmds...); status != http.StatusAccepted {
			t.Fatalf("POST session/cmd: %d %s", status, body)
		}
	}
	return cl, resp, c
}

// stackInuse is the bytes of goroutine stacks, after a collection.
func stackInuse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.StackInuse)
}

// rawFeed opens a single-topic stream (path under /realtime/) on n
// over a TCP connection of its own and reads until its "_open".
func rawFeed(t testing.TB, n *node, path string) net.Conn {
	t.Helper()
	resp, c := rawGet(t, n, "/realtime/"+path, "1.1")
	br := bufio.NewReader(resp.Body)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		if strings.Contains(line, wire.TypeOpen) {
			return c
		}
	}
}

// TestOneWayIdleFootprint: an idle one-way session over HTTP/1.1, and a
// single-topic stream on the memory broker (followed in its callbacks),
// holds one goroutine on the server, in a shallow frame, for the client's
// leaving: net/http's goroutine (its deep stack, buffers and background
// read) has ended. Not parallel: it counts the process's goroutines.
func TestOneWayIdleFootprint(t *testing.T) {
	for _, tc := range []struct {
		name       string
		goroutines int   // per connection
		maxStack   int64 // per connection, twice as much with -race
		open       func(t *testing.T, n *node) io.Closer
	}{
		{"session/sse", 1, 3 << 10, func(t *testing.T, n *node) io.Closer {
			cl, _, c := rawStream(t, n, "sse", "sub=1,idle,", "1.1")
			cl.frame(wire.OpSubscribe)
			return c
		}},
		{"session/stream", 1, 3 << 10, func(t *testing.T, n *node) io.Closer {
			cl, _, c := rawStream(t, n, "stream", "sub=1,idle,", "1.1")
			cl.frame(wire.OpSubscribe)
			return c
		}},
		{"sse", 1, 3 << 10, func(t *testing.T, n *node) io.Closer { return rawFeed(t, n, "sse?topic=idle") }},
		{"stream", 1, 3 << 10, func(t *testing.T, n *node) io.Closer { return rawFeed(t, n, "stream?topic=idle") }},
	} {
		t.Run(strings.ReplaceAll(tc.name, "/", "-"), func(t *testing.T) {
			n := newNode(t, realtime.Config{})
			const conns = 200
			g0 := runtime.NumGoroutine()
			var cs []io.Closer
			for range conns {
				cs = append(cs, tc.open(t, n))
			}
			var g int
			eventually(t, "the goroutines of the idle streams", func() bool {
				g = runtime.NumGoroutine() - g0
				return g <= tc.goroutines*conns+conns/20
			})
			// The stacks the streams hold: what is freed when they end.
			held := stackInuse()
			for _, c := range cs {
				c.Close()
			}
			eventually(t, "the streams end", func() bool { return n.h.Sessions() == 0 && runtime.NumGoroutine() <= g0 })
			stack, limit := (held-stackInuse())/conns, tc.maxStack
			if raceEnabled {
				limit *= 2
			}
			t.Logf("%d streams: %d goroutines, about %d B of stack each", conns, g, stack)
			if stack > limit {
				t.Errorf("%d B of goroutine stack per idle stream, want at most %d", stack, limit)
			}
		})
	}
}

// TestOneWayClientGone: a client that closes its connection, or sends
// anything on it, ends its session at once: its presence leaves (seen
// by another member) and its stream slot is free.
func TestOneWayClientGone(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"sse", "stream"} {
		for _, how := range []string{"close", "bytes"} {
			t.Run(kind+"/"+how, func(t *testing.T) {
				t.Parallel()
				lim := realtime.NewStreamLimiter(2, 2)
				n := newNode(t, realtime.Config{Streams: lim})
				room := topicName(t, 0)
				w := dialWS(t, n, "sub=1,"+room+",,p", nil)
				w.frame(wire.OpSubscribe)
				w.frame(wire.OpJoin) // its own
				cl, _, c := rawStream(t, n, kind, "sub=1,"+room+",,p", "1.1")
				cl.frame(wire.OpSubscribe)
				if j := w.frame(wire.OpJoin); j.Member.Client != cl.hello.Member.Client {
					t.Fatalf("got %+v, want the stream's join", j)
				}
				if how == "close" {
					c.Close()
				} else if _, err := io.WriteString(c, "x"); err != nil {
					t.Fatal(err)
				}
				if l := w.frame(wire.OpLeave); l.Member.Client != cl.hello.Member.Client {
					t.Fatalf("got %+v, want the stream's leave", l)
				}
				eventually(t, "the session ends and frees its slot", func() bool { return n.h.Sessions() == 1 && lim.Count() == 1 })
				// Both slots are free again: the WebSocket's and one more.
				cl2, _, _ := rawStream(t, n, kind, "", "1.1")
				if status, _ := get(t, n, "session/"+kind); status != http.StatusServiceUnavailable {
					t.Fatalf("a third stream: %d, want 503 (the limit is 2)", status)
				}
				cl2.close()
			})
		}
	}
}

// TestOneWayHijackedResponse: the hijacked response carries the headers
// middleware and the handler set, Date, chunked encoding and
// "Connection: close"; it streams messages and commands, and the
// Handler's Close ends it with the terminating chunk.
func TestOneWayHijackedResponse(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"sse", "stream"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			h, err := realtime.New(realtime.Config{Logf: t.Logf})
			if err != nil {
				t.Fatal(err)
			}
			mux := http.NewServeMux()
			mux.Handle("/realtime/", http.StripPrefix("/realtime", h))
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Frame-Options", "DENY")
				w.Header().Add("X-Test", "a")
				w.Header().Add("X-Test", "b")
				mux.ServeHTTP(w, r)
			}))
			t.Cleanup(func() { h.Close(); srv.Close() })
			n := &node{h: h, srv: srv, url: srv.URL + "/realtime/"}
			topic := topicName(t, 0)
			cl, resp, _ := rawStream(t, n, kind, "sub=1,"+topic+",", "1.1")
			want := map[string]string{"X-Frame-Options": "DENY", "X-Test": "a,b", "Cache-Control": "no-cache", "X-Accel-Buffering": "no",
				"Content-Type": "text/plain; charset=utf-8"}
			if kind == "sse" {
				want["Content-Type"] = "text/event-stream; charset=utf-8"
			}
			for k, v := range want {
				if got := strings.Join(resp.Header.Values(k), ","); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if d, err := http.ParseTime(resp.Header.Get("Date")); err != nil || d.IsZero() {
				t.Errorf("Date %q: %v", resp.Header.Get("Date"), err)
			}
			if len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" || !resp.Close || resp.ProtoMinor != 1 {
				t.Errorf("transfer encoding %v, close %v, proto %s", resp.TransferEncoding, resp.Close, resp.Proto)
			}
			cl.frame(wire.OpSubscribe)
			publish(t, h.Broker(), topic, `"m1"`)
			if m := cl.messages(1)[1]; len(m) != 1 || m[0] != `"m1"` {
				t.Fatalf("got %v", m)
			}
			cl.send(wire.Command{Op: wire.OpPublish, ID: 7, Topic: topic, Data: []byte(`"m2"`)})
			for got := 0; got < 2; { // the ack and the message, in either order
				if l := cl.next(); l.IsMessage && string(l.Data) == `"m2"` || !l.IsMessage && l.Frame.Op == wire.OpPublish && l.Frame.ID == 7 {
					got++
				} else {
					t.Fatalf("got %+v", l)
				}
			}
			h.Close()
			for {
				if _, err := cl.read(); err != nil {
					if !errors.Is(err, io.EOF) {
						t.Fatalf("the stream ended with %v, want its terminating chunk (EOF)", err)
					}
					break
				}
			}
			eventually(t, "the session ends", func() bool { return h.Sessions() == 0 })
		})
	}
}

// TestOneWayFallbacks: where a connection cannot be hijacked (HTTP/2)
// or has no chunked encoding (HTTP/1.0), the session streams from
// net/http's handler as before.
func TestOneWayFallbacks(t *testing.T) {
	t.Parallel()
	t.Run("http2", func(t *testing.T) {
		t.Parallel()
		h, err := realtime.New(realtime.Config{Logf: t.Logf})
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.Handle("/realtime/", http.StripPrefix("/realtime", h))
		srv := httptest.NewUnstartedServer(mux)
		srv.EnableHTTP2 = true
		srv.StartTLS()
		t.Cleanup(func() { h.Close(); srv.Close() })
		n := &node{h: h, srv: srv, url: srv.URL + "/realtime/"}
		hc := srv.Client()
		hc.Transport.(*http.Transport).TLSClientConfig.NextProtos = []string{"h2"}
		topic := topicName(t, 0)
		for _, kind := range []string{"sse", "stream"} {
			cl := openStream(t, n, kind, "sub=1,"+topic+",", n, hc)
			cl.frame(wire.OpSubscribe)
			publish(t, h.Broker(), topic, `"x"`)
			if m := cl.messages(1)[1]; len(m) != 1 || m[0] != `"x"` {
				t.Fatalf("%s: got %v", kind, m)
			}
			cl.close()
		}
		resp, err := hc.Get(n.url + "session/sse")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.ProtoMajor != 2 || resp.TLS == nil || resp.TLS.NegotiatedProtocol != "h2" {
			t.Fatalf("served over %s (%v), want HTTP/2", resp.Proto, resp.TLS != nil)
		}
		eventually(t, "sessions end", func() bool { return h.Sessions() == 0 })
	})
	t.Run("http1.0", func(t *testing.T) {
		t.Parallel()
		n := newNode(t, realtime.Config{})
		topic := topicName(t, 0)
		cl, resp, c := rawStream(t, n, "sse", "sub=1,"+topic+",", "1.0")
		if len(resp.TransferEncoding) != 0 || !resp.Close {
			t.Fatalf("HTTP/1.0 answered with %v, close %v", resp.TransferEncoding, resp.Close)
		}
		cl.frame(wire.OpSubscribe)
		publish(t, n.h.Broker(), topic, `"y"`)
		if m := cl.messages(1)[1]; len(m) != 1 || m[0] != `"y"` {
			t.Fatalf("got %v", m)
		}
		c.Close()
		eventually(t, "the session ends", func() bool { return n.h.Sessions() == 0 })
	})
}

// TestOneWaySlowReader: a client that stops reading a hijacked stream is
// dropped once a write waits StreamWriteTimeout (its kernel send buffer
// is StreamSendBuffer), and its slot is freed: the server does not queue
// what it publishes for it.
func TestOneWaySlowReader(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"sse", "stream"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			lim := realtime.NewStreamLimiter(10, 10)
			h, err := realtime.New(realtime.Config{Logf: t.Logf, Streams: lim, StreamWriteTimeout: 200 * time.Millisecond, StreamSendBuffer: 4 << 10})
			if err != nil {
				t.Fatal(err)
			}
			mux := http.NewServeMux()
			mux.Handle("/realtime/", http.StripPrefix("/realtime", h))
			srv := httptest.NewUnstartedServer(mux)
			srv.Config.ConnContext = realtime.ConnContext
			srv.Start()
			t.Cleanup(func() { h.Close(); srv.Close() })
			n := &node{h: h, srv: srv, url: srv.URL + "/realtime/"}
			topic := topicName(t, 0)
			cl, _, c := rawStream(t, n, kind, "sub=1,"+topic+",", "1.1")
			cl.frame(wire.OpSubscribe)
			c.(*net.TCPConn).SetReadBuffer(4 << 10) // and it reads no more
			big := `"` + strings.Repeat("x", 16<<10) + `"`
			eventually(t, "the session of a reader that stopped ends", func() bool {
				if h.Sessions() == 0 && lim.Count() == 0 {
					return true
				}
				publish(t, h.Broker(), topic, big, big, big, big)
				return false
			})
		})
	}
}

// TestOneWayTokenExpiry: a hijacked stream ends, with its terminating
// chunk, when the identity it authenticated with expires.
func TestOneWayTokenExpiry(t *testing.T) {
	t.Parallel()
	tokens := &auth.Tokens{Secret: []byte("a key of at least 32 random bytes!"), Rules: []auth.Rule{{Pattern: "*", Subscribe: auth.Users, Publish: auth.Users}}}
	n := newNode(t, realtime.Config{Auth: tokens})
	for _, kind := range []string{"sse", "stream"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			tok, err := tokens.Issue("alice", time.Second, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			cl, _, _ := rawStream(t, n, kind, "sub=1,"+topicName(t, 0)+",&token="+tok, "1.1")
			cl.frame(wire.OpSubscribe)
			for {
				if _, err := cl.read(); err != nil {
					if !errors.Is(err, io.EOF) {
						t.Fatalf("the stream ended with %v, want its terminating chunk (EOF)", err)
					}
					break
				}
			}
		})
	}
}

// TestSessionSSEFlush: an SSE session asked with flush=1 sends a
// "_flush" event (empty data) after a burst written as several frames
// (a replay) and none after a burst of one frame; without flush=1 none.
// Over a hijacked connection (HTTP/1.1) and in the handler (HTTP/1.0).
func TestSessionSSEFlush(t *testing.T) {
	t.Parallel()
	for _, proto := range []string{"1.1", "1.0"} {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			n := newNode(t, realtime.Config{})
			if resp, err := http.Get(n.url + "session/sse?flush=2"); err != nil || resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("flush=2: %v %v, want 400", resp, err)
			} else {
				resp.Body.Close()
			}
			data := make([]string, 100)
			for i := range data {
				data[i] = `"` + strings.Repeat("x", 90) + strconv.Itoa(i) + `"`
			}
			r := publish(t, n.h.Broker(), "sfl", data...) // ~10 KB: a replay of several frames
			from := wire.Cursor{Epoch: r.Cursor.Epoch, Offset: r.Cursor.Offset - 100}.String()
			for _, flush := range []bool{true, false} {
				q := "/realtime/session/sse?sub=1,sfl," + from
				if flush {
					q += "&flush=1"
				}
				resp, c := rawGet(t, n, q, proto)
				next := sseEvents(t, bufio.NewReader(resp.Body))
				messages, frames := 0, 0
				for messages < 100 {
					typ, lines := next()
					if typ != "" {
						t.Fatalf("flush=%v: a %q event after %d messages in %d frames", flush, typ, messages, frames)
					}
					frames++
					for _, l := range lines {
						if strings.HasPrefix(l, "1 ") {
							messages++
						}
					}
				}
				if frames < 3 {
					t.Fatalf("the replay took %d frames (hello included), want several", frames)
				}
				if flush {
					if typ, lines := next(); typ != wire.SSEFlush || len(lines) != 0 {
						t.Fatalf("after the replay: event %q %q, want %q with empty data", typ, lines, wire.SSEFlush)
					}
				}
				publish(t, n.h.Broker(), "sfl", `1`, `2`)
				if typ, lines := next(); typ != "" || len(lines) != 2 {
					t.Fatalf("flush=%v: event %q %q, want a frame of the two messages", flush, typ, lines)
				}
				publish(t, n.h.Broker(), "sfl", `3`) // no flush after one frame: this comes next
				if typ, lines := next(); typ != "" || len(lines) != 1 || lines[0] != "1 3" {
					t.Fatalf("flush=%v: event %q %q, want the frame of message 3", flush, typ, lines)
				}
				c.Close()
			}
		})
	}
}
