//go:build !js

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/cometwasm/comet/server/realtime"
	"github.com/cometwasm/comet/server/wire"
)

// issue14Cases are the attacks of issue 14 that fit the shared table
// (hostileConfig); the ones that need their own server follow as tests.
func issue14Cases() []hostileCase {
	getPath := func(path string, headers ...string) func(*testing.T, *testServer) (outcome, *http.Response) {
		return func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			return send(t, "GET", ts.URL+strings.ReplaceAll(path, "HEAD", headCursor(t, ts)), "", headers...)
		}
	}
	publish := func(body string) func(*testing.T, *testServer) (outcome, *http.Response) {
		return func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			return send(t, "POST", ts.URL+"/realtime/publish", body, "Content-Type", "application/json")
		}
	}
	rebound := func(req string) func(*testing.T, *testServer) (outcome, *http.Response) {
		return func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			return reboundRequest(t, ts, req), nil
		}
	}
	return []hostileCase{
		// Item 1: a page on evil.example rebound to 127.0.0.1 sends Host and
		// Origin of its own name.
		{name: "14.1 DNS rebinding: publish", attack: rebound("POST /realtime/publish HTTP/1.1\r\nHost: EVIL\r\nOrigin: http://EVIL\r\nContent-Type: text/plain\r\nContent-Length: 28\r\n\r\n{\"topic\":\"h14\",\"data\":\"pwn\"}"),
			want: outcome{421, "is not a name of this server"}},
		{name: "14.1 DNS rebinding: SSE", attack: rebound("GET /realtime/sse?topic=h14 HTTP/1.1\r\nHost: EVIL\r\nOrigin: http://EVIL\r\n\r\n"),
			want: outcome{421, "is not a name of this server"}},
		{name: "14.1 DNS rebinding: session WebSocket (the chat's)", attack: rebound("GET /realtime/session/ws HTTP/1.1\r\nHost: EVIL\r\nOrigin: http://EVIL\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"),
			want: outcome{421, "is not a name of this server"}},
		{name: "14.1 DNS rebinding: the page itself", attack: rebound("GET / HTTP/1.1\r\nHost: EVIL\r\n\r\n"),
			want: outcome{421, "is not a name of this server"}},
		{name: "14.1 Origin equal to a foreign Host on the own name is no trust", attack: rebound("POST /realtime/publish HTTP/1.1\r\nHost: OWN\r\nOrigin: http://EVIL\r\nContent-Type: text/plain\r\nContent-Length: 28\r\n\r\n{\"topic\":\"h14\",\"data\":\"pwn\"}"),
			want: outcome{403, "origin not allowed by CORS"}},
		{name: "14.1 WebSocket with Origin and Host of one foreign name on the library path", attack: rebound("GET /ws/realtime?topic=h14 HTTP/1.1\r\nHost: EVIL\r\nOrigin: http://EVIL\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"),
			want: outcome{421, "is not a name of this server"}},
		// Item 2: topics the server feeds.
		{name: "14.2 publish forging an admin line into a chat room", attack: forgedChatLine("chat:h14lobby"),
			want: outcome{200, "stored with its real sender"}},
		{name: "14.2 publish forging a private chat line", attack: forgedChatLine("dm:h14bob"),
			want: outcome{200, "stored with its real sender"}},
		{name: "14.2 publish into the clock", attack: publish(`{"topic":"clock","type":"tick","data":{"time":"1999-12-31T23:59:59Z"}}`),
			want: outcome{403, `topic "clock" is published by the server only`}},
		{name: "14.2 publish into the countdown", attack: publish(`{"topic":"countdown","data":0}`),
			want: outcome{403, `topic "countdown" is published by the server only`}},
		// Item 3: the retired /ws/chat let a second login take an online
		// userid; on sessions the user is the token's, and another user's
		// private chat topic is refused.
		{name: "14.3 reading another user's private chat topic", attack: func(t *testing.T, _ *testServer) (outcome, *http.Response) {
			ts, token := tokenServer(t)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			eve := dialChat(ctx, t, ts, token("eve"))
			f := eve.join(1, "dm:alice", wire.FromOldest, false)
			if f.Op != wire.OpError {
				return outcome{200, "eve follows dm:alice"}, nil
			}
			return outcome{403, f.Code}, nil
		}, want: outcome{403, wire.CodeForbidden}},
		// Item 9 (a chat client that never reads) is TestHostileChatNonReaders:
		// it needs more sessions than the table's per-IP cap.
		// Item 8: RFC 6455 §8.1: a close reason that is not UTF-8 fails the
		// connection with 1007.
		{name: "14.8 WebSocket close 1000 with an invalid UTF-8 reason", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http")+"/ws/echo?id=h14-8", nil)
			must(t, err)
			defer c.CloseNow()
			must(t, c.Write(ctx, websocket.MessageText, []byte("hi")))
			c.Read(ctx)
			c.Close(websocket.StatusNormalClosure, "\xff\xfe")
			resp, body := get(t, ts.URL+"/test/ws/closed?id=h14-8")
			var info wsCloseInfo
			json.Unmarshal(body, &info)
			return outcome{info.Code, strconv.Quote(info.Reason)}, resp
		}, want: outcome{1007, `"??"`}},
		// Item 7: a request smuggled behind a chunked body with a
		// Content-Length is never answered: the connection closes.
		{name: "14.7 Content-Length with Transfer-Encoding chunked closes the connection", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			host := strings.TrimPrefix(ts.URL, "http://")
			c, err := net.Dial("tcp", host)
			must(t, err)
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(c, "POST /api/ajax4 HTTP/1.1\r\nHost: "+host+"\r\nContent-Type: application/json\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n"+
				"2\r\n{}\r\n0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: "+host+"\r\n\r\n")
			br := bufio.NewReader(c)
			var statuses []string
			for {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					break
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				st := strconv.Itoa(resp.StatusCode)
				if resp.Close {
					st += " close"
				}
				statuses = append(statuses, st)
			}
			return outcome{len(statuses), strings.Join(statuses, ", ")}, nil
		}, want: outcome{1, "200 close"}},
		// Item 4: "Connection: Upgrade" on an ordinary endpoint.
		{name: "14.4 Connection: Upgrade does not lift the body-read deadline", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			chunks := append([]string{"POST /api/ajax4 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n"}, trickle(strings.Repeat(" ", 40))...)
			return raw(t, ts.URL, 100*time.Millisecond, chunks...), nil
		}, want: outcome{408, "request body not received within"}},
		{name: "14.4 a WebSocket-looking upgrade to an ordinary endpoint keeps the body-read deadline", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			chunks := append([]string{"POST /api/ajax4 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n"}, trickle(strings.Repeat(" ", 40))...)
			return raw(t, ts.URL, 100*time.Millisecond, chunks...), nil
		}, want: outcome{408, "request body not received within"}},
		{name: "14.4 Connection: Upgrade does not lift the write deadline", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			return slowReaderWith(t, ts, "Connection: Upgrade\r\nUpgrade: websocket\r\n")
		}, want: outcome{0, "response cut"}},
		// Item 5: 2^58+1000 ms overflows time.Duration to 1 s.
		{name: "14.5 long poll timeout past int64 nanoseconds", attack: getPath("/realtime/longpoll?topic=h14&cursor=HEAD&timeout=288230376151712744"),
			want: outcome{400, "timeout: want milliseconds in [10, 120000]"}},
		{name: "14.5 stream heartbeat past int64 nanoseconds", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			got, resp := streamHeaders(t, ts.URL+"/realtime/stream?topic=h14&heartbeat=288230376151711844")
			if got.status == 400 {
				return send(t, "GET", ts.URL+"/realtime/stream?topic=h14&heartbeat=288230376151711844", "")
			}
			return got, resp
		},
			want: outcome{400, "heartbeat: want milliseconds in [50, 60000]"}},
		{name: "14.5 WebSocket heartbeat past int64 nanoseconds", attack: getPath("/realtime/ws?topic=h14&heartbeat=288230376151711844"),
			want: outcome{400, "heartbeat: want milliseconds in [50, 60000]"}},
		{name: "14.5 xhr delay past int64 nanoseconds", attack: getPath("/api/ajax3?delay=9223372036855"),
			want: outcome{400, "delay: want milliseconds from 0 to 30000"}},
		{name: "14.5 countdown interval past int64 nanoseconds", attack: getPath("/realtime/countdown?interval=288230376151712744"),
			want: outcome{400, "interval: want milliseconds in [10, 60000]"}},
		// Item 6: RFC 9110 §14.1.1: a suffix range of length 0 is unsatisfiable.
		{name: "14.6 Range bytes=-0 on a static file", attack: getPath("/index.html", "Range", "bytes=-0"),
			want: outcome{416, ""}, check: func(t *testing.T, ts *testServer, resp *http.Response) {
				if cr := resp.Header.Get("Content-Range"); !strings.HasPrefix(cr, "bytes */") {
					t.Errorf("Content-Range %q, want bytes */SIZE", cr)
				}
			}},
		{name: "14.6 Range bytes=-0 beside a satisfiable range", attack: getPath("/index.html", "Range", "bytes=-0,0-1"),
			want: outcome{206, ""}, check: func(t *testing.T, ts *testServer, resp *http.Response) {
				if cr := resp.Header.Get("Content-Range"); !strings.HasPrefix(cr, "bytes 0-1/") {
					t.Errorf("Content-Range %q, want bytes 0-1/SIZE", cr)
				}
			}},
	}
}

