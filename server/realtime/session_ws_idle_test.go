//go:build !js

package realtime_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/cometwasm/comet/server/realtime"
)

// rawWS is a WebSocket client with no goroutine: a TCP connection that
// wrote the handshake and reads on demand.
type rawWS struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

// dialRaw opens path on host and reads until the bytes hold until.
func dialRaw(t testing.TB, host, path, until string) *rawWS {
	t.Helper()
	c, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	req := "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	w := &rawWS{t: t, c: c, br: bufio.NewReaderSize(c, 512)}
	w.until(until)
	return w
}

// until reads until the bytes read hold s.
func (w *rawWS) until(s string) {
	w.t.Helper()
	w.c.SetReadDeadline(time.Now().Add(20 * time.Second))
	defer w.c.SetReadDeadline(time.Time{})
	var got []byte
	for !bytes.Contains(got, []byte(s)) {
		b, err := w.br.ReadByte()
		if err != nil {
			w.t.Fatalf("waiting for %q: %v after %q", s, err, got)
		}
		got = append(got, b)
	}
}

// send writes p as one masked text frame (or of opcode op).
func (w *rawWS) send(op byte, p []byte) {
	w.t.Helper()
	key := [4]byte{1, 2, 3, 4}
	f := []byte{0x80 | op, 0x80 | byte(len(p))}
	f = append(f, key[:]...)
	for i, b := range p {
		f = append(f, b^key[i%4])
	}
	if _, err := w.c.Write(f); err != nil {
		w.t.Fatal(err)
	}
}

// TestSessionWSIdleFootprint: an idle session WebSocket is held by one
// goroutine whose stack stays at the runtime's minimum (2 KiB), from its
// start and after it read and answered a command (the stack grown by the
// command's handling is not the one left waiting). Before (a goroutine
// parked inside coder/websocket's reader) it was 8 KiB per connection.
func TestSessionWSIdleFootprint(t *testing.T) {
	n := newNode(t, realtime.Config{Streams: realtime.NewStreamLimiter(1000, 1000)})
	host := strings.TrimPrefix(n.srv.URL, "http://")
	outer := t // the connections live until the end
	// Each case adds its connections to the last case's, on one server.
	for _, tc := range []struct {
		name     string
		command  bool
		maxStack float64 // bytes per connection; the race detector's frames are larger
	}{
		{"idle since connected", false, 3 << 10},
		{"after a command", true, 4 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const conns = 300
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			g0 := runtime.NumGoroutine()
			for range conns {
				w := dialRaw(outer, host, "/realtime/session/ws?sub=1,idle", `"op":"sub"`)
				if tc.command {
					w.send(0x1, []byte(`{"op":"sub","t":2,"topic":"idle2"}`))
					w.until(`"t":2`)
				}
			}
			eventually(t, "the connections' goroutines settle", func() bool { return runtime.NumGoroutine()-g0 <= conns })
			runtime.GC()
			runtime.GC()
			runtime.ReadMemStats(&after)
			perGoroutines := float64(runtime.NumGoroutine()-g0) / conns
			perStack := float64(int64(after.StackInuse)-int64(before.StackInuse)) / conns
			t.Logf("per idle session WebSocket: %.2f goroutines, %.0f B of stack", perGoroutines, perStack)
			if perGoroutines > 1.0 {
				t.Errorf("%.2f goroutines per idle connection, want at most 1", perGoroutines)
			}
			max := tc.maxStack
			if raceBuild {
				max *= 1.5
			}
			if perStack > max {
				t.Errorf("%.0f B of stack per idle connection, want at most %.0f", perStack, max)
			}
		})
	}
}

// TestSessionWSPings: the server pings an idle session WebSocket; a
// client that answers stays connected across many ping intervals and
// its pongs never reach coder/websocket as messages; one that does not
// answer is dropped.
func TestSessionWSPings(t *testing.T) {
	n := newNode(t, realtime.Config{PingInterval: 20 * time.Millisecond, PingTimeout: 200 * time.Millisecond})
	host := strings.TrimPrefix(n.srv.URL, "http://")
	t.Run("answered", func(t *testing.T) {
		w := dialRaw(t, host, "/realtime/session/ws?sub=1,pings", `"op":"sub"`)
		for range 20 { // each ping answered by a pong
			w.c.SetReadDeadline(time.Now().Add(20 * time.Second))
			for {
				b, err := w.br.ReadByte()
				if err != nil {
					t.Fatalf("waiting for a ping: %v", err)
				}
				if b == 0x89 {
					break
				}
			}
			if l, _ := w.br.ReadByte(); l != 0 {
				t.Fatalf("a ping with %d payload bytes, want 0", l)
			}
			w.send(0xa, []byte("pong"))
		}
		// Still served: a command is answered.
		w.c.SetReadDeadline(time.Time{})
		w.send(0x1, []byte(`{"op":"sub","t":2,"topic":"pings2"}`))
		w.until(`"t":2`)
	})
	t.Run("unanswered", func(t *testing.T) {
		w := dialRaw(t, host, "/realtime/session/ws?sub=1,pings", `"op":"sub"`)
		w.c.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, err := io.Copy(io.Discard, w.br) // pings, then the end
		if err != nil {
			t.Fatalf("reading until the server drops the connection: %v", err)
		}
	})
}

