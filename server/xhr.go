//go:build !js

package main

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cometwasm/comet/server/internal/httpx"
)

// Limits of the XHR test endpoints.
const (
	maxBytesN     = 64 << 20 // /xhr/bytes
	maxDelay      = 30 * time.Second
	maxStreamMsgs = 10000
	maxStreamTime = 10 * time.Minute // /xhr/bytes at a rate, /xhr/stream
)

// routesXHR registers Ajax, CORS, JSONP, beacon and upload endpoints (issue: wasm/xhr).
func (s *server) routesXHR() error {
	// Seed 001: ajax_intro_data.txt, ajax2 (GET/POST/PUT/DELETE),
	// ajax3 (delayed), ajax4 (POST JSON echoed).
	s.mux.HandleFunc("GET /api/text", s.handleXHRText)
	for _, m := range []string{"GET", "POST", "PUT", "DELETE"} {
		s.mux.HandleFunc(m+" /api/ajax2", s.handleAjax2)
	}
	s.mux.HandleFunc("GET /api/ajax3", s.handleAjax3)
	s.mux.HandleFunc("POST /api/ajax4", s.handleAjax4)

	// Test endpoints; they answer CORS preflights too.
	s.handleMethods("/xhr/echo", s.handleXHREcho, "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
	s.handleMethods("/xhr/status/{code}", s.handleXHRStatus, "GET", "POST", "PUT")
	s.handleMethods("/xhr/bytes", s.handleXHRBytes, "GET")
	s.handleMethods("/xhr/slow", s.handleXHRSlow, "GET")
	s.mux.HandleFunc("GET /xhr/xml", s.handleXHRXML)
	s.handleMethods("/xhr/stream", s.handleXHRStream, "GET")
	s.mux.HandleFunc("GET /xhr/auth", s.handleXHRAuth)
	s.handleMethods("/xhr/sink", s.handleXHRSink, "POST", "PUT")
	s.bodyLimits["POST /xhr/sink"] = s.cfg.MaxBulkBytes
	s.bodyLimits["PUT /xhr/sink"] = s.cfg.MaxBulkBytes

	for _, add := range []func() error{s.routesCORS, s.routesJSONP, s.routesBeacon, s.routesUpload} {
		if err := add(); err != nil {
			return err
		}
	}
	return nil
}

// xhrCORS lets the second origin (and any trusted one) call the test
// endpoints, with the methods and headers the tests use.
var xhrCORS = httpx.CORSOptions{
	Methods:     []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"},
	Headers:     []string{"Content-Type", "X-Comet-Token", "X-Requested-With"},
	Expose:      []string{"X-Comet-Info", "Content-Length"},
	Credentials: true,
}

func (s *server) handleXHRText(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprint(w, "Hello, Ajax! This text came from the server without reloading the page.\n")
}

var ajax2Des = map[string]string{
	"GET":    "this data came from a GET call",
	"POST":   "this data came from a POST call",
	"PUT":    "this data came from a PUT call",
	"DELETE": "this data came from a DELETE call",
}

func (s *server) handleAjax2(w http.ResponseWriter, r *http.Request) {
	httpx.WriteJSON(w, http.StatusOK, map[string]string{"method": strings.ToLower(r.Method), "des": ajax2Des[r.Method]})
}

// xhrQueryDuration reads a millisecond parameter: default def, at most max.
func xhrQueryDuration(w http.ResponseWriter, r *http.Request, name string, def time.Duration) (time.Duration, bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, true
	}
	ms, err := strconv.Atoi(v)
	if err != nil || ms < 0 || int64(ms) > maxDelay.Milliseconds() { // before multiplying: no overflow
		httpx.WriteError(w, http.StatusBadRequest, fmt.Sprintf("%s: want milliseconds from 0 to %d", name, maxDelay.Milliseconds()))
		return 0, false
	}
	return time.Duration(ms) * time.Millisecond, true
}

