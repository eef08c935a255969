//go:build !js

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/cometwasm/comet/server/wire"
)

const evil = "http://evil.example"

// realtimeCases attack publishing, cursors and the SSE framing.
func realtimeCases() []hostileCase {
	publish := func(body string, headers ...string) func(*testing.T, *testServer) (outcome, *http.Response) {
		return func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			return send(t, "POST", ts.URL+"/realtime/publish", body, append([]string{"Content-Type", "application/json"}, headers...)...)
		}
	}
	poll := func(query string) func(*testing.T, *testServer) (outcome, *http.Response) {
		return func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			if strings.Contains(query, "EPOCH") {
				c, err := ts.hub.Head("hostile")
				must(t, err)
				query = strings.ReplaceAll(query, "EPOCH", c.Epoch)
			}
			return send(t, "GET", ts.URL+"/realtime/poll?"+query, "")
		}
	}
	return []hostileCase{
		{name: "SSE publish carrying \\n\\nevent: x stays data", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			payload := "a\n\nevent: x\ndata: injected\r\n\r\nid: 0\n"
			head, err := ts.hub.Head("sse-inject")
			must(t, err)
			data, _ := json.Marshal(map[string]string{"topic": "sse-inject", "data": payload})
			if got, _ := send(t, "POST", ts.URL+"/realtime/publish", string(data), "Content-Type", "application/json"); got.status != 200 {
				t.Fatalf("publish: %v", got)
			}
			events := readSSE(t, ts.URL+"/realtime/sse?topic=sse-inject&cursor="+head.String(), 2)
			last := events[len(events)-1]
			if last["event"] != "message" {
				return outcome{-1, "event type " + strconv.Quote(last["event"])}, nil
			}
			var env struct{ Data string }
			if err := json.Unmarshal([]byte(last["data"]), &env); err != nil || env.Data != payload {
				return outcome{-1, "data " + strconv.Quote(last["data"])}, nil
			}
			return outcome{200, "data intact"}, nil
		}, want: outcome{200, "data intact"}},
		{name: "publish with a type carrying a newline", attack: publish(`{"topic":"hostile","type":"x\n\nevent: y","data":1}`),
			want: outcome{400, "broker: bad message type"}},
		{name: "publish with a reserved type", attack: publish(`{"topic":"hostile","type":"_gap","data":1}`),
			want: outcome{400, "broker: bad message type"}},
		{name: "publish data over the hub limit", attack: publish(`{"topic":"hostile","data":"` + strings.Repeat("x", 65<<10) + `"}`),
			want: outcome{413, "body over the limit"}},
		{name: "publish from a forged origin", attack: publish(`{"topic":"hostile","data":1}`, "Origin", evil, "Content-Type", "text/plain"),
			want: outcome{403, "origin not allowed by CORS"}},
		{name: "publish to a bad topic", attack: publish(`{"topic":"<script>","data":1}`),
			want: outcome{400, "broker: bad topic name"}},
		{name: "cursor negative", attack: poll("topic=hostile&cursor=-1"),
			want: outcome{400, `cursor: want EPOCH-OFFSET, got "-1"`}},
		{name: "cursor offset past uint64", attack: poll("topic=hostile&cursor=EPOCH-18446744073709551616"),
			want: outcome{400, "cursor: want EPOCH-OFFSET"}},
		{name: "cursor huge (ahead of the head)", attack: poll("topic=hostile&cursor=EPOCH-18446744073709551615"),
			want: outcome{200, `"reason":"ahead"`}},
		{name: "cursor from another epoch", attack: poll("topic=hostile&cursor=0123456789abcdef-5"),
			want: outcome{200, `"reason":"epoch"`}},
		{name: "cursor with a path in its epoch", attack: poll("topic=hostile&cursor=..%2F..%2Fetc-5"),
			want: outcome{400, "cursor: want EPOCH-OFFSET"}},
		{name: "cross-origin SSE from a forged origin is refused before it takes a slot", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			return send(t, "GET", ts.URL2+"/realtime/sse?topic=hostile", "", "Origin", evil)
		}, want: outcome{403, "origin not allowed by CORS"}, check: noCORS},
		{name: "long poll from a forged origin is refused", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			return send(t, "GET", ts.URL2+"/realtime/longpoll?topic=hostile&timeout=100", "", "Origin", evil)
		}, want: outcome{403, "origin not allowed by CORS"}, check: noCORS},
		{name: "cross-origin SSE from the page origin: echoed origin with credentials", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			return streamHeaders(t, ts.URL2+"/realtime/sse?topic=hostile", "Origin", ts.URL)
		}, want: outcome{200, ""}, check: func(t *testing.T, ts *testServer, resp *http.Response) {
			equal(t, "Allow-Origin", resp.Header.Get("Access-Control-Allow-Origin"), ts.URL)
			equal(t, "Allow-Credentials", resp.Header.Get("Access-Control-Allow-Credentials"), "true")
			varyOrigin(t, ts, resp)
		}},
		{name: "Last-Event-ID header with CR LF", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			return raw(t, ts.URL, 0, "GET /realtime/sse?topic=hostile HTTP/1.1\r\nHost: "+strings.TrimPrefix(ts.URL, "http://")+"\r\nLast-Event-ID: a-1\rinjected: 1\r\nConnection: close\r\n\r\n"), nil
		}, want: outcome{400, "Bad Request"}},
	}
}