// headCursor is the head of topic h14 as a cursor string.
func headCursor(t *testing.T, ts *testServer) string {
	c, err := ts.hub.Head("h14")
	must(t, err)
	return c.String()
}

// forgedChatLine publishes over HTTP a line into topic whose data claims
// an admin sender; the stored message must name the real (anonymous)
// publisher, with the claim left as data.
func forgedChatLine(topic string) func(*testing.T, *testServer) (outcome, *http.Response) {
	return func(t *testing.T, ts *testServer) (outcome, *http.Response) {
		o, resp := send(t, "POST", ts.URL+"/realtime/publish", `{"topic":"`+topic+`","type":"msg","data":{"from":{"client":"u.admin","user":"admin"},"data":{"text":"forged"}}}`, "Content-Type", "application/json")
		if o.status != 200 {
			return o, resp
		}
		lines := storedLines(t, ts, topic)
		if len(lines) != 1 || lines[0].From.User == "admin" || lines[0].From.Client == "u.admin" {
			return outcome{-1, "stored as " + strconv.Quote(lines[0].From.User)}, nil
		}
		return outcome{200, "stored with its real sender"}, nil
	}
}

// TestHostileChatNonReaders (issue 14 item 9, on sessions): 8 sessions each follow 16 rooms of 32 x 30 KB history
// from the oldest message and never read (15 MiB each to send, 120 MiB
// in all); the server's live heap grows by less than 64 MiB (each
// session holds about its realtime.Config.SessionQueue: a subscription
// formats its lines straight into the session's queue, so the bound is
// per session however many topics it follows), their slots are freed
// once they close, and a normal client still chats.
func TestHostileChatNonReaders(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	big, _ := json.Marshal(realtime.Sent{From: wire.Member{Client: "x", User: "x"}, Data: json.RawMessage(`{"text":"` + strings.Repeat("m", 30<<10) + `"}`)})
	for r := range 16 {
		for range 32 {
			_, err := ts.hub.Publish("chat:h14big"+strconv.Itoa(r), "msg", big)
			must(t, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var conns []*websocket.Conn
	for range 8 {
		c, _, err := websocket.Dial(ctx, wsURL(ts.URL, "/realtime/session/ws"), &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {ts.URL}}})
		must(t, err)
		defer c.CloseNow()
		for r := range 16 {
			b, _ := json.Marshal(wire.Command{Op: wire.OpSubscribe, T: r + 1, Topic: "chat:h14big" + strconv.Itoa(r), From: wire.FromOldest})
			must(t, c.Write(ctx, websocket.MessageText, b))
		}
		conns = append(conns, c)
	}
	var peak uint64
	for range 30 { // 3s, sampled
		time.Sleep(100 * time.Millisecond)
		runtime.GC()
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapAlloc)
	}
	grew := int64(peak) - int64(base)
	t.Logf("live heap grew by %d bytes while 8 sessions did not read 120 MiB", grew)
	for _, c := range conns {
		c.CloseNow()
	}
	deadline := time.Now().Add(15 * time.Second)
	for ts.streams.Count() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := ts.streams.Count(); n > 0 {
		t.Fatalf("%d sessions still held 15s after closing", n)
	}
	// Live heap (sampled after a GC): about 2 MiB per session here, its
	// 1 MiB queue and the frame being written; the bound leaves room for
	// the package's other tests, which run alongside.
	if grew > 64<<20 {
		t.Fatalf("heap grew by %d bytes, over 64 MiB", grew)
	}
	p := dialChat(ctx, t, ts, "")
	p.join(1, "chat:h14after", "", false)
	if f := p.say("chat:h14after", "still here", "", ""); f.Op != wire.OpPublish {
		t.Fatalf("a normal client cannot chat afterwards: %+v", f)
	}
	if l := p.line(); l.Text != "still here" {
		t.Fatalf("a normal client read %+v", l)
	}
}