// xhrQueryInt reads an integer parameter within [min, max].
func xhrQueryInt(w http.ResponseWriter, r *http.Request, name string, def, min, max int64) (int64, bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, true
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < min || n > max {
		httpx.WriteError(w, http.StatusBadRequest, fmt.Sprintf("%s: want an integer from %d to %d", name, min, max))
		return 0, false
	}
	return n, true
}

// xhrSleep waits d, or less if the client leaves or the server closes.
func (s *server) xhrSleep(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	case <-s.ctx.Done():
		return false
	}
}

func (s *server) handleAjax3(w http.ResponseWriter, r *http.Request) {
	d, ok := xhrQueryDuration(w, r, "delay", 2*time.Second)
	if !ok || !s.xhrSleep(r, d) {
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]string{"method": "get", "des": "this data came from a GET call, after a delay"})
}

func (s *server) handleAjax4(w http.ResponseWriter, r *http.Request) {
	var in struct {
		ID      string `json:"id"`
		Content string `json:"content"`
	}
	if !httpx.DecodeJSON(w, r, s.cfg.MaxBodyBytes, &in) {
		return
	}
	httpx.WriteJSON(w, http.StatusOK, in)
}

// handleXHREcho reflects the method, headers, query and body as JSON.
func (s *server) handleXHREcho(w http.ResponseWriter, r *http.Request) {
	if s.cors(w, r, xhrCORS) {
		return
	}
	body, ok := httpx.ReadBody(w, r, s.cfg.MaxBodyBytes)
	if !ok {
		return
	}
	w.Header().Set("X-Comet-Info", "echo")
	headers := map[string]string{}
	for k, v := range r.Header {
		headers[k] = strings.Join(v, ", ")
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{
		"method":   r.Method,
		"path":     r.URL.Path,
		"rawQuery": r.URL.RawQuery,
		"query":    r.URL.Query(),
		"headers":  headers,
		"body":     string(body),
		"body64":   base64.StdEncoding.EncodeToString(body),
		"size":     len(body),
	})
}

// handleXHRStatus answers with the status in the path.
func (s *server) handleXHRStatus(w http.ResponseWriter, r *http.Request) {
	if s.cors(w, r, xhrCORS) {
		return
	}
	code, err := strconv.Atoi(r.PathValue("code"))
	if err != nil || code < 200 || code > 599 {
		httpx.WriteError(w, http.StatusBadRequest, "status: want a code from 200 to 599")
		return
	}
	switch {
	case code == http.StatusNoContent || code == http.StatusNotModified:
		w.WriteHeader(code)
	case code >= 300 && code < 400:
		w.Header().Set("Location", "/xhr/echo?redirected=1")
		httpx.WriteJSON(w, code, map[string]int{"status": code})
	case code >= 400:
		httpx.WriteError(w, code, http.StatusText(code))
	default:
		httpx.WriteJSON(w, code, map[string]int{"status": code})
	}
}

