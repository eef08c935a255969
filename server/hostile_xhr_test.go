//go:build !js

package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// jsonCases send malformed JSON bodies.
func jsonCases() []hostileCase {
	post := func(path, ctype, body string) func(*testing.T, *testServer) (outcome, *http.Response) {
		return func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			return send(t, "POST", ts.URL+path, body, "Content-Type", ctype)
		}
	}
	return []hostileCase{
		{name: "truncated JSON", attack: post("/api/ajax4", "application/json", `{"id":"1","content":`),
			want: outcome{400, "malformed JSON: body empty or truncated"}},
		{name: "malformed JSON", attack: post("/api/ajax4", "application/json", `{"id":1,}`),
			want: outcome{400, "malformed body"}},
		{name: "trailing data after the JSON value", attack: post("/api/ajax4", "application/json", `{"id":"1"} {"id":"2"}`),
			want: outcome{400, "malformed JSON: trailing data after the value"}},
		{name: "wrong Content-Type", attack: post("/api/ajax4", "application/x-www-form-urlencoded", `id=1`),
			want: outcome{415, `Content-Type "application/x-www-form-urlencoded": want application/json`}},
		{name: "unparsable Content-Type", attack: post("/api/ajax4", "application/json; =;", `{}`),
			want: outcome{415, "want application/json"}},
		{name: "chunked body over the limit (no Content-Length)", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			// An io.Reader of unknown length is sent chunked.
			body := io.MultiReader(strings.NewReader(`{"id":"`), strings.NewReader(strings.Repeat("x", 100<<10)), strings.NewReader(`"}`))
			req, err := http.NewRequest("POST", ts.URL+"/api/ajax4", body)
			must(t, err)
			req.Header.Set("Content-Type", "application/json")
			return do(t, req)
		}, want: outcome{413, "body over the limit of 65536 bytes"}},
		{name: "a client that stops reading a large response is cut by WriteTimeout", attack: slowReader,
			want: outcome{0, "response cut"}},
		{name: "a client that stops reading a paced stream is cut by StreamWriteTimeout", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			c := openStream(t, ts.URL, "/xhr/bytes?n="+strconv.Itoa(64<<20)+"&interval=1")
			defer c.Close()
			waitFor(t, "the stream slot of a reader that stopped reading freed", func() bool { return ts.streams.Count() == 0 })
			return outcome{0, "response cut"}, nil
		}, want: outcome{0, "response cut"}},
		{name: "download chunk over 1 MiB (a 64 MiB buffer per request)", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			return send(t, "GET", ts.URL+"/xhr/bytes?n=67108864&chunk=67108864", "")
		}, want: outcome{400, "chunk: want an integer from 1 to 1048576"}},
		{name: "body trickled one byte at a time is cut by BodyReadTimeout", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			chunks := append([]string{"POST /api/ajax4 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n"}, trickle(strings.Repeat(" ", 40))...)
			return raw(t, ts.URL, 100*time.Millisecond, chunks...), nil
		}, want: outcome{408, "request body not received within"}},
	}
}

// slowReader asks for a 64 MiB body and reads nothing: the server fills
// the socket buffers and blocks; WriteTimeout must end the handler (with
// no deadline it would wait for this reader forever).
func slowReader(t *testing.T, ts *testServer) (outcome, *http.Response) {
	return slowReaderWith(t, ts, "")
}

// slowReaderWith is slowReader with extra header lines (each ending CRLF).
func slowReaderWith(t *testing.T, ts *testServer, extra string) (outcome, *http.Response) {
	c, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
	must(t, err)
	defer c.Close()
	c.(*net.TCPConn).SetReadBuffer(4 << 10)
	io.WriteString(c, "GET /xhr/bytes?n="+strconv.Itoa(64<<20)+" HTTP/1.1\r\nHost: "+strings.TrimPrefix(ts.URL, "http://")+"\r\n"+extra+"\r\n")
	br := bufio.NewReader(c)
	if line, err := br.ReadString('\n'); err != nil || !strings.Contains(line, " 200 ") {
		t.Fatalf("status line %q, %v", line, err)
	}
	waitFor(t, "the blocked handler ended", func() bool { return !handlerRunning("handleXHRBytes") })
	return outcome{0, "response cut"}, nil
}

// handlerRunning reports whether a goroutine is inside the named function.
func handlerRunning(name string) bool {
	buf := make([]byte, 1<<20)
	return strings.Contains(string(buf[:runtime.Stack(buf, true)]), name)
}

