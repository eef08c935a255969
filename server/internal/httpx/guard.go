//go:build !js

package httpx

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Guard holds the limits that hold for every endpoint, whatever its
// handler does. The zero value of a field turns its limit off.
type Guard struct {
	// MaxBody limits request bodies in bytes (413).
	MaxBody int64
	// BodyReadTimeout bounds reading one request body, so a client
	// trickling a body cannot hold a goroutine forever (408).
	BodyReadTimeout time.Duration
	// WriteTimeout bounds writing one ordinary response, so a client that
	// stops reading cannot hold a handler and its buffers forever. Streams
	// clear it and set their own per-write deadline.
	WriteTimeout time.Duration
}

// MaxURLBytes bounds path plus query (414); MaxHeaderBytes bounds the rest.
const MaxURLBytes = 8 << 10

// Check applies g to r before its handler runs, with limit (if positive)
// instead of g.MaxBody:
//
//   - a URL over MaxURLBytes of path and query gets 414;
//   - a body over the limit by Content-Length gets 413 at once, and any
//     body is cut at that size (handlers see a *http.MaxBytesError and
//     answer 413 through ReadBody/DecodeJSON);
//   - a body must arrive within BodyReadTimeout;
//   - the response must be written within WriteTimeout.
//
// WebSocket upgrades get no deadline: a hijacked connection would keep it.
// It reports false when it has answered.
func (g Guard) Check(w http.ResponseWriter, r *http.Request, limit int64) bool {
	if len(r.URL.RawPath)+len(r.URL.Path)+len(r.URL.RawQuery) > MaxURLBytes {
		WriteError(w, http.StatusRequestURITooLong, fmt.Sprintf("URL over %d bytes", MaxURLBytes))
		return false
	}
	if limit <= 0 {
		limit = g.MaxBody
	}
	if limit > 0 && r.ContentLength > limit {
		// Close the connection: the unread body must not be parsed as the
		// next request.
		w.Header().Set("Connection", "close")
		WriteError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body over the limit of %d bytes", limit))
		return false
	}
	rc := http.NewResponseController(w)
	upgrade := IsUpgrade(r)
	if r.Body != nil && r.Body != http.NoBody {
		if limit > 0 {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		if g.BodyReadTimeout > 0 && !upgrade {
			rc.SetReadDeadline(time.Now().Add(g.BodyReadTimeout))
		}
	}
	if g.WriteTimeout > 0 && !upgrade {
		rc.SetWriteDeadline(time.Now().Add(g.WriteTimeout))
	}
	return true
}

// IsUpgrade reports whether r asks to switch protocols (WebSocket).
func IsUpgrade(r *http.Request) bool {
	for _, v := range r.Header.Values("Connection") {
		for _, tok := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return true
			}
		}
	}
	return false
}
