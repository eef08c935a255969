//go:build !js

package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cometwasm/comet/server/internal/httpx"
)

// staticFiles serves PublicDir. It never lists a folder, never serves a
// dotfile, and never leaves the folder (os.Root refuses escapes, symlinks
// included). .wasm is served as application/wasm, compressed when the
// client accepts it: a precompressed .br or .gz beside the file wins,
// otherwise it is gzipped once and kept in memory.
type staticFiles struct {
	dir  string
	page func(h http.Header) // headers for HTML pages (the page policy)

	mu      sync.Mutex
	gzipped map[string]gzipEntry
}

type gzipEntry struct {
	modTime time.Time
	size    int64
	data    []byte
}

func (s *server) staticHandler() http.Handler {
	return &staticFiles{dir: s.cfg.PublicDir, page: s.pageHeaders, gzipped: map[string]gzipEntry{}}
}

// pageHeaders sets the policy for HTML pages (see pagePolicy) and their
// Referrer-Policy; ServeHTTP adds nosniff to every response. API answers
// carry no Referrer-Policy: it governs documents, and costs every poll.
func (s *server) pageHeaders(h http.Header) {
	h.Set("Content-Security-Policy", s.pagePolicy())
	h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
}

// pagePolicy is the Content-Security-Policy of every page:
//
//   - scripts only from our origins (JSONP loads from the others), and
//     the wasm may compile ('wasm-unsafe-eval'); no inline script, no eval;
//   - fetch, XHR, EventSource and WebSocket only to our origins;
//   - frames: a page may embed our origins (the postMessage demo embeds
//     the second origin), and may itself be framed only by the page's
//     origin (frame-ancestors), which is all that demo needs;
//   - no plugins, no <base> rewriting, forms post only to our origins.
func (s *server) pagePolicy() string {
	others := strings.Join(s.origins.List(), " ")
	var wsOthers []string
	for _, o := range s.origins.List() {
		if rest, ok := strings.CutPrefix(o, "http://"); ok {
			wsOthers = append(wsOthers, "ws://"+rest)
		} else if rest, ok := strings.CutPrefix(o, "https://"); ok {
			wsOthers = append(wsOthers, "wss://"+rest)
		}
	}
	ancestors := "'self'"
	if s.cfg.PageOrigin != "" {
		ancestors = s.cfg.PageOrigin
	}
	return strings.Join([]string{
		"default-src 'self'",
		"script-src 'self' 'wasm-unsafe-eval' " + others,
		"connect-src 'self' " + others + " " + strings.Join(wsOthers, " "),
		"img-src 'self' data: blob: " + others,
		"style-src 'self'",
		"frame-src 'self' " + others,
		"frame-ancestors " + ancestors,
		"object-src 'none'",
		"base-uri 'none'",
		"form-action 'self' " + others,
	}, "; ")
}

