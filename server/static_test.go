//go:build !js

package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHealthz(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	resp, body := get(t, ts.URL+"/healthz")
	equal(t, "status", resp.StatusCode, http.StatusOK)
	if !strings.Contains(string(body), `"ok":true`) || !strings.Contains(string(body), ts.URL2) {
		t.Errorf("healthz body %s lacks ok and the second origin", body)
	}
	// The second origin serves the same API.
	resp, _ = get(t, ts.URL2+"/healthz")
	equal(t, "second origin status", resp.StatusCode, http.StatusOK)
}

func TestStaticFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	wasm := bytes.Repeat([]byte("\x00asm wasm bytes "), 4096)
	files := map[string]string{
		"index.html":     "<!doctype html><p>page</p>",
		"app.wasm":       string(wasm),
		"app.wasm.br":    "pretend-brotli",
		"sub/index.html": "<p>sub</p>",
		".secret":        "hidden",
		"sub/.env":       "hidden",
		"style.css":      "body{}",
	}
	for name, data := range files {
		must(t, os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755))
		must(t, os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644))
	}
	must(t, os.Mkdir(filepath.Join(dir, "empty"), 0o755))
	outside := filepath.Join(t.TempDir(), "outside.txt")
	must(t, os.WriteFile(outside, []byte("outside"), 0o644))
	must(t, os.Symlink(outside, filepath.Join(dir, "link.txt")))
	ts := newTestServer(t, func(c *config) { c.PublicDir = dir })

	tests := []struct {
		name, path, acceptEncoding string
		status                     int
		ctype, encoding, body      string
	}{
		{"index", "/", "", 200, "text/html; charset=utf-8", "", "<!doctype html><p>page</p>"},
		{"css", "/style.css", "", 200, "text/css; charset=utf-8", "", "body{}"},
		{"wasm plain", "/app.wasm", "", 200, "application/wasm", "", string(wasm)},
		{"wasm brotli", "/app.wasm", "gzip, deflate, br", 200, "application/wasm", "br", "pretend-brotli"},
		{"wasm gzip on the fly", "/app.wasm", "gzip", 200, "application/wasm", "gzip", string(wasm)},
		{"wasm br refused by q=0", "/app.wasm", "br;q=0, gzip", 200, "application/wasm", "gzip", string(wasm)},
		{"sub index", "/sub/", "", 200, "text/html; charset=utf-8", "", "<p>sub</p>"},
		{"no listing", "/empty/", "", 404, "", "", ""},
		{"dotfile", "/.secret", "", 404, "", "", ""},
		{"nested dotfile", "/sub/.env", "", 404, "", "", ""},
		{"traversal", "/../outside.txt", "", 404, "", "", ""},
		{"encoded traversal", "/%2e%2e/outside.txt", "", 404, "", "", ""},
		{"symlink out of the folder", "/link.txt", "", 404, "", "", ""},
		{"missing", "/nope.js", "", 404, "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, ts.URL+tc.path, "Accept-Encoding", tc.acceptEncoding)
			equal(t, "status", resp.StatusCode, tc.status)
			if tc.status != 200 {
				return
			}
			equal(t, "Content-Type", resp.Header.Get("Content-Type"), tc.ctype)
			equal(t, "Content-Encoding", resp.Header.Get("Content-Encoding"), tc.encoding)
			if tc.encoding == "gzip" {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				must(t, err)
				body, err = io.ReadAll(zr)
				must(t, err)
			}
			if string(body) != tc.body {
				t.Errorf("body: got %d bytes, want %d", len(body), len(tc.body))
			}
			if strings.HasSuffix(tc.path, ".wasm") {
				equal(t, "Vary", resp.Header.Get("Vary"), "Accept-Encoding")
			}
			if strings.HasSuffix(tc.path, "/") {
				csp := resp.Header.Get("Content-Security-Policy")
				if !strings.Contains(csp, "'wasm-unsafe-eval'") || strings.Contains(csp, "unsafe-inline") {
					t.Errorf("page CSP %q: want wasm-unsafe-eval and no unsafe-inline", csp)
				}
			}
			equal(t, "X-Content-Type-Options", resp.Header.Get("X-Content-Type-Options"), "nosniff")
		})
	}
}

func TestAcceptedEncodings(t *testing.T) {
	t.Parallel()
	got := acceptedEncodings("gzip;q=1.0, br; q=0, identity, *;q=0.5")
	if !got["gzip"] || got["br"] || !got["identity"] || !got["*"] {
		t.Errorf("acceptedEncodings = %v", got)
	}
}
