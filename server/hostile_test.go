//go:build !js

package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// hostileConfig shortens every timeout so slow attacks finish fast, and
// makes the stream caps small enough to reach.
func hostileConfig(c *config) {
	c.ReadHeaderTimeout = 300 * time.Millisecond
	c.IdleTimeout = 300 * time.Millisecond
	c.BodyReadTimeout = 300 * time.Millisecond
	c.StreamWriteTimeout = 300 * time.Millisecond
	c.WriteTimeout = time.Second
	c.MaxHeaderBytes = 16 << 10
	c.MaxBodyBytes = 64 << 10
	c.MaxStreams = 4
	c.MaxStreamsPerIP = 2
}

// outcome is what an attack got: an HTTP status (0: the server closed the
// connection without answering) or a WebSocket close code, and the error
// message (the JSON "error" field, a plain-text body, or the close
// reason).
type outcome struct {
	status int
	msg    string
}

// hostileCase is one attack. want.msg must be contained in the message
// the server gave; check, if set, looks at more (headers, state).
type hostileCase struct {
	name   string
	attack func(t *testing.T, ts *testServer) (outcome, *http.Response)
	want   outcome
	check  func(t *testing.T, ts *testServer, resp *http.Response)
}

// TestHostile runs the table against one real server over loopback, then
// checks that a normal client is still served, no stream slot is held and
// no goroutine leaked.
func TestHostile(t *testing.T) {
	ts := newTestServer(t, hostileConfig)
	base := runtime.NumGoroutine()
	cases := hostileCases()
	if len(cases) < 30 {
		t.Errorf("only %d hostile cases, the issue asks for at least 30", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Every attack must give its stream slots back.
			waitFor(t, "stream slots of the previous attack released", func() bool { return ts.streams.Count() == 0 })
			got, resp := tc.attack(t, ts)
			if got.status != tc.want.status || !strings.Contains(got.msg, tc.want.msg) {
				t.Errorf("got status %d %q, want %d containing %q", got.status, got.msg, tc.want.status, tc.want.msg)
			}
			if tc.check != nil {
				tc.check(t, ts, resp)
			}
		})
	}

	// The server still serves a normal client.
	resp, body := get(t, ts.URL+"/healthz")
	equal(t, "healthz after the attacks", resp.StatusCode, http.StatusOK)
	if !bytes.Contains(body, []byte(`"ok":true`)) {
		t.Errorf("healthz body after the attacks: %s", body)
	}
	normalClient(t, ts)
	// Every stream slot is back and no goroutine outlived its attack.
	waitFor(t, "stream slots released", func() bool { return ts.streams.Count() == 0 })
	waitFor(t, "goroutines back to the baseline", func() bool {
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
		return runtime.NumGoroutine() <= base
	})
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%s: still not true after 5s; goroutines:\n%s", what, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// send makes one request with the default client and returns the status
// and the error message of the answer.
func send(t *testing.T, method, url, body string, headers ...string) (outcome, *http.Response) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	must(t, err)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return outcome{0, err.Error()}, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return outcome{resp.StatusCode, message(b)}, resp
}

// message extracts the "error" field of a JSON error body, or returns the
// text as is.
func message(b []byte) string {
	s := strings.TrimSpace(string(b))
	if msg, ok := strings.CutPrefix(s, `{"error":"`); ok {
		if i := strings.LastIndex(msg, `"}`); i >= 0 {
			return strings.ReplaceAll(msg[:i], `\"`, `"`)
		}
	}
	return s
}