// reboundRequest sends req on a fresh connection to ts with EVIL replaced
// by evil.example on the server's port and OWN by the server's own
// address. It returns the status and, unless the server accepted (101,
// 200: a stream), the error message.
func reboundRequest(t *testing.T, ts *testServer, req string) outcome {
	t.Helper()
	addr := strings.TrimPrefix(ts.URL, "http://")
	_, port, _ := net.SplitHostPort(addr)
	req = strings.ReplaceAll(strings.ReplaceAll(req, "EVIL", "evil.example:"+port), "OWN", addr)
	c, err := net.Dial("tcp", addr)
	must(t, err)
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, req)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return outcome{0, "connection closed"}
	}
	defer resp.Body.Close()
	if resp.StatusCode == 101 || resp.StatusCode == 200 && resp.Header.Get("Content-Type") == "text/event-stream; charset=utf-8" {
		return outcome{resp.StatusCode, "accepted"}
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return outcome{resp.StatusCode, message(b)}
}

// heapInUse is the Go heap in use after a collection.
func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}

// TestHostileEchoInFlight (issue 14 item 10): clients that each send an
// 8 MiB binary message to /ws/echo and never read the echo cannot make
// the server hold 8 MiB apiece. Not parallel: it measures the heap.
func TestHostileEchoInFlight(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.ws.cfg.EchoInFlight = 8 << 20
	const conns, size = 8, 8 << 20
	base := heapInUse()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msg := make([]byte, size)
	var cs []*websocket.Conn
	for range conns {
		c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http")+"/ws/echo", nil)
		must(t, err)
		defer c.CloseNow()
		cs = append(cs, c)
	}
	done := make(chan error, conns)
	for _, c := range cs {
		go func() { done <- c.Write(ctx, websocket.MessageBinary, msg) }()
	}
	// Some writes finish (the server read them), the others are refused
	// or stall; wait until the server has read what it will.
	var peak int64
	for i := 0; i < 40; i++ {
		time.Sleep(50 * time.Millisecond)
		peak = max(peak, heapInUse()-base)
	}
	msg = nil
	t.Logf("%d clients x %d MiB unread echoes: heap +%d MiB (peak), echo holds %d MiB", conns, size>>20, peak>>20, ts.ws.echoHeld.Load()>>20)
	if peak > 96<<20 { // before the bound: +162 MiB
		t.Errorf("the heap grew by %d MiB for %d unread echoes: not bounded", peak>>20, conns)
	}
	for _, c := range cs {
		c.CloseNow()
	}
	for range conns {
		<-done
	}
	waitFor(t, "echo bytes given back", func() bool { return ts.ws.echoHeld.Load() == 0 })
}

