//go:build !js

package main

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// guard runs before every handler (from ServeHTTP). It enforces the limits
// that hold for every endpoint, whatever the handler does:
//
//   - a body over cfg.MaxBodyBytes, or the route's own limit in
//     s.bodyLimits (by Content-Length), gets 413 at once,
//     and any body is cut at that size (handlers see a *http.MaxBytesError
//     and answer 413 through readBody/decodeJSON);
//   - a request with a body must deliver it within cfg.BodyReadTimeout,
//     so a client trickling a body cannot hold a goroutine forever (the
//     body counterpart of ReadHeaderTimeout);
//   - writing the response must end within cfg.WriteTimeout, so a client
//     that stops reading (zero window) cannot hold a handler and its
//     buffers forever; streams replace this by a per-write deadline;
//   - a URL over 8 KiB of path and query gets 414.
//
// WebSocket upgrades get no deadline: a hijacked connection would keep it.
// It reports false when it has answered.
func (s *server) guard(w http.ResponseWriter, r *http.Request) bool {
	if len(r.URL.RawPath)+len(r.URL.Path)+len(r.URL.RawQuery) > maxURLBytes {
		writeError(w, http.StatusRequestURITooLong, fmt.Sprintf("URL over %d bytes", maxURLBytes))
		return false
	}
	limit := s.cfg.MaxBodyBytes
	if len(s.bodyLimits) > 0 {
		if _, pattern := s.mux.Handler(r); pattern != "" {
			if l, ok := s.bodyLimits[pattern]; ok {
				limit = l
			}
		}
	}
	if r.ContentLength > limit {
		// Close the connection: the unread body must not be parsed as the
		// next request.
		w.Header().Set("Connection", "close")
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body over the limit of %d bytes", limit))
		return false
	}
	rc := http.NewResponseController(w)
	upgrade := isUpgrade(r)
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		if s.cfg.BodyReadTimeout > 0 && !upgrade {
			rc.SetReadDeadline(time.Now().Add(s.cfg.BodyReadTimeout))
		}
	}
	if s.cfg.WriteTimeout > 0 && !upgrade {
		rc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
	}
	return true
}

// maxURLBytes bounds path plus query; MaxHeaderBytes bounds the rest.
const maxURLBytes = 8 << 10

// isUpgrade reports whether r asks to switch protocols (WebSocket).
func isUpgrade(r *http.Request) bool {
	for _, v := range r.Header.Values("Connection") {
		for _, tok := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return true
			}
		}
	}
	return false
}
