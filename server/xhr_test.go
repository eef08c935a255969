//go:build !js

package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// xdo sends one request and returns the status, headers and body.
func xdo(t *testing.T, method, url, body string, headers ...string) (int, http.Header, string) {
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
	resp, err := (&http.Client{Transport: tr}).Do(req)
	must(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(t, err)
	return resp.StatusCode, resp.Header, string(b)
}

// wantJSONError checks a 4xx/5xx answer has a JSON {"error": ...} body.
func wantJSONError(t *testing.T, what string, h http.Header, body string) {
	t.Helper()
	var e struct{ Error string }
	if !strings.HasPrefix(h.Get("Content-Type"), "application/json") || json.Unmarshal([]byte(body), &e) != nil || e.Error == "" {
		t.Errorf("%s: not a JSON error: %q %q", what, h.Get("Content-Type"), body)
	}
}

func TestXHREndpoints(t *testing.T) {
	ts := newTestServer(t, func(c *config) { c.MaxBulkBytes = 2 << 20 })
	tests := []struct {
		name, method, path, body string
		headers                  []string
		want                     int
		contains                 string
	}{
		{"text", "GET", "/api/text", "", nil, 200, "Ajax"},
		{"ajax2 get", "GET", "/api/ajax2", "", nil, 200, `"method":"get"`},
		{"ajax2 delete", "DELETE", "/api/ajax2", "", nil, 200, `"method":"delete"`},
		{"ajax3", "GET", "/api/ajax3?delay=1", "", nil, 200, `"des"`},
		{"ajax3 bad delay", "GET", "/api/ajax3?delay=-1", "", nil, 400, "delay"},
		{"ajax3 long delay", "GET", "/api/ajax3?delay=99999999", "", nil, 400, "delay"},
		{"ajax4", "POST", "/api/ajax4", `{"id":"1","content":"c"}`, []string{"Content-Type", "application/json"}, 200, `"content":"c"`},
		{"ajax4 malformed", "POST", "/api/ajax4", `{"id":`, []string{"Content-Type", "application/json"}, 400, "malformed"},
		{"ajax4 wrong type", "POST", "/api/ajax4", `x`, []string{"Content-Type", "image/png"}, 415, "Content-Type"},
		{"echo", "PATCH", "/xhr/echo?a=1", "hi", nil, 200, `"body":"hi"`},
		{"status 404", "GET", "/xhr/status/404", "", nil, 404, "Not Found"},
		{"status 500", "GET", "/xhr/status/500", "", nil, 500, "error"},
		{"status bad", "GET", "/xhr/status/abc", "", nil, 400, "status"},
		{"status 99", "GET", "/xhr/status/99", "", nil, 400, "status"},
		{"bytes", "GET", "/xhr/bytes?n=30", "", nil, 200, "abcdefghijklmnopqrstuvwxyzabcd"},
		{"bytes too many", "GET", "/xhr/bytes?n=999999999999", "", nil, 400, "n:"},
		{"slow", "GET", "/xhr/slow?delay=1", "", nil, 200, "slept"},
		{"xml", "GET", "/xhr/xml", "", nil, 200, "<note>"},
		{"stream", "GET", "/xhr/stream?n=3&interval=1", "", nil, 200, "3:message 3"},
		{"stream bad n", "GET", "/xhr/stream?n=x", "", nil, 400, "n:"},
		{"stream too long", "GET", "/xhr/stream?n=10000&interval=30000", "", nil, 400, "10 minutes"},
		{"bytes too slow", "GET", "/xhr/bytes?n=1000000&chunk=1&interval=1", "", nil, 400, "10 minutes"},
		{"auth missing", "GET", "/xhr/auth", "", nil, 401, "Basic"},
		{"auth ok", "GET", "/xhr/auth", "", []string{"Authorization", "Basic Y29tZXQ6c2VjcmV0"}, 200, "comet"},
		{"sink", "POST", "/xhr/sink", "12345", nil, 200, `"size":5`},
		{"sink over the body limit, under its own", "POST", "/xhr/sink", strings.Repeat("x", 1<<20+1), nil, 200, `"size":1048577`},
		{"sink too big", "POST", "/xhr/sink", strings.Repeat("x", 2<<20+1), nil, 413, "limit of 2097152 bytes"},
		{"echo keeps the general limit", "POST", "/xhr/echo", strings.Repeat("x", 1<<20+1), nil, 413, "limit of 1048576 bytes"},
		{"jsonp", "GET", "/jsonp?callback=a.b_c$", "", nil, 200, "a.b_c$({"},
		{"jsonp silent", "GET", "/jsonp?callback=cb&mode=silent", "", nil, 200, "no callback"},
		{"jsonp missing", "GET", "/jsonp", "", nil, 400, "callback"},
		{"jsonp injection", "GET", "/jsonp?callback=alert(1)//", "", nil, 400, "callback"},
		{"jsonp leading digit", "GET", "/jsonp?callback=1a", "", nil, 400, "callback"},
		{"jsonp empty segment", "GET", "/jsonp?callback=a..b", "", nil, 400, "callback"},
		{"jsonp too long", "GET", "/jsonp?callback=" + strings.Repeat("a", 200), "", nil, 400, "callback"},
		{"beacon gif", "GET", "/beacon.gif?tag=t1", "", nil, 200, "GIF89a"},
		{"beacon post", "POST", "/beacon?tag=t2", "bye", nil, 204, ""},
		{"beacon hits", "GET", "/beacon/hits?tag=t2", "", nil, 200, `"body":"bye"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, h, body := xdo(t, tt.method, ts.URL+tt.path, tt.body, tt.headers...)
			equal(t, "status", code, tt.want)
			if !strings.Contains(body, tt.contains) {
				t.Errorf("body %.200q lacks %q", body, tt.contains)
			}
			if code >= 400 {
				wantJSONError(t, tt.name, h, body)
			}
			if strings.HasPrefix(tt.path, "/jsonp") && code == 200 {
				equal(t, "Content-Type", h.Get("Content-Type"), "application/javascript; charset=utf-8")
				equal(t, "nosniff", h.Get("X-Content-Type-Options"), "nosniff")
			}
		})
	}
	// 204 and 304 have no body.
	for _, p := range []string{"/xhr/status/204", "/xhr/status/304"} {
		code, _, body := xdo(t, "GET", ts.URL+p, "")
		if body != "" || (code != 204 && code != 304) {
			t.Errorf("%s: %d %q", p, code, body)
		}
	}
	// Content-Length or chunked.
	_, h, _ := xdo(t, "GET", ts.URL+"/xhr/bytes?n=10", "")
	equal(t, "Content-Length", h.Get("Content-Length"), "10")
	_, h, _ = xdo(t, "GET", ts.URL+"/xhr/bytes?n=10&chunked=1", "")
	equal(t, "chunked has no Content-Length", h.Get("Content-Length"), "")
	_, h, _ = xdo(t, "GET", ts.URL+"/xhr/xml?as=plain", "")
	equal(t, "as=plain", h.Get("Content-Type"), "text/plain; charset=utf-8")
}

func TestCORSEndpoints(t *testing.T) {
	ts := newTestServer(t, nil)
	page := ts.URL // the page's origin calls the second origin
	tests := []struct {
		name, method, path string
		headers            []string
		want               int
		acao, creds, allow string
	}{
		{"simple", "GET", "/cors/simple", []string{"Origin", page}, 200, page, "", ""},
		{"simple other origin", "GET", "/cors/simple", []string{"Origin", "http://evil.example"}, 200, "", "", ""},
		{"denied", "GET", "/cors/denied", []string{"Origin", page}, 200, "", "", ""},
		{"preflight", "OPTIONS", "/cors/preflight", []string{"Origin", page, "Access-Control-Request-Method", "PUT", "Access-Control-Request-Headers", "x-comet-token"}, 204, page, "", "GET, PUT, DELETE"},
		{"preflight evil", "OPTIONS", "/cors/preflight", []string{"Origin", "http://evil.example", "Access-Control-Request-Method", "PUT"}, 403, "", "", ""},
		{"credentials", "GET", "/cors/whoami", []string{"Origin", page, "Cookie", "comet_cors=abc"}, 200, page, "true", ""},
		{"login bad value", "GET", "/cors/login?value=a;b", []string{"Origin", page}, 400, page, "true", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, h, body := xdo(t, tt.method, ts.URL2+tt.path, "", tt.headers...)
			equal(t, "status", code, tt.want)
			equal(t, "Allow-Origin", h.Get("Access-Control-Allow-Origin"), tt.acao)
			equal(t, "Allow-Credentials", h.Get("Access-Control-Allow-Credentials"), tt.creds)
			equal(t, "Allow-Methods", h.Get("Access-Control-Allow-Methods"), tt.allow)
			if !strings.Contains(strings.Join(h.Values("Vary"), ","), "Origin") {
				t.Errorf("no Vary: Origin: %v", h.Values("Vary"))
			}
			if tt.allow != "" {
				equal(t, "Max-Age", h.Get("Access-Control-Max-Age"), "600")
				equal(t, "Allow-Headers", h.Get("Access-Control-Allow-Headers"), "Content-Type, X-Comet-Token")
			}
			if tt.name == "credentials" && !strings.Contains(body, `"cookie":"abc"`) {
				t.Errorf("cookie not seen: %s", body)
			}
			if code >= 400 {
				wantJSONError(t, tt.name, h, body)
			}
		})
	}
	_, h, _ := xdo(t, "GET", ts.URL2+"/cors/simple", "", "Origin", page)
	equal(t, "Expose-Headers", h.Get("Access-Control-Expose-Headers"), "X-Comet-Info")
}

func TestUploadEndpoints(t *testing.T) {
	ts := newTestServer(t, nil)
	data := []byte("hello, resumable world")
	sum := sha256.Sum256(data)
	hexSum := hex.EncodeToString(sum[:])
	jsonCT := []string{"Content-Type", "application/json"}

	code, h, body := xdo(t, "POST", ts.URL+"/upload/", `{"size":22,"name":"a.txt"}`, jsonCT...)
	equal(t, "create", code, 201)
	var up struct {
		ID     string
		Offset int64
	}
	must(t, json.Unmarshal([]byte(body), &up))
	if len(up.ID) != 32 || h.Get("Location") != "/upload/"+up.ID {
		t.Fatalf("create: %s %v", body, h)
	}
	u := ts.URL + "/upload/" + up.ID
	cr := func(v string) []string { return []string{"Content-Range", v} }

	steps := []struct {
		name, method, url, body string
		headers                 []string
		want                    int
		contains                string
	}{
		{"offset 0", "GET", u, "", nil, 200, `"offset":0`},
		{"first chunk", "PUT", u, string(data[:10]), cr("bytes 0-9/22"), 200, `"offset":10`},
		{"wrong offset", "PUT", u, string(data[:5]), cr("bytes 0-4/22"), 409, `"offset":10`},
		{"past the size", "PUT", u, "0123456789abcdef", cr("bytes 10-25/22"), 413, "size"},
		{"wrong total", "PUT", u, "x", cr("bytes 10-10/99"), 400, "total"},
		{"bad range", "PUT", u, "x", cr("items 1-2"), 400, "Content-Range"},
		{"short body", "PUT", u, string(data[10:12]), cr("bytes 10-14/22"), 400, "body ended"}, // kept: offset 12
		{"finish early", "POST", u + "/finish", `{"sha256":"` + hexSum + `"}`, jsonCT, 409, "incomplete"},
		{"offset", "GET", u, "", nil, 200, `"offset":12`},
		{"rest", "PUT", u, string(data[12:]), cr("bytes 12-21/22"), 200, `"offset":22`},
		{"bad sum", "POST", u + "/finish", `{"sha256":"` + strings.Repeat("0", 64) + `"}`, jsonCT, 422, "mismatch"},
		{"short sum", "POST", u + "/finish", `{"sha256":"abc"}`, jsonCT, 400, "sha256"},
		{"finish", "POST", u + "/finish", `{"sha256":"` + hexSum + `"}`, jsonCT, 200, `"done":true`},
		{"after finish", "PUT", u, "x", cr("bytes 22-22/22"), 413, ""},
		{"list", "GET", ts.URL + "/upload/", "", nil, 200, up.ID},
		{"bad id", "GET", ts.URL + "/upload/..%2f..%2fetc", "", nil, 400, "id"},
		{"unknown id", "GET", ts.URL + "/upload/" + strings.Repeat("a", 32), "", nil, 404, "no such"},
		{"negative size", "POST", ts.URL + "/upload/", `{"size":-1}`, jsonCT, 400, "size"},
		{"huge size", "POST", ts.URL + "/upload/", `{"size":99999999999999}`, jsonCT, 413, "limit"},
		{"malformed", "POST", ts.URL + "/upload/", `{"size":`, jsonCT, 400, "malformed"},
	}
	for _, st := range steps {
		code, h, body := xdo(t, st.method, st.url, st.body, st.headers...)
		if code != st.want || !strings.Contains(body, st.contains) {
			t.Errorf("%s: %d %q, want %d containing %q", st.name, code, body, st.want, st.contains)
		}
		if code >= 400 {
			wantJSONError(t, st.name, h, body)
		}
	}
}

func TestUploadCutHook(t *testing.T) {
	jsonCT := []string{"Content-Type", "application/json"}
	off := newTestServer(t, func(c *config) { c.TestHooks = false })
	code, _, _ := xdo(t, "POST", off.URL+"/test/upload/"+strings.Repeat("a", 32)+"/cut", `{"at":[1]}`, jsonCT...)
	if code != 404 && code != 405 {
		t.Errorf("hook without TestHooks: %d, want 404 or 405", code)
	}

	ts := newTestServer(t, nil)
	_, _, body := xdo(t, "POST", ts.URL+"/upload/", `{"size":10}`, jsonCT...)
	var up struct{ ID string }
	must(t, json.Unmarshal([]byte(body), &up))
	code, _, _ = xdo(t, "POST", ts.URL+"/test/upload/"+up.ID+"/cut", `{"at":[4]}`, jsonCT...)
	equal(t, "set cut", code, 200)
	req, err := http.NewRequest("PUT", ts.URL+"/upload/"+up.ID, strings.NewReader("0123456789"))
	must(t, err)
	req.Header.Set("Content-Range", "bytes 0-9/10")
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	if resp, err := (&http.Client{Transport: tr}).Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("cut chunk answered %d, want a dropped connection", resp.StatusCode)
	}
	_, _, body = xdo(t, "GET", ts.URL+"/upload/"+up.ID, "")
	if !strings.Contains(body, `"offset":4`) {
		t.Fatalf("after the cut: %s, want offset 4", body)
	}
	code, _, body = xdo(t, "PUT", ts.URL+"/upload/"+up.ID, "456789", "Content-Range", "bytes 4-9/10")
	if code != 200 || !strings.Contains(body, `"offset":10`) {
		t.Fatalf("resume: %d %s", code, body)
	}
}

func TestUploadEvictsOldest(t *testing.T) {
	ts := newTestServer(t, nil)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	var first string
	for i := range maxUploads + 1 {
		resp, err := c.Post(ts.URL+"/upload/", "application/json", strings.NewReader(`{"size":1}`))
		must(t, err)
		var up struct{ ID string }
		must(t, json.NewDecoder(resp.Body).Decode(&up))
		resp.Body.Close()
		if resp.StatusCode != 201 {
			t.Fatalf("create %d: %d", i, resp.StatusCode)
		}
		if i == 0 {
			first = up.ID
		}
	}
	code, _, _ := xdo(t, "GET", ts.URL+"/upload/"+first, "")
	equal(t, "oldest upload after the cap", code, 404)
}