// do sends req without following redirects.
func do(t *testing.T, req *http.Request) (outcome, *http.Response) {
	t.Helper()
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return outcome{0, err.Error()}, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return outcome{resp.StatusCode, message(b)}, resp
}

// noCORS checks that a response grants nothing to the page: no
// Access-Control-Allow-Origin or -Credentials, and Vary: Origin.
func noCORS(t *testing.T, ts *testServer, resp *http.Response) {
	t.Helper()
	if resp == nil {
		t.Fatal("no response")
	}
	if v := resp.Header.Get("Access-Control-Allow-Origin"); v != "" {
		t.Errorf("Access-Control-Allow-Origin = %q for an untrusted origin", v)
	}
	if v := resp.Header.Get("Access-Control-Allow-Credentials"); v != "" {
		t.Errorf("Access-Control-Allow-Credentials = %q for an untrusted origin", v)
	}
	varyOrigin(t, ts, resp)
}

func varyOrigin(t *testing.T, _ *testServer, resp *http.Response) {
	t.Helper()
	for _, v := range resp.Header.Values("Vary") {
		if strings.Contains(v, "Origin") {
			return
		}
	}
	t.Errorf("Vary %q lacks Origin", resp.Header.Values("Vary"))
}

// corsCases forge origins against CORS endpoints (on the second origin,
// where the page calls them).
func corsCases() []hostileCase {
	req := func(method, path, origin string, headers ...string) func(*testing.T, *testServer) (outcome, *http.Response) {
		return func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			if origin == "page" {
				origin = ts.URL
			}
			return send(t, method, ts.URL2+path, "", append([]string{"Origin", origin}, headers...)...)
		}
	}
	return []hostileCase{
		{name: "CORS simple request from a forged origin gets no grant", attack: req("GET", "/cors/simple", evil),
			want: outcome{200, `"cors":"simple"`}, check: noCORS},
		{name: "CORS Origin null gets no grant", attack: req("GET", "/cors/simple", "null"),
			want: outcome{200, `"cors":"simple"`}, check: noCORS},
		{name: "CORS origin with a trusted prefix gets no grant", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			return send(t, "GET", ts.URL2+"/cors/simple", "", "Origin", ts.URL+".evil.example")
		}, want: outcome{200, `"cors":"simple"`}, check: noCORS},
		{name: "CORS preflight from a forged origin", attack: req("OPTIONS", "/cors/preflight", evil, "Access-Control-Request-Method", "PUT"),
			want: outcome{403, "origin not allowed by CORS"}, check: noCORS},
		{name: "CORS preflight with a method not allowed", attack: req("OPTIONS", "/cors/preflight", "page", "Access-Control-Request-Method", "PATCH"),
			want: outcome{403, "CORS preflight: method PATCH not allowed (allowed: GET, PUT, DELETE)"}, check: func(t *testing.T, ts *testServer, resp *http.Response) {
				if m := resp.Header.Get("Access-Control-Allow-Methods"); m != "" {
					t.Errorf("Allow-Methods %q on a refused preflight", m)
				}
				varyOrigin(t, ts, resp)
			}},
		{name: "CORS preflight with a header not allowed", attack: req("OPTIONS", "/cors/preflight", "page",
			"Access-Control-Request-Method", "PUT", "Access-Control-Request-Headers", "content-type, x-evil"),
			want: outcome{403, "CORS preflight: header x-evil not allowed (allowed: Content-Type, X-Comet-Token)"}, check: func(t *testing.T, ts *testServer, resp *http.Response) {
				if h := resp.Header.Get("Access-Control-Allow-Headers"); h != "" {
					t.Errorf("Allow-Headers %q on a refused preflight", h)
				}
			}},
		{name: "credentialed request from an origin not on the list", attack: req("GET", "/cors/whoami", evil, "Cookie", "comet_cors=secret"),
			want: outcome{200, `"cookie":"secret"`}, check: noCORS},
		{name: "credentialed request from a trusted origin: echoed origin, never *", attack: req("GET", "/cors/whoami", "page", "Cookie", "comet_cors=mine"),
			want: outcome{200, `"cookie":"mine"`}, check: func(t *testing.T, ts *testServer, resp *http.Response) {
				equal(t, "Allow-Origin", resp.Header.Get("Access-Control-Allow-Origin"), ts.URL)
				equal(t, "Allow-Credentials", resp.Header.Get("Access-Control-Allow-Credentials"), "true")
				varyOrigin(t, ts, resp)
			}},
		{name: "JSONP callback alert(1)//", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			return send(t, "GET", ts.URL2+"/jsonp?callback="+urlEscape("alert(1)//"), "")
		}, want: outcome{400, "callback: want a JavaScript identifier or a dotted path of them"}},
		{name: "JSONP callback with a script tag", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			return send(t, "GET", ts.URL2+"/jsonp?callback="+urlEscape("</script><script>x"), "")
		}, want: outcome{400, "callback: want a JavaScript identifier"}},
		{name: "JSONP answer is nosniff JavaScript", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			return send(t, "GET", ts.URL2+"/jsonp?callback=cb.done&msg="+urlEscape("</script>\u2028"), "")
		}, want: outcome{200, "cb.done("}, check: func(t *testing.T, ts *testServer, resp *http.Response) {
			equal(t, "Content-Type", resp.Header.Get("Content-Type"), "application/javascript; charset=utf-8")
			equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"), "nosniff")
		}},
	}
}