// handleXHRBytes sends n bytes (byte i is 'a'+i%26), in chunks of chunk
// bytes, one every interval ms; chunked=1 omits Content-Length.
func (s *server) handleXHRBytes(w http.ResponseWriter, r *http.Request) {
	if s.cors(w, r, xhrCORS) {
		return
	}
	n, ok := xhrQueryInt(w, r, "n", 1024, 0, maxBytesN)
	if !ok {
		return
	}
	chunk, ok := xhrQueryInt(w, r, "chunk", 64<<10, 1, 1<<20) // one buffer per request: keep it small
	if !ok {
		return
	}
	interval, ok := xhrQueryDuration(w, r, "interval", 0)
	if !ok {
		return
	}
	if interval > 0 && (n/chunk)*int64(interval) > int64(maxStreamTime) {
		httpx.WriteError(w, http.StatusBadRequest, "n/chunk×interval: the answer would last over 10 minutes")
		return
	}
	if interval > 0 {
		release, ok := s.streams.Acquire(w, r)
		if !ok {
			return
		}
		defer release()
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Cache-Control", "no-store")
	if r.URL.Query().Get("chunked") != "1" {
		h.Set("Content-Length", strconv.FormatInt(n, 10))
	}
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if h.Get("Content-Length") == "" {
		rc.Flush() // headers out now: the body is chunked even if small
	}
	buf := make([]byte, min(chunk, n))
	for sent := int64(0); sent < n; {
		m := min(int64(len(buf)), n-sent)
		for i := range m {
			buf[i] = byte('a' + (sent+i)%26)
		}
		if interval > 0 { // a paced stream: bound each write, not the whole
			rc.SetWriteDeadline(time.Now().Add(s.cfg.StreamWriteTimeout))
		}
		if _, err := w.Write(buf[:m]); err != nil {
			return
		}
		sent += m
		if interval > 0 && sent < n {
			rc.Flush()
			if !s.xhrSleep(r, interval) {
				return
			}
		}
	}
}

// handleXHRSlow answers after delay ms (default 10 s): for timeouts.
func (s *server) handleXHRSlow(w http.ResponseWriter, r *http.Request) {
	if s.cors(w, r, xhrCORS) {
		return
	}
	d, ok := xhrQueryDuration(w, r, "delay", 10*time.Second)
	if !ok {
		return
	}
	release, ok := s.streams.Acquire(w, r)
	if !ok {
		return
	}
	defer release()
	if !s.xhrSleep(r, d) {
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"slept": d.Milliseconds()})
}

const noteXML = `<?xml version="1.0" encoding="UTF-8"?>
<note><to>Go</to><from>XHR</from><body>Hello from XML</body></note>
`

// handleXHRXML serves a small XML document as text/xml, or as text/plain
// with as=plain (for overrideMimeType).
func (s *server) handleXHRXML(w http.ResponseWriter, r *http.Request) {
	ct := "text/xml; charset=utf-8"
	if r.URL.Query().Get("as") == "plain" {
		ct = "text/plain; charset=utf-8"
	}
	w.Header().Set("Content-Type", ct)
	fmt.Fprint(w, noteXML)
}

// handleXHRStream flushes n framed messages "<seq>:<text>\n", one every
// interval ms (default 20): HTTP streaming over one XHR.
func (s *server) handleXHRStream(w http.ResponseWriter, r *http.Request) {
	if s.cors(w, r, xhrCORS) {
		return
	}
	n, ok := xhrQueryInt(w, r, "n", 10, 0, maxStreamMsgs)
	if !ok {
		return
	}
	interval, ok := xhrQueryDuration(w, r, "interval", 20*time.Millisecond)
	if !ok {
		return
	}
	if n*int64(interval) > int64(maxStreamTime) {
		httpx.WriteError(w, http.StatusBadRequest, "n×interval: the stream would last over 10 minutes")
		return
	}
	release, ok := s.streams.Acquire(w, r)
	if !ok {
		return
	}
	defer release()
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	rc.Flush()
	for i := int64(1); i <= n; i++ {
		if _, err := fmt.Fprintf(w, "%d:message %d ✓\n", i, i); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
		if i < n && !s.xhrSleep(r, interval) {
			return
		}
	}
}

// handleXHRAuth wants Basic auth with user "comet" and password "secret".
// challenge=0 omits WWW-Authenticate, so a browser shows no login dialog.
func (s *server) handleXHRAuth(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	if !ok || user != "comet" || pass != "secret" {
		if r.URL.Query().Get("challenge") != "0" {
			w.Header().Set("WWW-Authenticate", `Basic realm="comet"`)
		}
		httpx.WriteError(w, http.StatusUnauthorized, "want Basic auth comet:secret")
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]string{"user": user})
}

// handleXHRSink reads a body (up to MaxBulkBytes), discarding it, and
// reports its size.
func (s *server) handleXHRSink(w http.ResponseWriter, r *http.Request) {
	if s.cors(w, r, xhrCORS) {
		return
	}
	n, err := io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, s.cfg.MaxBulkBytes))
	if err != nil {
		httpx.WriteBodyError(w, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]int64{"size": n})
}