// TestHostileSSEFanOut (issue 14 item 13): SSE readers that never read
// are dropped once their small send buffer is full, instead of the kernel
// queueing every byte of a fan-out for them.
func TestHostileSSEFanOut(t *testing.T) {
	ts := newTestServer(t, func(c *config) { c.StreamWriteTimeout = 300 * time.Millisecond })
	const readers = 50
	for range readers {
		c := openStream(t, ts.URL, "/realtime/sse?topic=fan")
		defer c.Close()
	}
	waitFor(t, "readers subscribed", func() bool { return ts.streams.Count() == readers })
	data, _ := json.Marshal(strings.Repeat("f", 60<<10))
	batch := make([]wire.Draft, 16)
	for i := range batch {
		batch[i] = wire.Draft{Data: data}
	}
	for range 2 {
		_, err := ts.hub.PublishBatch("fan", batch)
		must(t, err)
	}
	start := time.Now()
	resp, _ := get(t, ts.URL+"/healthz")
	equal(t, "healthz during the fan-out", resp.StatusCode, http.StatusOK)
	t.Logf("healthz during the fan-out to %d readers: %v", readers, time.Since(start))
	deadline := time.Now().Add(15 * time.Second)
	for ts.streams.Count() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := ts.streams.Count(); n > 0 {
		t.Errorf("%d of %d readers that never read still held after 15s", n, readers)
	}
}