// streamHeaders opens a stream and returns its status and headers only.
func streamHeaders(t *testing.T, url string, headers ...string) (outcome, *http.Response) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	must(t, err)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return outcome{0, err.Error()}, nil
	}
	resp.Body.Close()
	return outcome{resp.StatusCode, ""}, resp
}

// readSSE reads n events of the stream at url (plus the retry preamble)
// and returns them as field maps.
func readSSE(t *testing.T, url string, n int) []map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	must(t, err)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	must(t, err)
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("SSE %s: status %d", url, resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	var events []map[string]string
	ev := map[string]string{}
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if _, ok := ev["data"]; ok {
				events = append(events, ev)
				if len(events) == n {
					return events
				}
			}
			ev = map[string]string{}
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		name, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		if name == "data" && ev["data"] != "" {
			value = ev["data"] + "\n" + value
		}
		ev[name] = value
	}
	t.Fatalf("SSE %s ended after %d events: %v", url, len(events), sc.Err())
	return nil
}

// wsOutcome dials path with origin, runs fn on the connection, then reads
// until the server closes and returns the close code and reason (or the
// handshake status and error).
func wsOutcome(t *testing.T, ts *testServer, path, origin string, fn func(ctx context.Context, c *websocket.Conn)) (outcome, *http.Response) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http")+path, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		if resp == nil {
			return outcome{0, err.Error()}, nil
		}
		b, _ := io.ReadAll(resp.Body)
		return outcome{resp.StatusCode, message(b)}, resp
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)
	fn(ctx, c)
	for {
		_, _, err := c.Read(ctx)
		if err != nil {
			var ce websocket.CloseError
			if errors.As(err, &ce) {
				return outcome{int(ce.Code), ce.Reason}, nil
			}
			return outcome{0, err.Error()}, nil
		}
	}
}