// raw writes bytes on a fresh TCP connection to addr (URL host), pausing
// pause between chunks, and returns what the server answered: its status
// line's code and body, or status 0 and "connection closed" if the server
// closed the connection before answering.
func raw(t *testing.T, url string, pause time.Duration, chunks ...string) outcome {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	must(t, err)
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	for i, ch := range chunks {
		// "Host: x" stands for the server's own name (a foreign one gets 421).
		ch = strings.Replace(ch, "\r\nHost: x\r\n", "\r\nHost: "+strings.TrimPrefix(url, "http://")+"\r\n", 1)
		if i > 0 && pause > 0 {
			time.Sleep(pause)
		}
		if _, err := c.Write([]byte(ch)); err != nil {
			break // the server may have answered before closing
		}
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return outcome{0, "connection closed"}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return outcome{resp.StatusCode, message(b)}
}

// trickle sends s one byte at a time, pause apart.
func trickle(s string) []string {
	var out []string
	for _, r := range s {
		out = append(out, string(r))
	}
	return out
}

func hostileCases() []hostileCase {
	var cases []hostileCase
	for _, group := range [][]hostileCase{staticCases(), connectionCases(), jsonCases(), corsCases(),
		realtimeCases(), uploadCases(), wsCases(), capCases(), issue14Cases()} {
		cases = append(cases, group...)
	}
	return cases
}

// staticCases attack the static file server and the mux.
func staticCases() []hostileCase {
	path := func(p string) func(*testing.T, *testServer) (outcome, *http.Response) {
		return func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			return raw(t, ts.URL, 0, "GET "+p+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), nil
		}
	}
	notFound := outcome{404, "404 page not found"}
	return []hostileCase{
		{name: "path ../ traversal is cleaned and redirected inside public", attack: path("/../../etc/passwd"), want: outcome{307, "Temporary Redirect"}},
		{name: "encoded ../ traversal", attack: path("/%2e%2e/%2e%2e/etc/passwd"), want: notFound},
		{name: "encoded slash traversal", attack: path("/..%2f..%2fetc%2fpasswd"), want: notFound},
		{name: "backslash traversal", attack: path(`/..\..\etc\passwd`), want: notFound},
		{name: "dotfile", attack: path("/.git/config"), want: notFound},
		{name: "encoded dotfile", attack: path("/%2egit/config"), want: notFound},
		{name: "NUL in path", attack: path("/index.html%00.js"), want: notFound},
		{name: "directory listing", attack: path("/wasm_exec_missing_dir/"), want: notFound},
		{name: "absolute URL in request line (its host is foreign)", attack: path("http://evil.example/etc/passwd"), want: outcome{421, `host "evil.example" is not a name of this server`}},
		{name: "wrong method on an endpoint", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			return send(t, "DELETE", ts.URL+"/healthz", "")
		}, want: outcome{405, "Method Not Allowed"}},
		{name: "URL over 8 KiB", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			return send(t, "GET", ts.URL+"/healthz?q="+strings.Repeat("a", 9<<10), "")
		}, want: outcome{414, "URL over 8192 bytes"}},
		{name: "body over the limit by Content-Length, on any path", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			return send(t, "POST", ts.URL+"/anything", strings.Repeat("x", 65<<10))
		}, want: outcome{413, "body over the limit of 65536 bytes"}},
		{name: "pages carry the page policy", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			return send(t, "GET", ts.URL+"/", "")
		}, want: outcome{200, ""}, check: func(t *testing.T, ts *testServer, resp *http.Response) {
			csp := resp.Header.Get("Content-Security-Policy")
			for _, want := range []string{"script-src 'self' 'wasm-unsafe-eval' ", "frame-ancestors " + ts.URL + ";", "object-src 'none'", "base-uri 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("CSP lacks %q: %s", want, csp)
				}
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "'unsafe-eval'") || strings.Contains(csp, "*") {
				t.Errorf("CSP allows inline script, eval or a wildcard: %s", csp)
			}
			equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"), "nosniff")
			equal(t, "Referrer-Policy", resp.Header.Get("Referrer-Policy"), "strict-origin-when-cross-origin")
		}},
	}
}