// TestSessionWSIdlePastWriteTimeout: a session WebSocket left idle for
// longer than StreamWriteTimeout still writes: coder/websocket's pong to
// a client ping, a command's answer and a message all arrive (the write
// deadline is renewed before each writer, never left in the past).
func TestSessionWSIdlePastWriteTimeout(t *testing.T) {
	n := newNode(t, realtime.Config{StreamWriteTimeout: 100 * time.Millisecond})
	ctx := testCtx(t)
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(n.url, "http")+"session/ws?sub=1,idlewrite", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	got := make(chan []byte, 16)
	go func() { // reads, and so takes the pongs
		defer close(got)
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				return
			}
			got <- b
		}
	}()
	until := func(s string) {
		t.Helper()
		for b := range got {
			if bytes.Contains(b, []byte(s)) {
				return
			}
		}
		t.Fatalf("the connection ended before %q", s)
	}
	until(`"op":"sub"`)
	publish(t, n.h.Broker(), "idlewrite", `"first"`)
	until(`"first"`)
	time.Sleep(400 * time.Millisecond) // 4 write timeouts
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.Ping(pctx); err != nil {
		t.Fatalf("ping after an idle spell: %v", err)
	}
	c.Write(ctx, websocket.MessageText, []byte(`{"op":"sub","t":2,"topic":"idlewrite2"}`))
	until(`"t":2`)
	time.Sleep(400 * time.Millisecond)
	publish(t, n.h.Broker(), "idlewrite", `"second"`)
	until(`"second"`)
}

// TestSessionWSCloses: the session's end closes its WebSocket with the
// status that says why, sent by the goroutine that reads.
func TestSessionWSCloses(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(n *node, c *websocket.Conn)
		want websocket.StatusCode
	}{
		{"shutdown", func(n *node, _ *websocket.Conn) { n.h.Close() }, websocket.StatusGoingAway},
		{"binary message", func(_ *node, c *websocket.Conn) {
			c.Write(context.Background(), websocket.MessageBinary, []byte("x"))
		}, websocket.StatusUnsupportedData},
		{"client close", func(_ *node, c *websocket.Conn) { c.Close(4000, "bye") }, 4000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNode(t, realtime.Config{})
			ctx := testCtx(t)
			u := "ws" + strings.TrimPrefix(n.url, "http") + "session/ws?sub=1,closes"
			c, _, err := websocket.Dial(ctx, u, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			read := func() error {
				for {
					_, b, err := c.Read(ctx)
					if err != nil {
						return err
					}
					if bytes.Contains(b, []byte(`"op":"sub"`)) {
						return nil
					}
				}
			}
			if err := read(); err != nil {
				t.Fatal(err)
			}
			sessions := n.h.Sessions()
			tc.end(n, c)
			err = read()
			if tc.name == "client close" { // our own close: the handshake's answer
				if got := websocket.CloseStatus(err); got != tc.want && !errors.Is(err, net.ErrClosed) {
					t.Fatalf("read after close: %v", err)
				}
			} else if got := websocket.CloseStatus(err); got != tc.want {
				t.Fatalf("closed with %v (%v), want %v", got, err, tc.want)
			}
			eventually(t, "the session ends", func() bool { return n.h.Sessions() < sessions })
		})
	}
}

// TestTopicWSIdle: an idle single-topic WebSocket (/realtime/ws) on the
// memory broker holds one goroutine (httpx.IdleWS's reader; the topic is
// followed in the broker's callbacks, wsFeed) and less live heap than
// before (no write or read buffer of its own, no follower's deadline
// context); the stack is logged, not bounded. A client message closes
// with 1008, the Handler's end with 1001.
func TestTopicWSIdle(t *testing.T) {
	n := newNode(t, realtime.Config{Streams: realtime.NewStreamLimiter(1000, 1000)})
	host := strings.TrimPrefix(n.srv.URL, "http://")
	t.Run("footprint", func(t *testing.T) {
		const conns = 300
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		g0 := runtime.NumGoroutine()
		for range conns {
			dialRaw(t, host, "/realtime/ws?topic=idle", `_open`)
		}
		eventually(t, "the connections' goroutines settle", func() bool { return runtime.NumGoroutine()-g0 <= conns })
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&after)
		perGoroutines := float64(runtime.NumGoroutine()-g0) / conns
		perStack := float64(int64(after.StackInuse)-int64(before.StackInuse)) / conns
		perHeap := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / conns
		t.Logf("per idle single-topic WebSocket: %.2f goroutines, %.0f B of stack, %.0f B of live heap (the test's client conns included)", perGoroutines, perStack, perHeap)
		if perGoroutines > 1.0 {
			t.Errorf("%.2f goroutines per idle connection, want at most 1", perGoroutines)
		}
		// No write buffer, read buffer, CloseRead context, context per
		// write or follower is held: 10.8 KiB, then 7.0 KiB with a
		// follower goroutine, 5.6 KiB without, on this machine.
		if perHeap > 7<<10 {
			t.Errorf("%.0f B of live heap per idle connection, want at most 7 KiB", perHeap)
		}
	})
	for _, tc := range []struct {
		name string
		end  func(c *websocket.Conn)
		want websocket.StatusCode
	}{
		{"client message", func(c *websocket.Conn) { c.Write(context.Background(), websocket.MessageText, []byte("hi")) }, websocket.StatusPolicyViolation},
		{"shutdown", func(*websocket.Conn) { n.h.Close() }, websocket.StatusGoingAway},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(n.url, "http")+"ws?topic=closes", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			if _, b, err := c.Read(ctx); err != nil || !bytes.Contains(b, []byte(`_open`)) {
				t.Fatalf("first frame %q, %v; want _open", b, err)
			}
			tc.end(c)
			for {
				_, _, err = c.Read(ctx)
				if err != nil {
					break
				}
			}
			if got := websocket.CloseStatus(err); got != tc.want {
				t.Fatalf("closed with %v (%v), want %v", got, err, tc.want)
			}
		})
	}
}
