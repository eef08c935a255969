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
		{name: "14.1 DNS rebinding: chat WebSocket", attack: rebound("GET /ws/chat HTTP/1.1\r\nHost: EVIL\r\nOrigin: http://EVIL\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
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
		{name: "14.2 publish forging an admin line into a chat room", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			// A sender topic: the publish is stored stamped with its real
			// sender, and the WebSocket chat shows no forged line.
			send(t, "POST", ts.URL+"/realtime/publish", `{"topic":"chat:h14lobby","type":"room","data":{"from":{"name":"admin","userid":"admin"},"msg":"forged"}}`, "Content-Type", "application/json")
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c := chatDial(ctx, t, ts)
			defer c.CloseNow()
			chatSend(ctx, t, c, `{"type":"login","name":"Bob","userid":"bob"}`)
			must(t, c.Write(ctx, websocket.MessageText, []byte(`{"type":"join","room":"h14lobby"}`)))
			for {
				_, b, err := c.Read(ctx)
				must(t, err)
				var m chatMsg
				must(t, json.Unmarshal(b, &m))
				if m.Type == "history" {
					for _, line := range m.Messages {
						if line.Msg == "forged" || line.From == nil || line.From.UserID == "" {
							return outcome{-1, "forged line in the history: " + string(b)}, nil
						}
					}
					return outcome{200, "no forged line"}, nil
				}
			}
		}, want: outcome{200, "no forged line"}},
		{name: "14.2 publish into the chat's all topic", attack: publish(`{"topic":"chat","type":"chat","data":{"from":{"name":"admin","userid":"admin"},"msg":"forged"}}`),
			want: outcome{403, `topic "chat" is published by the server only`}},
		{name: "14.2 publish into the clock", attack: publish(`{"topic":"clock","type":"tick","data":{"time":"1999-12-31T23:59:59Z"}}`),
			want: outcome{403, `topic "clock" is published by the server only`}},
		{name: "14.2 publish into the countdown", attack: publish(`{"topic":"countdown","data":0}`),
			want: outcome{403, `topic "countdown" is published by the server only`}},
		// Item 3: a second login with the userid of an online user.
		{name: "14.3 second chat login with an online userid", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			a := chatDial(ctx, t, ts)
			defer a.CloseNow()
			if m := chatSend(ctx, t, a, `{"type":"login","name":"Alice","userid":"alice"}`); m.Type != "login" {
				t.Fatalf("first login: %+v", m)
			}
			b := chatDial(ctx, t, ts)
			defer b.CloseNow()
			m := chatSend(ctx, t, b, `{"type":"login","name":"Mallory","userid":"alice"}`)
			if m.Type == "error" {
				// Still refused: B cannot chat as anyone.
				if m2 := chatSend(ctx, t, b, `{"type":"chat","to":"user","user":"alice","msg":"hi"}`); m2.Type != "error" {
					t.Errorf("refused login then chat: %+v", m2)
				}
				return outcome{409, m.Error}, nil
			}
			return outcome{200, m.Type}, nil
		}, want: outcome{409, `userid "alice" is already online`}},
		// Item 9: a chat client that never reads asks for big histories.
		{name: "14.9 chat client that never reads: its queued bytes are bounded and freed", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			big, _ := json.Marshal(chatMsg{From: &chatUser{Name: "x", UserID: "x"}, Msg: strings.Repeat("m", 30<<10)})
			var epoch string
			for range 32 {
				m, err := ts.hub.Publish("chat:h14big", "room", big)
				must(t, err)
				epoch = m.Epoch
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c := chatDial(ctx, t, ts)
			defer c.CloseNow()
			if m := chatSend(ctx, t, c, `{"type":"login","name":"Sink","userid":"sink"}`); m.Type != "login" {
				t.Fatalf("login: %+v", m)
			}
			for range 16 { // 16 x ~1 MB of history, never read
				must(t, c.Write(ctx, websocket.MessageText, []byte(`{"type":"join","room":"h14big","since":"`+epoch+`-0"}`)))
			}
			var peak int64
			deadline := time.Now().Add(15 * time.Second)
			for ts.streams.Count() > 0 && time.Now().Before(deadline) {
				peak = max(peak, ts.ws.queued.Load())
				time.Sleep(10 * time.Millisecond)
			}
			t.Logf("peak bytes queued for the client: %d (bound %d)", peak, ts.ws.cfg.WriteQueueBytes)
			if ts.streams.Count() > 0 {
				return outcome{-1, "connection still held after 15s"}, nil
			}
			if q := ts.ws.queued.Load(); q != 0 {
				return outcome{-1, "bytes still queued after the close: " + strconv.FormatInt(q, 10)}, nil
			}
			if peak > 2<<20 { // the default WriteQueueBytes
				return outcome{-1, "queued " + strconv.FormatInt(peak, 10) + " bytes, over the 2 MiB bound"}, nil
			}
			return outcome{200, "dropped and freed"}, nil
		}, want: outcome{200, "dropped and freed"}},
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

// chatDial opens a /ws/chat connection from the page origin.
func chatDial(ctx context.Context, t *testing.T, ts *testServer) *websocket.Conn {
	t.Helper()
	h := http.Header{"Origin": {ts.URL}}
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http")+"/ws/chat", &websocket.DialOptions{HTTPHeader: h})
	must(t, err)
	c.SetReadLimit(4 << 20)
	return c
}

// chatSend sends msg and returns the first answer that is a login or an
// error (broadcasts of other types are skipped).
func chatSend(ctx context.Context, t *testing.T, c *websocket.Conn, msg string) chatMsg {
	t.Helper()
	must(t, c.Write(ctx, websocket.MessageText, []byte(msg)))
	for {
		_, b, err := c.Read(ctx)
		must(t, err)
		var m chatMsg
		must(t, json.Unmarshal(b, &m))
		if m.Type == "login" || m.Type == "error" || m.Type == "chat" {
			return m
		}
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