// connectionCases attack the connection itself: slow, silent, oversized.
func connectionCases() []hostileCase {
	return []hostileCase{
		{name: "header sent one byte at a time (slowloris) is cut by ReadHeaderTimeout", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			// 100 ms per byte: the 300 ms header timeout ends it long before
			// the 60-byte header is complete.
			return raw(t, ts.URL, 100*time.Millisecond, trickle("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaa\r\n\r\n")...), nil
		}, want: outcome{400, "400 Bad Request"}},
		{name: "silent connection (half-open, never sends) is closed", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			return raw(t, ts.URL, 0), nil
		}, want: outcome{0, "connection closed"}},
		{name: "idle keep-alive connection is closed by IdleTimeout", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			c, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
			must(t, err)
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: "+strings.TrimPrefix(ts.URL, "http://")+"\r\n\r\n")
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			must(t, err)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			// Now stay silent: the server must end the connection.
			if _, err := br.ReadByte(); err != nil {
				return outcome{0, "connection closed"}, nil
			}
			return outcome{-1, "server sent more bytes"}, nil
		}, want: outcome{0, "connection closed"}},
		{name: "header over MaxHeaderBytes", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			return raw(t, ts.URL, 0, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", 64<<10)+"\r\n\r\n"), nil
		}, want: outcome{431, "Request Header Fields Too Large"}},
		{name: "malformed request line", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			return raw(t, ts.URL, 0, "GARBAGE\r\n\r\n"), nil
		}, want: outcome{400, "Bad Request"}},
		{name: "conflicting Content-Length headers (request smuggling)", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			return raw(t, ts.URL, 0, "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 30\r\n\r\nabc"), nil
		}, want: outcome{400, "Bad Request"}},
		{name: "Content-Length with Transfer-Encoding (request smuggling)", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			return raw(t, ts.URL, 0, "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"), nil
		}, want: outcome{501, "Unsupported transfer encoding"}},
	}
}

// normalClient uses the server the way a browser would after the attacks:
// the page, a publish read back by polling, and a WebSocket echo.
func normalClient(t *testing.T, ts *testServer) {
	t.Helper()
	resp, _ := get(t, ts.URL+"/")
	equal(t, "page after the attacks", resp.StatusCode, http.StatusOK)
	head, err := ts.hub.Head("after")
	must(t, err)
	if got, _ := send(t, "POST", ts.URL+"/realtime/publish", `{"topic":"after","data":"still here"}`, "Content-Type", "application/json"); got.status != 200 {
		t.Errorf("publish after the attacks: %v", got)
	}
	if got, _ := send(t, "GET", ts.URL+"/realtime/poll?topic=after&cursor="+head.String(), ""); got.status != 200 || !strings.Contains(got.msg, `"data":"still here"`) {
		t.Errorf("poll after the attacks: %v", got)
	}
	if events := readSSE(t, ts.URL+"/realtime/sse?topic=after&cursor="+head.String(), 2); !strings.Contains(events[1]["data"], `"data":"still here"`) {
		t.Errorf("SSE after the attacks: %v", events)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http")+"/ws/echo", nil)
	must(t, err)
	defer c.CloseNow()
	must(t, c.Write(ctx, websocket.MessageText, []byte("hello")))
	_, b, err := c.Read(ctx)
	must(t, err)
	equal(t, "echo after the attacks", string(b), "hello")
	must(t, c.Close(websocket.StatusNormalClosure, ""))
}

// TestAllowOriginFlag: a hostile or mistyped -allow-origin is refused at
// start, so it can neither open the server to everyone nor break the CSP.
func TestAllowOriginFlag(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"http://127.0.0.1:8081", "http://127.0.0.1:8081"},
		{"HTTPS://Example.COM/", "https://example.com"},
		{"*", ""}, {"null", ""}, {"http://a.example/path", ""}, {"http://a.example?x=1", ""},
		{"ftp://a.example", ""}, {"http://a.example; script-src *", ""}, {"http://u:p@a.example", ""}, {"a.example", ""},
	} {
		cfg := defaultConfig()
		fs := flag.NewFlagSet("server", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		cfg.registerFlags(fs)
		err := fs.Parse([]string{"-allow-origin", tc.in})
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("-allow-origin %q accepted as %q", tc.in, cfg.AllowOrigins)
		case tc.want != "" && (err != nil || len(cfg.AllowOrigins) != 1 || cfg.AllowOrigins[0] != tc.want):
			t.Errorf("-allow-origin %q: %q, %v; want %q", tc.in, cfg.AllowOrigins, err, tc.want)
		}
	}
}
