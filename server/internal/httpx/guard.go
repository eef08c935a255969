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
	// WebSocketRoute reports whether r is for a route that serves
	// WebSocket. Only a real upgrade (IsWebSocket) to such a route is
	// exempt from the deadlines: a "Connection: Upgrade" header alone
	// must not turn them off. Nil: no route is.
	WebSocketRoute func(r *http.Request) bool
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
// WebSocket upgrades (IsWebSocket, to a route g.WebSocketRoute accepts)
// get no deadline: a hijacked connection would keep it. It reports false
// when it has answered.
func (g Guard) Check(w http.ResponseWriter, r *http.Request, limit int64) bool {
	if len(r.URL.RawPath)+len(r.URL.Path)+len(r.URL.RawQuery) > MaxURLBytes {
		WriteError(w, http.StatusRequestURITooLong, fmt.Sprintf("URL over %d bytes", MaxURLBytes))
		return false
	}
	if len(r.TransferEncoding) > 0 {
		// RFC 9112 §6.3: after a request with both Transfer-Encoding and
		// Content-Length the server MUST close the connection (smuggling).
		// net/http drops such a Content-Length before the handler runs,
		// so every request with a Transfer-Encoding closes it: bytes after
		// its body are never read as another request.
		w.Header().Set("Connection", "close")
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
	upgrade := g.WebSocketRoute != nil && IsWebSocket(r) && g.WebSocketRoute(r)
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

// IsUpgrade reports whether r asks to switch protocols (a "Connection:
// upgrade" token).
func IsUpgrade(r *http.Request) bool { return hasToken(r.Header.Values("Connection"), "upgrade") }

// IsWebSocket reports whether r is a WebSocket opening handshake: a GET
// with "Connection: upgrade" and "Upgrade: websocket" (RFC 6455 §4.1), and
// no body.
func IsWebSocket(r *http.Request) bool {
	return r.Method == http.MethodGet && IsUpgrade(r) && hasToken(r.Header.Values("Upgrade"), "websocket") &&
		(r.Body == nil || r.Body == http.NoBody)
}

// hasToken reports whether the comma-separated values hold tok (ASCII
// case-insensitive).
func hasToken(values []string, tok string) bool {
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), tok) {
				return true
			}
		}
	}
	return false
}