// wsCases attack the WebSocket endpoints.
func wsCases() []hostileCase {
	return []hostileCase{
		{name: "WebSocket from a forged Origin (CSWSH)", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			return wsOutcome(t, ts, "/ws/echo", evil, nil)
		}, want: outcome{403, `websocket: origin "http://evil.example" is not allowed`}},
		{name: "WebSocket from Origin null", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			return wsOutcome(t, ts, "/realtime/session/ws", "null", nil)
		}, want: outcome{403, `websocket: origin "null" is not allowed`}},
		{name: "WebSocket invalid UTF-8 in a text frame", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			return wsOutcome(t, ts, "/ws/echo", ts.URL, func(ctx context.Context, c *websocket.Conn) {
				c.Write(ctx, websocket.MessageText, []byte("ok \xff\xfe not UTF-8"))
			})
		}, want: outcome{1007, "invalid UTF-8"}},
		// A text frame with invalid UTF-8 fails the session's connection
		// as RFC 6455 asks (1007): nothing of it runs.
		{name: "WebSocket chat session invalid UTF-8 in a text frame", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			return wsOutcome(t, ts, "/realtime/session/ws", ts.URL, func(ctx context.Context, c *websocket.Conn) {
				c.Write(ctx, websocket.MessageText, []byte(`{"op":"pub","id":1,"topic":"chat:x","type":"msg","data":{"text":"`+"\xff"+`"},"key":"u"}`))
			})
		}, want: outcome{1007, "invalid UTF-8 in a text message"}},
		{name: "WebSocket chat session frame over the read limit", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			return wsOutcome(t, ts, "/realtime/session/ws", ts.URL, func(ctx context.Context, c *websocket.Conn) {
				c.Write(ctx, websocket.MessageText, []byte(`{"op":"pub","topic":"chat:x","type":"msg","data":{"text":"`+strings.Repeat("x", 20<<10)+`"}}`))
			})
		}, want: outcome{1009, "read limited at"}},
		{name: "WebSocket chat session binary frame", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			return wsOutcome(t, ts, "/realtime/session/ws", ts.URL, func(ctx context.Context, c *websocket.Conn) {
				c.Write(ctx, websocket.MessageBinary, []byte{0, 1, 2})
			})
		}, want: outcome{1003, "commands are JSON text messages"}},
		{name: "WebSocket chat session malformed JSON gets an error frame", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			return sessionErr(t, ts, []byte(`{"op":"pub",`))
		}, want: outcome{200, "bad: commands: want a JSON command"}},
	}
}

// sessionErr sends msg on a new session and returns its first error frame
// as 200 "CODE: reason" (or how the session ended).
func sessionErr(t *testing.T, ts *testServer, msg []byte) (outcome, *http.Response) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, wsURL(ts.URL, "/realtime/session/ws"), nil)
	must(t, err)
	defer c.CloseNow()
	must(t, c.Write(ctx, websocket.MessageText, msg))
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			var ce websocket.CloseError
			if errors.As(err, &ce) {
				return outcome{int(ce.Code), ce.Reason}, nil
			}
			return outcome{0, err.Error()}, nil
		}
		var f wire.Frame
		if json.Unmarshal(b, &f) == nil && f.Op == wire.OpError {
			c.Close(websocket.StatusNormalClosure, "")
			return outcome{200, f.Code + ": " + f.Error}, nil
		}
	}
}