func urlEscape(s string) string {
	return strings.NewReplacer("%", "%25", "(", "%28", ")", "%29", "/", "%2F", "<", "%3C", ">", "%3E", " ", "%20", "\u2028", "%E2%80%A8").Replace(s)
}

// uploadCases attack the resumable upload.
func uploadCases() []hostileCase {
	chunk := func(offset, size int, total int, body string) func(*testing.T, *testServer) (outcome, *http.Response) {
		return func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			id := newUpload(t, ts, 10)
			req, err := http.NewRequest("PUT", ts.URL+"/upload/"+id, strings.NewReader(body))
			must(t, err)
			req.Header.Set("Content-Range", "bytes "+strconv.Itoa(offset)+"-"+strconv.Itoa(offset+size-1)+"/"+strconv.Itoa(total))
			return do(t, req)
		}
	}
	create := func(body string) func(*testing.T, *testServer) (outcome, *http.Response) {
		return func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			return send(t, "POST", ts.URL+"/upload/", body, "Content-Type", "application/json")
		}
	}
	return []hostileCase{
		{name: "upload chunk at the wrong offset", attack: chunk(5, 5, 10, "56789"),
			want: outcome{409, "chunk starts at 5, the offset is 0"}},
		{name: "upload chunk over the declared size", attack: chunk(0, 11, 10, "0123456789A"),
			want: outcome{413, "chunk past the declared size"}},
		{name: "upload chunk with another total", attack: chunk(0, 5, 99, "01234"),
			want: outcome{400, "Content-Range total 99, the declared size is 10"}},
		{name: "upload chunk with a malformed Content-Range", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			id := newUpload(t, ts, 10)
			req, err := http.NewRequest("PUT", ts.URL+"/upload/"+id, strings.NewReader("x"))
			must(t, err)
			req.Header.Set("Content-Range", "bytes -5-3/10")
			return do(t, req)
		}, want: outcome{400, "Content-Range: want bytes start-end/total"}},
		{name: "upload chunk shorter than its Content-Range", attack: chunk(0, 10, 10, "01234"),
			want: outcome{400, "body ended at 5, Content-Range said 10"}},
		{name: "upload with a path-like id", attack: func(t *testing.T, ts *testServer) (outcome, *http.Response) {
			return raw(t, ts.URL, 0, "PUT /upload/..%2F..%2Fetc%2Fpasswd HTTP/1.1\r\nHost: x\r\nContent-Range: bytes 0-0/1\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx"), nil
		}, want: outcome{400, "upload id: want 32 lowercase hex digits"}},
		{name: "upload with a negative size", attack: create(`{"size":-1}`),
			want: outcome{400, "size: want a byte count"}},
		{name: "upload with a huge size", attack: create(`{"size":1000000000000000000}`),
			want: outcome{413, "size over the limit"}},
	}
}

// newUpload creates an upload of size bytes and returns its id.
func newUpload(t *testing.T, ts *testServer, size int) string {
	t.Helper()
	got, resp := send(t, "POST", ts.URL+"/upload/", `{"size":`+strconv.Itoa(size)+`,"name":"../../x"}`, "Content-Type", "application/json")
	if got.status != http.StatusCreated {
		t.Fatalf("create upload: %v", got)
	}
	id := strings.TrimPrefix(resp.Header.Get("Location"), "/upload/")
	if len(id) != 32 {
		t.Fatalf("upload Location %q", resp.Header.Get("Location"))
	}
	return id
}