func (f *staticFiles) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := path.Clean("/" + r.URL.Path)
	if strings.HasSuffix(r.URL.Path, "/") {
		name = path.Join(name, "index.html")
	}
	rel := strings.TrimPrefix(name, "/")
	for _, seg := range strings.Split(rel, "/") {
		if strings.HasPrefix(seg, ".") {
			http.NotFound(w, r)
			return
		}
	}
	root, err := os.OpenRoot(f.dir)
	if err != nil {
		httpx.WriteError(w, http.StatusInternalServerError, "public folder missing")
		return
	}
	defer root.Close()
	file, info, ok := openRegular(root, rel)
	if !ok {
		http.NotFound(w, r)
		return
	}
	defer file.Close()

	h := w.Header()
	h.Set("Cache-Control", "no-cache")
	ctype := mime.TypeByExtension(path.Ext(rel))
	switch path.Ext(rel) {
	case ".wasm":
		ctype = "application/wasm"
	case ".html":
		f.page(h)
	}
	if ctype != "" {
		h.Set("Content-Type", ctype)
	}
	if path.Ext(rel) != ".wasm" {
		serveContent(w, r, rel, info.ModTime(), file)
		return
	}

	h.Set("Vary", "Accept-Encoding")
	h.Set("X-Decoded-Length", strconv.FormatInt(info.Size(), 10)) // for the loader's progress bar
	accepts := acceptedEncodings(r.Header.Get("Accept-Encoding"))
	for _, enc := range []struct{ name, ext string }{{"br", ".br"}, {"gzip", ".gz"}} {
		if !accepts[enc.name] {
			continue
		}
		if cf, cinfo, ok := openRegular(root, rel+enc.ext); ok {
			defer cf.Close()
			h.Set("Content-Encoding", enc.name)
			serveContent(w, r, rel, cinfo.ModTime(), cf)
			return
		}
	}
	if accepts["gzip"] {
		data, err := f.gzip(rel, info, file)
		if err == nil {
			h.Set("Content-Encoding", "gzip")
			serveContent(w, r, rel, info.ModTime(), bytes.NewReader(data))
			return
		}
		file.Seek(0, io.SeekStart)
	}
	serveContent(w, r, rel, info.ModTime(), file)
}

// openRegular opens rel inside root if it is a regular file.
func openRegular(root *os.Root, rel string) (*os.File, fs.FileInfo, bool) {
	file, err := root.Open(rel)
	if err != nil {
		return nil, nil, false
	}
	info, err := file.Stat()
	if err != nil || !info.Mode().IsRegular() {
		file.Close()
		return nil, nil, false
	}
	return file, info, true
}

// gzip compresses a file once per modification and keeps the result.
func (f *staticFiles) gzip(rel string, info fs.FileInfo, r io.Reader) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if e, ok := f.gzipped[rel]; ok && e.modTime.Equal(info.ModTime()) && e.size == info.Size() {
		return e.data, nil
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if _, err := io.Copy(zw, r); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	f.gzipped[rel] = gzipEntry{modTime: info.ModTime(), size: info.Size(), data: buf.Bytes()}
	return buf.Bytes(), nil
}

// acceptedEncodings parses Accept-Encoding, leaving out codings with q=0.
func acceptedEncodings(header string) map[string]bool {
	out := map[string]bool{}
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "" {
			continue
		}
		if q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q="); ok {
			if v, err := strconv.ParseFloat(q, 64); err == nil && v == 0 {
				continue
			}
		}
		out[name] = true
	}
	return out
}

// serveContent is http.ServeContent without its one lapse: a suffix range
// of length 0 ("bytes=-0") is unsatisfiable (RFC 9110 §14.1.1), where
// net/http answers 206 with an inverted Content-Range. Such specs are
// dropped; when none is left the answer is 416.
func serveContent(w http.ResponseWriter, r *http.Request, name string, mod time.Time, content io.ReadSeeker) {
	if spec, ok := strings.CutPrefix(r.Header.Get("Range"), "bytes="); ok {
		var keep []string
		for _, part := range strings.Split(spec, ",") {
			p := strings.TrimSpace(part)
			if zeroSuffix := len(p) > 1 && p[0] == '-' && strings.Trim(p[1:], "0") == ""; !zeroSuffix {
				keep = append(keep, part)
			}
		}
		if len(keep) == 0 {
			size, err := content.Seek(0, io.SeekEnd)
			if err != nil {
				httpx.WriteError(w, http.StatusInternalServerError, "seek: "+err.Error())
				return
			}
			w.Header().Set("Content-Range", "bytes */"+strconv.FormatInt(size, 10))
			httpx.WriteError(w, http.StatusRequestedRangeNotSatisfiable, "range: a suffix of 0 bytes is unsatisfiable")
			return
		}
		r.Header.Set("Range", "bytes="+strings.Join(keep, ","))
	}
	http.ServeContent(w, r, name, mod, content)
}