// capCases fill the stream caps and hold connections half-open.
func capCases() []hostileCase {
	return []hostileCase{
		{name: "streams past the per-IP cap get 503 with Retry-After", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			// MaxStreamsPerIP is 2: hold two SSE streams, a third is refused.
			for range 2 {
				c := openStream(t, ts.URL, "/realtime/sse?topic=cap")
				defer c.Close()
			}
			waitFor(t, "two streams held", func() bool { return ts.streams.Count() == 2 })
			for _, path := range []string{"/realtime/stream?topic=cap", "/realtime/longpoll?topic=cap"} {
				if got, resp := send(t, "GET", ts.URL+path, ""); got.status != 503 || resp.Header.Get("Retry-After") == "" {
					t.Errorf("%s past the cap: %v, Retry-After %q", path, got, resp.Header.Get("Retry-After"))
				}
			}
			return wsOutcome(t, ts, "/ws/echo", ts.URL, nil)
		}, want: outcome{503, "too many concurrent streams; retry later"}, check: func(t *testing.T, ts *testServer, resp *http.Response) {
			if resp == nil || resp.Header.Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
		}},
		{name: "streams past the total cap get 503, whatever the IP", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			// MaxStreams is 4: two clients of two IPs each fill it.
			for _, ip := range []string{"127.0.0.2", "127.0.0.2", "127.0.0.3", "127.0.0.3"} {
				c := openStreamFrom(t, ip, ts.URL, "/realtime/sse?topic=cap")
				defer c.Close()
			}
			waitFor(t, "four streams held", func() bool { return ts.streams.Count() == 4 })
			c, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.4")}}).Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
			must(t, err)
			defer c.Close()
			io.WriteString(c, "GET /realtime/stream?topic=cap HTTP/1.1\r\nHost: "+strings.TrimPrefix(ts.URL, "http://")+"\r\nConnection: close\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			must(t, err)
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return outcome{resp.StatusCode, message(b)}, resp
		}, want: outcome{503, "too many concurrent streams; retry later"}, check: func(t *testing.T, ts *testServer, resp *http.Response) {
			if resp.Header.Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
		}},
		{name: "half-closed stream client (FIN sent) frees its slot", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			waitFor(t, "no stream held", func() bool { return ts.streams.Count() == 0 })
			c := openStream(t, ts.URL, "/realtime/stream?topic=cap")
			defer c.Close()
			waitFor(t, "stream held", func() bool { return ts.streams.Count() == 1 })
			c.(*net.TCPConn).CloseWrite()
			waitFor(t, "stream slot freed after the client's FIN", func() bool { return ts.streams.Count() == 0 })
			return outcome{200, "slot freed"}, nil
		}, want: outcome{200, "slot freed"}},
		{name: "long poll whose client leaves frees its slot", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			head, err := ts.hub.Head("leave")
			must(t, err)
			c, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
			must(t, err)
			defer c.Close()
			// A long poll answers nothing until a message or its timeout.
			io.WriteString(c, "GET /realtime/longpoll?topic=leave&timeout=60000&cursor="+head.String()+" HTTP/1.1\r\nHost: "+strings.TrimPrefix(ts.URL, "http://")+"\r\n\r\n")
			waitFor(t, "long poll held", func() bool { return ts.streams.Count() == 1 })
			c.(*net.TCPConn).SetLinger(0)
			c.Close() // an RST, as from a client that vanished
			waitFor(t, "long poll slot freed after the client left", func() bool { return ts.streams.Count() == 0 })
			return outcome{200, "slot freed"}, nil
		}, want: outcome{200, "slot freed"}},
		{name: "WebSocket whose client vanishes (RST, no close frame) frees its slot", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			c, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
			must(t, err)
			defer c.Close()
			io.WriteString(c, "GET /ws/echo HTTP/1.1\r\nHost: "+strings.TrimPrefix(ts.URL, "http://")+"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
				"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil || !strings.Contains(line, " 101 ") {
				t.Fatalf("upgrade: %q %v", line, err)
			}
			waitFor(t, "WebSocket held", func() bool { return ts.streams.Count() == 1 })
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
			waitFor(t, "WebSocket slot freed after the client vanished", func() bool { return ts.streams.Count() == 0 })
			return outcome{200, "slot freed"}, nil
		}, want: outcome{200, "slot freed"}},
		{name: "stream reader that stops reading (zero window) is dropped", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			waitFor(t, "no stream held", func() bool { return ts.streams.Count() == 0 })
			c := openStream(t, ts.URL, "/realtime/stream?topic=flood")
			defer c.Close()
			waitFor(t, "stream held", func() bool { return ts.streams.Count() == 1 })
			// Publish ~16 MiB the client never reads: the socket buffers fill
			// and the server's write must give up rather than hang.
			data, _ := json.Marshal(strings.Repeat("z", 60<<10))
			for range 256 {
				if _, err := ts.hub.Publish("flood", "", data); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, "stream slot freed from a reader that stopped reading", func() bool { return ts.streams.Count() == 0 })
			return outcome{200, "slot freed"}, nil
		}, want: outcome{200, "slot freed"}},
	}
}

// openStream opens a streaming GET on a raw connection with a small
// receive buffer and waits for the response header.
func openStream(t *testing.T, base, path string) net.Conn {
	t.Helper()
	return openStreamFrom(t, "127.0.0.1", base, path)
}

// openStreamFrom is openStream from the loopback address from (any of
// 127.0.0.0/8), so the test can act as several client IPs.
func openStreamFrom(t *testing.T, from, base, path string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", strings.TrimPrefix(base, "http://"))
	must(t, err)
	c.(*net.TCPConn).SetReadBuffer(4 << 10)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: "+strings.TrimPrefix(base, "http://")+"\r\n\r\n")
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil || !strings.Contains(line, " 200 ") {
		t.Fatalf("stream %s: %q %v", path, line, err)
	}
	c.SetDeadline(time.Time{})
	return c
}
